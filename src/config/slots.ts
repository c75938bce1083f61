// The `slots:` section of a swarm file: roles staffed by a number of active
// agents chosen optimally (src/hierarchy/role-assignment.ts), the others on
// standby, a slot re-assigned when its holder is halted, gives up or falls
// below the reputation floor.
import { z } from "zod";
import { integer, isRecord } from "./fields.js";
import { didYouMean } from "./messages.js";

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

/** Cross-field checks: the roles exist. */
export function checkSlots(slots: unknown, roles: unknown, addIssue: (issue: Issue) => void): void {
  if (!isRecord(slots) || !isRecord(slots["roles"]) || !isRecord(roles)) return;
  for (const role of Object.keys(slots["roles"])) {
    if (!(role in roles)) {
      addIssue({
        path: ["slots", "roles", role],
        message: `no role "${role}" is defined${didYouMean(role, Object.keys(roles))}; slots are keyed by role`,
      });
    }
  }
}
