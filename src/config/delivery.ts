// The `defaults:` section of a swarm file: how tasks are delivered (ack
// wait, redeliveries, in-flight limit, backoff between retries) and how
// liveness is judged (heartbeats, suspect and left timeouts). Roles inherit
// these and may override the delivery settings (see roles.ts).
import { z } from "zod";
import { expecting, integer, stripUndefined } from "./fields.js";

/** Backoff between redeliveries of a failed task. All times in milliseconds. */
export interface BackoffConfig {
  /** Delay before the first retry. */
  readonly baseMs: number;
  /** Upper bound of any single delay. */
  readonly maxMs: number;
  /** Growth per attempt; 2 doubles the delay each time. */
  readonly factor: number;
  /** `full`: uniform in [0, d]; `equal`: d/2 + uniform in [0, d/2]; `none`: exactly d. */
  readonly jitter: "full" | "equal" | "none";
}

/** Settings every role inherits unless it overrides them. */
export interface DefaultsConfig {
  /** How long a delivered task may stay unacked before the broker redelivers it. */
  readonly ackWaitMs: number;
  /** Deliveries of one task before it is dead-lettered. */
  readonly maxDeliver: number;
  /** In-flight tasks per agent. */
  readonly concurrency: number;
  readonly backoff: BackoffConfig;
  /** Interval between an agent's registry heartbeats. */
  readonly heartbeatMs: number;
  /** Silence after which an agent is marked suspect. Always > `heartbeatMs`. */
  readonly suspectAfterMs: number;
  /** Silence after which an agent is considered gone. Always > `suspectAfterMs`. */
  readonly leftAfterMs: number;
  /** How long envelope ids are remembered to drop redelivered duplicates. */
  readonly dedupWindowMs: number;
}

// Stated once so the schema, its messages and the JSON Schema agree.
const SUSPECT_HEARTBEATS = 3;
const LEFT_EXTRA_HEARTBEATS = 7;

export const ackWaitMs = integer(100, 3_600_000).describe(
  "How long a delivered task may stay unacked before it is redelivered, in ms.",
);
export const maxDeliver = integer(1, 1000).describe(
  "Deliveries of one task before it is dead-lettered.",
);
export const concurrency = integer(1, 10_000).describe("In-flight tasks per agent.");

const baseMs = integer(1, 3_600_000).describe("Delay before the first retry, in ms.");
const maxMs = integer(1, 86_400_000).describe("Upper bound of any single retry delay, in ms.");
const factor = z
  .number()
  .min(1, { error: expecting("a number from 1 to 10") })
  .max(10, { error: expecting("a number from 1 to 10") })
  .describe("Growth of the delay per attempt; 2 doubles it.");
const jitter = z
  .enum(["full", "equal", "none"])
  .describe("full: uniform in [0, d]; equal: d/2 + uniform in [0, d/2]; none: exactly d.");

const backoffSchema = z
  .strictObject({
    baseMs: baseMs.default(200),
    maxMs: maxMs.default(30_000),
    factor: factor.default(2),
    jitter: jitter.default("full"),
  })
  .describe("Exponential backoff between redeliveries of a failed task.");

export const backoffOverrideSchema = z
  .strictObject({
    baseMs: baseMs.optional(),
    maxMs: maxMs.optional(),
    factor: factor.optional(),
    jitter: jitter.optional(),
  })
  .describe("Overrides of the default backoff; unset fields keep the default.");

export const defaultsSchema = z
  .strictObject({
    ackWaitMs: ackWaitMs.default(30_000),
    maxDeliver: maxDeliver.default(5),
    concurrency: concurrency.default(4),
    backoff: backoffSchema.prefault({}),
    heartbeatMs: integer(50, 60_000)
      .default(1000)
      .describe("Interval between an agent's registry heartbeats, in ms."),
    suspectAfterMs: integer(100, 3_600_000)
      .optional()
      .describe(
        `Silence after which an agent is suspect, in ms; > heartbeatMs. Default: ${SUSPECT_HEARTBEATS} × heartbeatMs.`,
      ),
    leftAfterMs: integer(100, 86_400_000)
      .optional()
      .describe(
        `Silence after which an agent has left, in ms; > suspectAfterMs. Default: suspectAfterMs + ${LEFT_EXTRA_HEARTBEATS} × heartbeatMs.`,
      ),
    dedupWindowMs: integer(1000, 86_400_000)
      .default(120_000)
      .describe("How long envelope ids are remembered to drop duplicates, in ms."),
  })
  .describe("Settings applied to every role unless the role overrides them.");

function numberAt(value: Record<string, unknown>, key: string): number | undefined {
  const found = value[key];
  return typeof found === "number" ? found : undefined;
}

export function checkLiveness(defaults: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const heartbeat = numberAt(defaults, "heartbeatMs");
  const suspect = numberAt(defaults, "suspectAfterMs");
  const left = numberAt(defaults, "leftAfterMs");
  if (heartbeat !== undefined && suspect !== undefined && suspect <= heartbeat) {
    ctx.addIssue({
      code: "custom",
      path: ["defaults", "suspectAfterMs"],
      message: `expected more than heartbeatMs (${heartbeat}), got ${suspect}: an agent must miss a heartbeat before it is suspect`,
    });
  }
  if (left !== undefined && heartbeat !== undefined) {
    const effectiveSuspect = suspect ?? heartbeat * SUSPECT_HEARTBEATS;
    if (left <= effectiveSuspect) {
      const which =
        suspect === undefined
          ? `the default suspectAfterMs (${effectiveSuspect} = ${SUSPECT_HEARTBEATS} × heartbeatMs)`
          : `suspectAfterMs (${effectiveSuspect})`;
      ctx.addIssue({
        code: "custom",
        path: ["defaults", "leftAfterMs"],
        message: `expected more than ${which}, got ${left}`,
      });
    }
  }
}

export function checkBackoff(
  base: Record<string, unknown>,
  override: Record<string, unknown> | undefined,
  path: readonly string[],
  ctx: z.RefinementCtx,
): void {
  const effective = { ...base, ...stripUndefined(override ?? {}) };
  const baseMs = numberAt(effective, "baseMs");
  const maxMs = numberAt(effective, "maxMs");
  if (baseMs === undefined || maxMs === undefined || maxMs >= baseMs) return;
  const blamed = override === undefined || override["maxMs"] !== undefined ? "maxMs" : "baseMs";
  ctx.addIssue({
    code: "custom",
    path: [...path, blamed],
    message:
      blamed === "maxMs"
        ? `expected maxMs at least baseMs (${baseMs}), got ${maxMs}`
        : `expected baseMs at most the default maxMs (${maxMs}), got ${baseMs}`,
  });
}

/** The section with the liveness timeouts derived from the heartbeat where unset. */
export function buildDefaults(parsed: z.output<typeof defaultsSchema>): DefaultsConfig {
  const heartbeatMs = parsed.heartbeatMs;
  const suspectAfterMs = parsed.suspectAfterMs ?? heartbeatMs * SUSPECT_HEARTBEATS;
  return {
    ...parsed,
    heartbeatMs,
    suspectAfterMs,
    leftAfterMs: parsed.leftAfterMs ?? suspectAfterMs + heartbeatMs * LEFT_EXTRA_HEARTBEATS,
  };
}
