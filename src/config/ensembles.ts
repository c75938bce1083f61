// The `ensembles:` section of a swarm file: task types answered by several
// member agents whose answers are combined (src/ensemble), asked adaptively
// (the cheapest first, more only on disagreement), with weights learned from
// audited outcomes. best-of, judge and stacking also ask someone else (a
// reviewer, a judge, a combiner) named here by agent or role.
import { z } from "zod";
import { expecting, integer, isRecord } from "./fields.js";
import { didYouMean, quoteList } from "./messages.js";

/** The combination rules an ensemble can use. */
export const COMBINE_RULES = [
  "weighted-vote",
  "weighted-mean",
  "best-of",
  "judge",
  "stacking",
] as const;
export type CombineRuleName = (typeof COMBINE_RULES)[number];

/** The rules that ask someone else, the field naming who, and the task type they are asked. */
export const ASKED_BY_RULE = {
  "best-of": { field: "reviewer", task: "ensemble.review", does: "scores the answers" },
  judge: { field: "judge", task: "ensemble.judge", does: "chooses among the answers" },
  stacking: { field: "combiner", task: "ensemble.combine", does: "writes the final answer" },
} as const;
export type AskingRuleName = keyof typeof ASKED_BY_RULE;
type AskedField = (typeof ASKED_BY_RULE)[AskingRuleName]["field"];
const ASKING = Object.entries(ASKED_BY_RULE) as [
  AskingRuleName,
  (typeof ASKED_BY_RULE)[AskingRuleName],
][];

/** One ensemble: who answers a task type and how their answers become one. */
export interface EnsembleConfig {
  /** Member agents (declared under `agents`), each the only agent of its role, which lists the task type. */
  readonly members: readonly string[];
  readonly combine: CombineRuleName;
  /** Ask `start` members first (the cheapest), more only when they disagree. */
  readonly adaptive: {
    readonly start: number;
    readonly addOnDisagreement: boolean;
    readonly maxMembers: number;
  };
  /** `learned`: each member's weight is an EMA of its audited outcomes; `equal`: every member counts the same. */
  readonly weights: "learned" | "equal";
  /**
   * Numbers within this distance agree (weighted-mean), and a number within
   * it of the ground truth counts as right when weights are learned. 0 when
   * not given; refused on weighted-vote, whose answers are labels.
   */
  readonly tolerance: number;
  /** `best-of`: the agent or role asked (`ensemble.review`) to score the answers. */
  readonly reviewer?: string;
  /** `judge`: the agent or role asked (`ensemble.judge`) to choose an answer and say why. */
  readonly judge?: string;
  /** `stacking`: the agent or role asked (`ensemble.combine`) to write the final answer from the members'. */
  readonly combiner?: string;
  /** best-of, judge, stacking: added to what the reviewer, judge or combiner is told (a rubric, the answer format). */
  readonly instructions?: string;
}

const askedName = (what: string) =>
  z
    .string({ error: expecting(`an agent id or a role name`) })
    .min(1)
    .optional()
    .describe(what);

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
        .enum(COMBINE_RULES, { error: expecting(quoteList(COMBINE_RULES)) })
        .optional()
        .describe(
          "How the answers become one: labels by weighted vote, numbers by weighted mean, the reviewer's best score (best-of), the judge's choice (judge), or the combiner's own answer (stacking). Default: the rule of the reviewer, judge or combiner given, else weighted-vote.",
        ),
      adaptive: z
        .strictObject({
          start: integer(1, 100).optional(),
          addOnDisagreement: z.boolean().default(true),
          maxMembers: integer(1, 100).optional(),
        })
        .optional()
        .describe("Ask the cheapest `start` members first and more only when they disagree."),
      weights: z.enum(["learned", "equal"]).default("learned"),
      tolerance: z
        .number()
        .min(0)
        .optional()
        .describe(
          "Numbers this close agree (weighted-mean), and count as right against a task's truth when weights are learned. Default 0. Not for weighted-vote: labels agree only when equal.",
        ),
      reviewer: askedName(
        "best-of: the agent or role that scores the answers; its role lists ensemble.review.",
      ),
      judge: askedName(
        "judge: the agent or role that chooses an answer and says why; its role lists ensemble.judge.",
      ),
      combiner: askedName(
        "stacking: the agent or role that writes the final answer from the members'; its role lists ensemble.combine.",
      ),
      instructions: z
        .string()
        .min(1)
        .optional()
        .describe(
          "best-of, judge, stacking: added to what the reviewer, judge or combiner is told (a rubric, the answer format).",
        ),
    }),
  )
  .default({})
  .describe(
    "Task types answered by an ensemble of member agents, e.g. classify.ticket: { members: [small-1, small-2, large], adaptive: { start: 2 } }.",
  );

type Issue = { path: (string | number)[]; message: string };

/** The rule an ensemble as written combines by: `combine`, else the one its reviewer, judge or combiner implies. */
function ruleOf(ensemble: Record<string, unknown>): CombineRuleName | undefined {
  const combine = ensemble["combine"];
  if (typeof combine === "string") {
    return (COMBINE_RULES as readonly string[]).includes(combine)
      ? (combine as CombineRuleName)
      : undefined;
  }
  const implied = ASKING.filter(([, a]) => ensemble[a.field] !== undefined);
  return implied.length === 1 ? (implied[0] as (typeof implied)[number])[0] : "weighted-vote";
}

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
  const lists = (role: string, task: string) => {
    const tasks = isRecord(roles[role]) ? roles[role]["tasks"] : undefined;
    return Array.isArray(tasks) && tasks.includes(task);
  };
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
      if (!lists(role, task)) {
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
    const memberRoles = new Set(members.flatMap((m) => roleOf.get(m as string) ?? []));
    const coordinators = Object.entries(roles).filter(
      ([name, r]) =>
        isRecord(r) &&
        Array.isArray(r["tasks"]) &&
        r["tasks"].includes(task) &&
        !memberRoles.has(name),
    );
    if (coordinators.length === 0) {
      addIssue({
        path: at(),
        message: `no role besides the members' lists "${task}": add a role whose agents take the task and ask the members`,
      });
    }
    checkAsked(ensemble, members, {
      task,
      at,
      roleOf,
      perRole,
      roles,
      lists,
      memberRoles,
      addIssue,
    });
  }
}

