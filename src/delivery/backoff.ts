import type { Random } from "../core/random.js";

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
