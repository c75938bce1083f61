// The `slots:` section of a swarm file: roles staffed by a number of active
// agents chosen optimally (src/hierarchy/role-assignment.ts), the others on
// standby, a slot re-assigned when its holder is halted, gives up or falls
// below the reputation floor.
import { z } from "zod";
import { integer, isRecord } from "./fields.js";
import { didYouMean, quoteList } from "./messages.js";

/** The section, defaults applied. */
export interface SlotsConfig {
  /** Staffed roles: how many agents take tasks at once, and what they must or should offer. */
  readonly roles: Readonly<
    Record<
      string,
      {
        readonly slots: number;
        readonly requires: readonly string[];
        readonly prefers: readonly string[];
      }
    >
  >;
  readonly reputationFloor: number;
  readonly intervalMs: number;
}

/** As an agent's capabilities are written. */
const capability = z.string().min(1).max(128);

/** The section as written. */
export const slotsSchema = z
  .strictObject({
    reputationFloor: z
      .number()
      .min(0)
      .max(1)
      .default(0.2)
      .describe("A holder whose reputation falls below this loses its slot to a standby."),
    intervalMs: integer(10, 3_600_000)
      .default(5_000)
      .describe("How often the holders' reputations are read, ms."),
    roles: z
      .record(
        z.string(),
        z.strictObject({
          slots: integer(1, 10_000).default(1).describe("Agents of the role taking tasks at once."),
          requires: z.array(capability).default([]).describe("Capabilities a holder must have."),
          prefers: z
            .array(capability)
            .default([])
            .describe("Capabilities that make a holder better."),
        }),
      )
      .describe("Staffed roles by name, e.g. reviewer: { slots: 2, prefers: [security] }."),
  })
  .optional()
  .describe(
    "Roles staffed by their best agents hosted in a process; the others of the role wait on standby and take over a slot whose holder is halted, gives up or falls below the reputation floor (agent.reassigned).",
  );

type Issue = { path: (string | number)[]; message: string };

/**
 * Cross-field checks: the roles exist, are not pooled, and some agent of
 * each staffed role has every capability its slots require (otherwise every
 * agent of the role would wait on standby and its tasks would never run).
 */
export function checkSlots(
  slots: unknown,
  roles: unknown,
  agents: unknown,
  addIssue: (issue: Issue) => void,
  pools?: unknown,
): void {
  if (!isRecord(slots) || !isRecord(slots["roles"]) || !isRecord(roles)) return;
  for (const [role, staffed] of Object.entries(slots["roles"])) {
    if (!(role in roles)) {
      addIssue({
        path: ["slots", "roles", role],
        message: `no role "${role}" is defined${didYouMean(role, Object.keys(roles))}; slots are keyed by role`,
      });
      continue;
    }
    // Two rules for one number: the pool grows the role while its queue is deep, the
    // slots keep all but `slots` of its agents on standby (a worker spawned later
    // is not even counted), so neither does what it says.
    if (isRecord(pools) && role in pools) {
      addIssue({
        path: ["slots", "roles", role],
        message: `role "${role}" is also pooled (pools.${role}): a pool sizes the role by its queue, slots fix how many of its agents take tasks, and the two fight; keep one: remove it from slots, or remove pools.${role} and declare the agents that may hold its slots`,
      });
      continue;
    }
    const requires = isRecord(staffed) ? staffed["requires"] : undefined;
    if (Array.isArray(requires) && Array.isArray(agents)) {
      checkRequires(role, requires, capabilitiesOf(role, agents), addIssue);
    }
  }
}

/** Each required capability is some agent's of the role, and one agent has them all. */
function checkRequires(
  role: string,
  requires: readonly unknown[],
  agents: readonly (readonly string[])[],
  addIssue: (issue: Issue) => void,
): void {
  if (agents.length === 0) return;
  const offered = [...new Set(agents.flat())];
  let missing = false;
  requires.forEach((capability, i) => {
    if (typeof capability !== "string" || offered.includes(capability)) return;
    missing = true;
    addIssue({
      path: ["slots", "roles", role, "requires", i],
      message: `no agent of role "${role}" has capability "${capability}"${didYouMean(capability, offered)}, so nobody could hold its slots and its tasks would never run: fix the name, or add it to the capabilities of the role's agents${offered.length === 0 ? "" : ` (they have ${quoteList(offered)})`}`,
    });
  });
  const wanted = requires.filter((c): c is string => typeof c === "string");
  if (missing || agents.some((caps) => wanted.every((c) => caps.includes(c)))) return;
  addIssue({
    path: ["slots", "roles", role, "requires"],
    message: `no single agent of role "${role}" has all of ${quoteList(wanted)}, so nobody could hold its slots and its tasks would never run: require fewer, or give one agent all of them`,
  });
}

/** The capabilities of each declared agent of `role`. */
function capabilitiesOf(role: string, agents: readonly unknown[]): string[][] {
  return agents.flatMap((a) => {
    if (!isRecord(a) || a["role"] !== role) return [];
    const caps = a["capabilities"];
    return [Array.isArray(caps) ? caps.filter((c): c is string => typeof c === "string") : []];
  });
}
