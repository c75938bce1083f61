// The `teams:` section of a swarm file: hierarchical delegation. A team has
// one lead and its members (agents by id, or every agent of some roles); the
// lead's handlers delegate to the team (`ctx.team().call(...)`), and those
// tasks reach the members only (`<swarm>.team.<team>.<role>.<task>`).
import { z } from "zod";
import { isRecord, pattern } from "./fields.js";
import { didYouMean } from "./messages.js";

/** One team, as built: who leads it and who is in it. */
export interface TeamConfig {
  /** The agent whose handlers may delegate to the team. */
  readonly lead: string;
  /** Members by agent id (a pooled template's workers are members with it). */
  readonly members: readonly string[];
  /** Members by role: every agent of these roles, pool workers included. */
  readonly roles: readonly string[];
}

/** A team's name: one subject token (no dots), part of its queue names (no `_`: it separates the role there). */
export const TEAM_NAME = /^[a-z][a-z0-9-]{0,31}$/;

const agentId = z.string().min(1).max(128);

/** The section as written. */
export const teamsSchema = z
  .record(
    pattern(
      TEAM_NAME,
      "a team name: lowercase letters, digits or '-', starting with a letter, at most 32",
    ),
    z.strictObject({
      lead: agentId.describe(
        "The agent that leads the team: its handlers delegate to the team's members.",
      ),
      members: z
        .array(agentId)
        .default([])
        .describe("Members by agent id; a pooled template's workers are members with it."),
      roles: z
        .array(z.string().min(1))
        .default([])
        .describe("Members by role: every agent of these roles, pool workers included."),
    }),
  )
  .default({})
  .describe(
    "Teams for hierarchical delegation, e.g. research: { lead: lead-1, members: [r-1, r-2] }: the lead's handlers delegate to the team (ctx.team().call), and those tasks go to its members only. A lead may be a member of another team (nesting).",
  );

type Issue = { path: (string | number)[]; message: string };

/**
 * Cross-field checks: leads, members and roles exist; each agent is in at
 * most one team and does not lead a team it is in; a team has members; the
 * nesting (a lead that is a member of a higher team) has no cycle.
 */
export function checkTeams(
  teams: unknown,
  agents: unknown,
  roles: unknown,
  addIssue: (issue: Issue) => void,
): void {
  if (!isRecord(teams) || !Array.isArray(agents) || !isRecord(roles)) return;
  const roleOf = new Map<string, string>();
  for (const a of agents) {
    if (isRecord(a) && typeof a["id"] === "string" && typeof a["role"] === "string") {
      roleOf.set(a["id"], a["role"]);
    }
  }
  const ids = [...roleOf.keys()];
  /** The team each agent is a member of, for the "one team each" rule. */
  const teamOf = new Map<string, string>();
  for (const [name, team] of Object.entries(teams)) {
    if (!isRecord(team)) continue;
    const at = (...rest: (string | number)[]) => ["teams", name, ...rest];
    const lead = team["lead"];
    if (typeof lead === "string" && !roleOf.has(lead)) {
      addIssue({
        path: at("lead"),
        message: `no agent "${lead}" is declared${didYouMean(lead, ids)}; a team's lead is one of the agents`,
      });
    }
    const members = Array.isArray(team["members"]) ? team["members"] : [];
    const memberRoles = Array.isArray(team["roles"]) ? team["roles"] : [];
    if (members.length === 0 && memberRoles.length === 0) {
      addIssue({
        path: at(),
        message: `team "${name}" has no members; list agents under members, or roles whose agents are members`,
      });
    }
    const join = (id: string, where: (string | number)[]) => {
      if (id === lead) {
        addIssue({
          path: where,
          message: `"${id}" leads team "${name}" and cannot be one of its members; a lead delegates to its team, it does not take the team's tasks`,
        });
        return;
      }
      const other = teamOf.get(id);
      if (other !== undefined && other !== name) {
        addIssue({
          path: where,
          message: `agent "${id}" is already a member of team "${other}"; an agent is in one team at most (a lead may lead several)`,
        });
        return;
      }
      teamOf.set(id, name);
    };
    members.forEach((id, i) => {
      if (typeof id !== "string") return;
      if (!roleOf.has(id)) {
        addIssue({
          path: at("members", i),
          message: `no agent "${id}" is declared${didYouMean(id, ids)}`,
        });
        return;
      }
      join(id, at("members", i));
    });
    memberRoles.forEach((role, i) => {
      if (typeof role !== "string") return;
      if (!(role in roles)) {
        addIssue({
          path: at("roles", i),
          message: `no role "${role}" is defined${didYouMean(role, Object.keys(roles))}`,
        });
        return;
      }
      for (const [id, r] of roleOf) if (r === role) join(id, at("roles", i));
    });
  }
  checkNesting(teams, teamOf, addIssue);
}

/** A lead that is a member of a team led, through the chain, by one of its own members would delegate in a circle. */
function checkNesting(
  teams: Record<string, unknown>,
  teamOf: ReadonlyMap<string, string>,
  addIssue: (issue: Issue) => void,
): void {
  const leadOf = (team: string): string | undefined => {
    const t = teams[team];
    return isRecord(t) && typeof t["lead"] === "string" ? t["lead"] : undefined;
  };
  for (const start of Object.keys(teams)) {
    const chain = [start];
    let lead = leadOf(start);
    while (lead !== undefined) {
      const above = teamOf.get(lead);
      if (above === undefined) break;
      if (chain.includes(above)) {
        if (above === start) {
          addIssue({
            path: ["teams", start, "lead"],
            message: `teams nest in a circle (${[...chain, above].join(" → ")}): a team's lead is a member of a team below it; make the top lead a member of no team`,
          });
        }
        break;
      }
      chain.push(above);
      lead = leadOf(above);
    }
  }
}

/** The section with defaults applied. */
export function buildTeams(
  parsed: z.output<typeof teamsSchema>,
): Readonly<Record<string, TeamConfig>> {
  return Object.fromEntries(
    Object.entries(parsed).map(([name, t]): [string, TeamConfig] => [
      name,
      { lead: t.lead, members: t.members, roles: t.roles },
    ]),
  );
}
