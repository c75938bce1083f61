import { TEAM_NAME } from "../config/teams.js";
import { ConfigError } from "../errors/index.js";
import { NotTeamLeadError } from "../errors/teams.js";
import { subjects } from "./subjects.js";

/** Header naming the team a task was delegated to (signed with the envelope). */
export const TEAM_HEADER = "conclave-team";

/**
 * One team for hierarchical delegation (`teams:` in the swarm file): the
 * lead's handlers delegate to it, and those tasks reach its members only.
 */
export interface TeamSpec {
  /** The agent whose handlers may delegate to the team. */
  readonly lead: string;
  /** Members by agent id. */
  readonly members?: readonly string[];
  /** Members by role: every agent of these roles. */
  readonly roles?: readonly string[];
}

/** Where an agent stands in the hierarchy: what its card says. */
export interface TeamPlacement {
  /** The team the agent is a member of. */
  readonly team?: string;
  /** That team's lead: whom the agent answers to. */
  readonly lead?: string;
  /** The teams the agent leads. */
  readonly leads: readonly string[];
}

/** Where a delegation to a team goes. */
export interface TeamRoute {
  readonly team: string;
  readonly role: string;
  readonly subject: string;
}

/**
 * The swarm's teams as one node sees them: who is in which team, who leads
 * it, and where a lead's delegation goes (`<swarm>.team.<team>.<role>.<task>`,
 * a durable queue per team and role that only the team's members of that
 * role consume). Every node builds the same book from the same swarm file,
 * so a lead in one process reaches members in another.
 */
export class TeamBook {
  readonly #teams: ReadonlyMap<string, TeamSpec>;
  readonly #roleOf: (agentId: string) => string | undefined;
  readonly #tasksOf: (role: string) => readonly string[];

  constructor(
    readonly swarm: string,
    teams: Readonly<Record<string, TeamSpec>>,
    /** The role of a declared or hosted agent: what a member by id takes. */
    roleOf: (agentId: string) => string | undefined,
    /** The task types a role lists. */
    tasksOf: (role: string) => readonly string[],
  ) {
    this.#teams = new Map(Object.entries(checkTeams(teams)));
    this.#roleOf = roleOf;
    this.#tasksOf = tasksOf;
  }

