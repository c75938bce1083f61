/**
 * Reputation as the market uses it: a number in [0, 1] per agent that
 * weighs its bids, learned from outcomes by an exponentially weighted moving
 * average. Pure functions; the store persists the numbers.
 */
import { ConfigError } from "../errors/index.js";
import type { ReputationLookup } from "./types.js";

/** The reputation of an agent never observed: neither favoured nor penalised. */
export const NEUTRAL_REPUTATION = 0.5;

/**
 * A reputation forced into [0, 1]: values outside are clamped, NaN and
 * `undefined` become {@link NEUTRAL_REPUTATION}.
 */
export function clampReputation(reputation: number | undefined): number {
  if (reputation === undefined || Number.isNaN(reputation)) return NEUTRAL_REPUTATION;
  return Math.min(1, Math.max(0, reputation));
}

/** The reputation of `bidder` by `lookup`, clamped; neutral without a lookup. */
export function reputationOf(lookup: ReputationLookup | undefined, bidder: string): number {
  return clampReputation(lookup?.(bidder));
}

/**
 * How much reputation scales a bid: `0.5 + reputation`, from 0.5 (worst)
 * through 1 (neutral, exactly) to 1.5 (best). Sale bids are multiplied by
 * it, procurement asks divided by it, multi-criteria scores multiplied by it,
 * so a reputable agent's bid always looks better.
 *
 * @example
 * ```ts
 * reputationWeight(0.5); // 1
 * reputationWeight(1);   // 1.5: a sale bid of 100 competes as 150, an ask of 150 as 100
 * ```
 */
export function reputationWeight(reputation: number): number {
  return 0.5 + clampReputation(reputation);
}

/** What the market observed about one finished contract. */
export interface ReputationObservation {
  /** Whether the agent delivered (sale: paid; procurement: returned a result). */
  readonly success: boolean;
  /** The auditor's verdict on the result; `none` when no audit ran. Default `none`. */
  readonly audit?: "pass" | "fail" | "none";
  /** How long the work took, ms. Ignored without `estimateMs`. */
  readonly latencyMs?: number;
  /** How long the agent said it would take (e.g. its `eta` criterion), ms. */
  readonly estimateMs?: number;
}

/**
 * One observation as a value in [0, 1]:
 *
 * `score = success × audit × (0.5 + 0.5 × timeliness)`
 *
 * - `success` is 1 or 0: a failure earns nothing, however fast it was;
 * - `audit` is 0 for `fail` (delivered but rejected: the escrow goes back),
 *   1 for `pass` or `none`;
 * - `timeliness = min(1, estimateMs / latencyMs)`: 1 on time or early, ½ at
 *   twice the estimate, tending to 0; 1 when either figure is missing or not
 *   positive. Lateness costs at most half the credit, so a slow but correct
 *   agent still beats a failing one.
 *
 * @example
 * ```ts
 * observationScore({ success: true, audit: "pass", latencyMs: 2000, estimateMs: 1000 }); // 0.75
 * ```
 */
export function observationScore(observation: ReputationObservation): number {
  if (!observation.success || observation.audit === "fail") return 0;
  const { latencyMs, estimateMs } = observation;
  const timeliness =
    latencyMs !== undefined &&
    estimateMs !== undefined &&
    Number.isFinite(latencyMs) &&
    Number.isFinite(estimateMs) &&
    latencyMs > 0 &&
    estimateMs > 0
      ? Math.min(1, estimateMs / latencyMs)
      : 1;
  return 0.5 + 0.5 * timeliness;
}

/**
 * The next reputation after one observation, an exponentially weighted
 * moving average: `previous + alpha × (observationScore − previous)`,
 * clamped to [0, 1]. `alpha` in (0, 1] is the weight of the new observation
 * (0.2: the last ~5 contracts dominate). The result always lies between the
 * previous value and the observation's score.
 *
 * Named apart from the router's `updateReputation` (which learns success and
 * latency separately) so both can be exported from the package root.
 *
 * @throws ConfigError if `alpha` is not in (0, 1].
 *
 * @example
 * ```ts
 * updateMarketReputation(0.5, { success: true, audit: "pass" }, 0.2); // 0.6
 * updateMarketReputation(0.5, { success: false }, 0.2);               // 0.4
 * ```
 */
export function updateMarketReputation(
  previous: number | undefined,
  observation: ReputationObservation | number,
  alpha: number,
): number {
  if (!(alpha > 0 && alpha <= 1)) {
    throw new ConfigError(
      `reputation alpha must be in (0, 1], got ${alpha}; 0.2 is a sensible default`,
    );
  }
  const from = clampReputation(previous);
  const target =
    typeof observation === "number" ? clampReputation(observation) : observationScore(observation);
  return Math.min(1, Math.max(0, from + alpha * (target - from)));
}