/** The reviewer, judge or combiner: present when (and only when) the rule asks one, and askable. */
function checkAsked(
  ensemble: Record<string, unknown>,
  members: readonly unknown[],
  c: {
    /** The ensemble's task type. */
    task: string;
    at: (...rest: (string | number)[]) => (string | number)[];
    roleOf: ReadonlyMap<string, string>;
    perRole: ReadonlyMap<string, number>;
    roles: Record<string, unknown>;
    lists: (role: string, task: string) => boolean;
    memberRoles: ReadonlySet<string>;
    addIssue: (issue: Issue) => void;
  },
): void {
  const given = ASKING.filter(([, a]) => ensemble[a.field] !== undefined);
  if (ensemble["combine"] === undefined && given.length > 1) {
    c.addIssue({
      path: c.at("combine"),
      message: `${given.map(([, a]) => `${a.field}:`).join(" and ")} are both given: say which rule combines the answers with combine: ${given.map(([rule]) => rule).join(" or ")}`,
    });
    return;
  }
  const rule = ruleOf(ensemble);
  if (rule === undefined) return;
  for (const [other, asked] of given) {
    if (other === rule) continue;
    c.addIssue({
      path: c.at(asked.field),
      message: `${asked.field}: is only asked by combine: ${other} (this ensemble combines by ${rule}): remove it, or set combine: ${other}`,
    });
  }
  if (rule === "weighted-vote" && ensemble["tolerance"] !== undefined) {
    c.addIssue({
      path: c.at("tolerance"),
      message:
        "tolerance: is not used by weighted-vote (labels agree only when equal): remove it, or set combine: weighted-mean if the members answer numbers",
    });
  }
  if (!(rule in ASKED_BY_RULE)) {
    if (ensemble["instructions"] !== undefined) {
      c.addIssue({
        path: c.at("instructions"),
        message: `instructions: are only read by best-of, judge and stacking (this ensemble combines by ${rule}): remove them`,
      });
    }
    return;
  }
  const asked = ASKED_BY_RULE[rule as AskingRuleName];
  const field: AskedField = asked.field;
  const name = ensemble[field];
  if (typeof name !== "string") {
    if (name === undefined) {
      c.addIssue({
        path: c.at(field),
        message: `combine: ${rule} needs ${field}: the agent or role that ${asked.does} (a role that lists "${asked.task}" under tasks)`,
      });
    }
    return;
  }
  const agentRole = c.roleOf.get(name);
  const role = agentRole ?? (isRecord(c.roles[name]) ? name : undefined);
  if (role === undefined) {
    c.addIssue({
      path: c.at(field),
      message: `no agent or role "${name}" is declared${didYouMean(name, [...c.roleOf.keys(), ...Object.keys(c.roles)])}`,
    });
    return;
  }
  if (members.includes(name) || c.memberRoles.has(role)) {
    c.addIssue({
      path: c.at(field),
      message: `the ${field} "${name}" is a member (or in a member's role): nobody judges their own answer, so name another agent or role`,
    });
    return;
  }
  // The coordinator waits for the ask while it holds its task: asking its own role,
  // it waits on itself (one agent of concurrency 1 never answers; a busy role starves).
  if (c.lists(role, c.task)) {
    c.addIssue({
      path: c.at(field),
      message: `the ${field} "${name}" is in role "${role}", which coordinates this ensemble (it lists "${c.task}"): a coordinator waiting for its own role's answer can wait forever, so name an agent or role that does not list "${c.task}"`,
    });
    return;
  }
  if (agentRole !== undefined && (c.perRole.get(role) ?? 0) > 1) {
    c.addIssue({
      path: c.at(field),
      message: `${field} ${name} shares role "${role}" with other agents, any of which may be asked: name the role instead, or give ${name} a role of its own`,
    });
  }
  if (agentRole === undefined && (c.perRole.get(role) ?? 0) === 0) {
    c.addIssue({
      path: c.at(field),
      message: `role "${role}" has no agent to ask: declare one under agents with role: ${role}`,
    });
  }
  if (!c.lists(role, asked.task)) {
    c.addIssue({
      path: c.at(field),
      message: `role "${role}" does not list "${asked.task}" under tasks: add it so its agents take the ${field}'s questions`,
    });
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
          combine: ruleOf(e) ?? "weighted-vote",
          adaptive: {
            start: e.adaptive?.start ?? maxMembers,
            addOnDisagreement: e.adaptive?.addOnDisagreement ?? true,
            maxMembers,
          },
          weights: e.weights,
          tolerance: e.tolerance ?? 0,
          ...(e.reviewer === undefined ? {} : { reviewer: e.reviewer }),
          ...(e.judge === undefined ? {} : { judge: e.judge }),
          ...(e.combiner === undefined ? {} : { combiner: e.combiner }),
          ...(e.instructions === undefined ? {} : { instructions: e.instructions }),
        },
      ];
    }),
  );
}