  /** The teams' names. */
  get names(): string[] {
    return [...this.#teams.keys()];
  }

  /**
   * The team `agentId` (of `role`) is a member of, if any. Throws
   * `ConfigError` when it is a member of several (by id in one, by role in
   * another): it would consume one team's queue only, and the other's tasks
   * would wait for nobody.
   */
  teamOf(agentId: string, role: string): string | undefined {
    const found: string[] = [];
    for (const [name, team] of this.#teams) {
      if (team.lead === agentId) continue;
      if (team.members?.includes(agentId) || team.roles?.includes(role)) found.push(name);
    }
    if (found.length > 1) {
      throw new ConfigError(
        `agent "${agentId}" (role "${role}") is a member of ${found.length} teams (${found.join(", ")}); an agent is in one team at most: take it out of all but one team's members or roles`,
      );
    }
    return found[0];
  }

  /** The teams `agentId` leads. */
  led(agentId: string): string[] {
    return [...this.#teams].filter(([, t]) => t.lead === agentId).map(([name]) => name);
  }

  /** Where `agentId` stands: its team, that team's lead, the teams it leads. */
  placement(agentId: string, role: string): TeamPlacement {
    const team = this.teamOf(agentId, role);
    const lead = team === undefined ? undefined : this.#teams.get(team)?.lead;
    return {
      ...(team === undefined ? {} : { team }),
      ...(lead === undefined ? {} : { lead }),
      leads: this.led(agentId),
    };
  }

  /** The roles of a team's members: one queue each. */
  roles(team: string): string[] {
    const t = this.#need(team);
    const roles = new Set(t.roles ?? []);
    for (const id of t.members ?? []) {
      const role = this.#roleOf(id);
      if (role !== undefined) roles.add(role);
    }
    return [...roles];
  }

  /** Every (team, role) queue the swarm has. */
  queues(): { team: string; role: string }[] {
    return this.names.flatMap((team) => this.roles(team).map((role) => ({ team, role })));
  }

  /**
   * The team a delegation by `from` goes to: `team` when named, else the one
   * team `from` leads. Throws `NotTeamLeadError` when `from` does not lead it,
   * `ConfigError` for a team the swarm does not define or a lead of several
   * teams that named none.
   */
  teamFor(from: string, team?: string): string {
    const leads = this.led(from);
    if (team === undefined) {
      if (leads.length === 1) return leads[0] as string;
      if (leads.length === 0) {
        throw new ConfigError(
          `agent "${from}" leads no team, so it has none to delegate to; name it as a team's lead under teams in the swarm file, or submit to a role (ctx.submit / ctx.call)`,
        );
      }
      throw new ConfigError(
        `agent "${from}" leads ${leads.length} teams (${leads.join(", ")}); name the one to delegate to: ctx.team("${leads[0]}")`,
      );
    }
    const spec = this.#need(team);
    if (spec.lead !== from) throw new NotTeamLeadError(from, team, spec.lead, leads);
    return team;
  }

  /**
   * Where `from`'s delegation of `task` to `team` goes: to the role given, or
   * to the one role of the team's members that lists the task. Throws as
   * {@link teamFor}, and `ConfigError` when no member (or more than one role
   * of them) takes it.
   */
  route(from: string, team: string | undefined, task: string, role?: string): TeamRoute {
    team = this.teamFor(from, team);
    const roles = this.roles(team);
    let chosen = role;
    if (chosen === undefined) {
      const taking = roles.filter((r) => this.#tasksOf(r).includes(task));
      if (taking.length !== 1) {
        throw new ConfigError(
          taking.length === 0
            ? `no member of team "${team}" takes task "${task}" (its members' roles: ${roles.join(", ") || "none"}); list "${task}" under one of those roles' tasks`
            : `members of ${taking.length} roles of team "${team}" take task "${task}" (${taking.join(", ")}); name one: { role: "${taking[0]}" }`,
        );
      }
      chosen = taking[0] as string;
    } else if (!roles.includes(chosen)) {
      throw new ConfigError(
        `team "${team}" has no member of role "${chosen}" (its members' roles: ${roles.join(", ") || "none"}); add one under teams.${team}, or delegate to another role`,
      );
    }
    return { team, role: chosen, subject: subjects.teamTask(this.swarm, team, chosen, task) };
  }

  /**
   * Checks, on the member's side, that a task that came by a team's subject
   * was sent by the team's lead: a client that published there itself, past
   * the sender's check, gets `NotTeamLeadError` (its task dead-lettered).
   * Tasks by any other subject pass.
   */
  assertFromLead(subject: string, from: string): void {
    const prefix = `${this.swarm}.team.`;
    if (!subject.startsWith(prefix)) return;
    const team = subject.slice(prefix.length).split(".", 1)[0] ?? "";
    const lead = this.#teams.get(team)?.lead ?? "(no such team)";
    if (lead !== from) throw new NotTeamLeadError(from, team, lead, this.led(from));
  }

  #need(team: string): TeamSpec {
    const spec = this.#teams.get(team);
    if (spec === undefined) {
      const names = this.names;
      throw new ConfigError(
        `the swarm has no team "${team}"${names.length === 0 ? "; define it under teams in the swarm file" : `; its teams are: ${names.join(", ")}`}`,
      );
    }
    return spec;
  }
}

/**
 * The teams given to a node, checked as the swarm file's are (a program
 * building a swarm with `createSwarm` skips that schema): each name is one
 * subject token, each team has a lead and members, a lead is not a member of
 * its own team, and an agent listed by id is in one team at most. A team
 * that breaks these would lose its tasks silently: dead-lettered, or left
 * in a queue nobody consumes.
 */
function checkTeams(teams: Readonly<Record<string, TeamSpec>>): Readonly<Record<string, TeamSpec>> {
  if (typeof teams !== "object" || teams === null || Array.isArray(teams)) {
    throw new ConfigError(
      'teams must be an object of team name → { lead, members, roles }, e.g. { research: { lead: "lead-1", members: ["r-1"] } }',
    );
  }
  const memberOf = new Map<string, string>();
  const strings = (value: unknown): value is readonly string[] =>
    value === undefined ||
    (Array.isArray(value) && value.every((v) => typeof v === "string" && v !== ""));
  for (const [name, team] of Object.entries(teams)) {
    const at = `team "${name}"`;
    if (!TEAM_NAME.test(name)) {
      throw new ConfigError(
        `${at}: a team name is lowercase letters, digits or '-', starting with a letter, at most 32 (it is a token of the team's subjects and queue names); rename it`,
      );
    }
    const spec = team as Partial<TeamSpec> | null;
    if (typeof spec !== "object" || spec === null) {
      throw new ConfigError(`${at} must be { lead, members, roles }`);
    }
    if (typeof spec.lead !== "string" || spec.lead === "") {
      throw new ConfigError(
        `${at} has no lead; set lead to the id of the agent that delegates to it`,
      );
    }
    if (!strings(spec.members) || !strings(spec.roles)) {
      throw new ConfigError(`${at}: members and roles must be lists of agent ids and role names`);
    }
    const members = spec.members ?? [];
    if (members.length === 0 && (spec.roles ?? []).length === 0) {
      throw new ConfigError(
        `${at} has no members; list agents under members, or roles whose agents are members`,
      );
    }
    for (const id of members) {
      if (id === spec.lead) {
        throw new ConfigError(
          `"${id}" leads ${at} and cannot be one of its members; a lead delegates to its team, it does not take the team's tasks`,
        );
      }
      const other = memberOf.get(id);
      if (other !== undefined && other !== name) {
        throw new ConfigError(
          `agent "${id}" is a member of team "${other}" and of ${at}; an agent is in one team at most (a lead may lead several): take it out of one`,
        );
      }
      memberOf.set(id, name);
    }
  }
  return teams;
}
