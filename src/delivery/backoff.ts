import type { Random } from "../core/random.js";
import { ConfigError } from "../errors/index.js";

/** How retries are spaced. All times in milliseconds. */
export interface BackoffPolicy {
  /** Delay before the first retry. */
  readonly baseMs: number;
  /** Upper bound of any single delay. */
  readonly maxMs: number;
  /** Growth per attempt; 2 doubles the delay each time. */
  readonly factor: number;
  /**
   * `full`: uniform in [0, d] (AWS "full jitter", best at spreading herds);
   * `equal`: d/2 + uniform in [0, d/2]; `none`: exactly d.
   */
  readonly jitter: "full" | "equal" | "none";
}

/** Retries of a failed task: 100 ms doubling up to 30 s, with full jitter. */
export const defaultBackoff: BackoffPolicy = Object.freeze({
  baseMs: 100,
  maxMs: 30_000,
  factor: 2,
  jitter: "full",
});

/**
 * The delay before retry number `retry` (1 for the first retry). Pure: the
 * same policy, retry and random sequence give the same delay.
 */
export function backoffDelay(retry: number, policy: BackoffPolicy, random: Random): number {
  const exponent = Math.max(0, retry - 1);
  // 0 × Infinity is NaN: a zero base stays zero however many retries.
  const raw = policy.baseMs === 0 ? 0 : policy.baseMs * policy.factor ** exponent;
  const bounded = Number.isFinite(raw) ? Math.min(policy.maxMs, raw) : policy.maxMs;
  // Floor, not round, so a delay never exceeds a fractional maxMs.
  switch (policy.jitter) {
    case "none":
      return Math.floor(bounded);
    case "equal":
      return Math.floor(bounded / 2 + random.next() * (bounded / 2));
    case "full":
      return Math.floor(random.next() * bounded);
  }
}

/**
 * Throws `ConfigError`, naming `where`, for a policy that would retry in a
 * tight loop or not at all: a base or a cap that is not a finite number
 * (`maxMs: Infinity` becomes a 1 ms timer), a negative one, a factor below
 * 1, or a jitter that is not `full`, `equal` or `none` (a misspelt one made
 * every delay undefined). Swarm files are checked by their schema; this is
 * for policies given in code.
 */
export function assertBackoffPolicy(policy: BackoffPolicy, where: string): void {
  const problems: string[] = [];
  const { baseMs, maxMs, factor, jitter } = (policy ?? {}) as Partial<BackoffPolicy>;
  if (typeof baseMs !== "number" || !Number.isFinite(baseMs) || baseMs < 0) {
    problems.push(`baseMs must be a finite number of ms ≥ 0, got ${String(baseMs)}`);
  }
  if (typeof maxMs !== "number" || !Number.isFinite(maxMs) || maxMs <= 0) {
    problems.push(`maxMs must be a finite number of ms > 0, got ${String(maxMs)}`);
  } else if (typeof baseMs === "number" && maxMs < baseMs) {
    problems.push(`maxMs (${maxMs}) must be at least baseMs (${baseMs})`);
  }
  if (typeof factor !== "number" || !Number.isFinite(factor) || factor < 1) {
    problems.push(`factor must be a finite number ≥ 1, got ${String(factor)}`);
  }
  if (jitter !== "full" && jitter !== "equal" && jitter !== "none") {
    problems.push(`jitter must be "full", "equal" or "none", got ${JSON.stringify(jitter)}`);
  }
  if (problems.length > 0) throw new ConfigError(`${where}: ${problems.join("; ")}`);
}
