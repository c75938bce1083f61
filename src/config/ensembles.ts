// The `ensembles:` section of a swarm file: task types answered by several
// member agents whose answers are combined (src/ensemble), asked adaptively
// (the cheapest first, more only on disagreement), with weights learned from
// audited outcomes.
import { z } from "zod";
import { expecting, integer, isRecord } from "./fields.js";
import { didYouMean, quoteList } from "./messages.js";

/** The combination rules the runtime runs today (the others need a reviewer or a combiner model). */
export const RUNTIME_COMBINE_RULES = ["weighted-vote", "weighted-mean"] as const;
export type RuntimeCombineRule = (typeof RUNTIME_COMBINE_RULES)[number];

/** One ensemble: who answers a task type and how their answers become one. */
export interface EnsembleConfig {
  /** Member agents (declared under `agents`), each the only agent of its role, which lists the task type. */
  readonly members: readonly string[];
  readonly combine: RuntimeCombineRule;
  /** Ask `start` members first (the cheapest), more only when they disagree. */
  readonly adaptive: {
    readonly start: number;
    readonly addOnDisagreement: boolean;
    readonly maxMembers: number;
  };
  /** `learned`: each member's weight is an EMA of its audited outcomes; `equal`: every member counts the same. */
  readonly weights: "learned" | "equal";
  /** `weighted-mean` only: answers within this distance agree. */
  readonly tolerance: number;
}

/** The section as written; `buildEnsembles` applies defaults. */
export const ensemblesSchema = z
  .record(
    z.string(),
    z.strictObject({
      members: z
        .array(z.string({ error: expecting("an agent id") }))
        .min(1, { error: "an ensemble needs at least one member" })
        .describe("Member agents, cheapest first when they have no model to price them."),
      combine: z
        .enum(RUNTIME_COMBINE_RULES, {
          error: expecting(
            `${quoteList(RUNTIME_COMBINE_RULES)} (best-of, judge and stacking need a reviewer or a combiner model and are not run by the runtime yet)`,
          ),
        })
        .default("weighted-vote")
        .describe("How the answers become one: labels by weighted vote, numbers by weighted mean."),
      adaptive: z
        .strictObject({
          start: integer(1, 100).optional(),
          addOnDisagreement: z.boolean().default(true),
          maxMembers: integer(1, 100).optional(),
        })
        .optional()
        .describe("Ask the cheapest `start` members first and more only when they disagree."),
      weights: z.enum(["learned", "equal"]).default("learned"),
      tolerance: z.number().min(0).default(0),
    }),
  )
  .default({})
  .describe(
    "Task types answered by an ensemble of member agents, e.g. classify.ticket: { members: [small-1, small-2, large], adaptive: { start: 2 } }.",
  );

type Issue = { path: (string | number)[]; message: string };

/** Cross-field checks: members are declared agents, alone in roles that list the task type. */
export function checkEnsembles(
  ensembles: unknown,
  agents: unknown,
  roles: unknown,
  addIssue: (issue: Issue) => void,
): void {
  if (!isRecord(ensembles) || !Array.isArray(agents) || !isRecord(roles)) return;
  const roleOf = new Map<string, string>();
  const perRole = new Map<string, number>();
  for (const a of agents) {
    if (isRecord(a) && typeof a["id"] === "string" && typeof a["role"] === "string") {
      roleOf.set(a["id"], a["role"]);
      perRole.set(a["role"], (perRole.get(a["role"]) ?? 0) + 1);
    }
  }
  for (const [task, ensemble] of Object.entries(ensembles)) {
    if (!isRecord(ensemble) || !Array.isArray(ensemble["members"])) continue;
    const members = ensemble["members"] as unknown[];
    const at = (...rest: (string | number)[]) => ["ensembles", task, ...rest];
    members.forEach((member, i) => {
      if (typeof member !== "string") return;
      const role = roleOf.get(member);
      if (role === undefined) {
        addIssue({
          path: at("members", i),
          message: `no agent "${member}" is declared${didYouMean(member, [...roleOf.keys()])}`,
        });
        return;
      }
      if ((perRole.get(role) ?? 0) > 1) {
        addIssue({
          path: at("members", i),
          message: `member ${member} shares role "${role}" with other agents: a member is asked through its role, so give each member a role of its own`,
        });
      }
      const tasks = isRecord(roles[role]) ? roles[role]["tasks"] : undefined;
      if (!Array.isArray(tasks) || !tasks.includes(task)) {
        addIssue({
          path: at("members", i),
          message: `member ${member}'s role "${role}" does not list "${task}" under tasks: add it so the member can answer`,
        });
      }
    });
    if (new Set(members).size !== members.length) {
      addIssue({ path: at("members"), message: "members must be distinct" });
    }
    const adaptive = ensemble["adaptive"];
    if (isRecord(adaptive)) {
      const max =
        typeof adaptive["maxMembers"] === "number" ? adaptive["maxMembers"] : members.length;
      if (max > members.length) {
        addIssue({
          path: at("adaptive", "maxMembers"),
          message: `at most ${members.length} (the members listed)`,
        });
      }
      if (typeof adaptive["start"] === "number" && adaptive["start"] > max) {
        addIssue({ path: at("adaptive", "start"), message: `at most maxMembers (${max})` });
      }
    }
    const coordinators = Object.entries(roles).filter(
      ([name, r]) =>
        isRecord(r) &&
        Array.isArray(r["tasks"]) &&
        r["tasks"].includes(task) &&
        !members.some((m) => typeof m === "string" && roleOf.get(m) === name),
    );
    if (coordinators.length === 0) {
      addIssue({
        path: at(),
        message: `no role besides the members' lists "${task}": add a role whose agents take the task and ask the members`,
      });
    }
  }
}

/** The section with defaults applied. */
export function buildEnsembles(
  parsed: z.output<typeof ensemblesSchema>,
): Readonly<Record<string, EnsembleConfig>> {
  return Object.fromEntries(
    Object.entries(parsed).map(([task, e]): [string, EnsembleConfig] => {
      const maxMembers = e.adaptive?.maxMembers ?? e.members.length;
      return [
        task,
        {
          members: e.members,
          combine: e.combine,
          adaptive: {
            start: e.adaptive?.start ?? maxMembers,
            addOnDisagreement: e.adaptive?.addOnDisagreement ?? true,
            maxMembers,
          },
          weights: e.weights,
          tolerance: e.tolerance,
        },
      ];
    }),
  );
}
