/**
 * Weighted-threshold arithmetic, exact and pure.
 *
 * Weights are configured as decimal numbers (`2.5`, `1.5`), but summing
 * binary floats is not exact (`0.1 + 0.2 !== 0.3`), and a quorum that
 * approves or not depending on summation order is a bug. So every weight is
 * converted once to an integer count of micro-units ({@link WEIGHT_SCALE}
 * per unit of weight, i.e. six decimal places; finer digits are rounded) and
 * all sums and comparisons happen on those integers, which JavaScript numbers
 * hold exactly up to `Number.MAX_SAFE_INTEGER` (about 9·10⁹ units of total
 * weight). A fractional threshold is read as the simplest rational within
 * float precision (denominator at most 10⁶: `0.6666666666666666` is exactly
 * 2/3, `0.7` is 7/10) and rounded up to whole micro-units with BigInt
 * arithmetic, so `approve ≥ threshold` is decided on integers only.
 *
 * The decision rule ({@link quorumStatus}): approved as soon as the approving
 * weight reaches the threshold and no voter who could still veto is pending;
 * rejected as soon as approving plus pending weight is below the threshold
 * (no completion of the missing votes can approve); vetoed when a veto
 * holder rejected; pending otherwise. It never decides before the outcome is
 * certain: property tests check it against brute force over every completion
 * of the pending votes.
 */
import { ConfigError } from "../errors/index.js";
import type { Outcome, Tally } from "./types.js";

/** Micro-units per unit of weight: weights are exact to six decimal places. */
export const WEIGHT_SCALE = 1_000_000;

/** Largest denominator a fractional threshold is approximated with. */
const MAX_DENOMINATOR = 1_000_000;

/**
 * How much weight approval needs: an absolute weight (`{ weight: 4 }`), or a
 * fraction of the total eligible weight (`{ fraction: 2 / 3 }`: at least two
 * thirds; with `strict: true`, more than two thirds).
 */
export type QuorumThreshold =
  | { readonly weight: number }
  | { readonly fraction: number; readonly strict?: boolean };

/** What the decision depends on, every weight in integer micro-units (see {@link toWeightUnits}). */
export interface QuorumCounts {
  /** Weight of approving votes. */
  readonly approve: number;
  /** Weight of rejecting votes. */
  readonly reject: number;
  /** Weight of abstaining votes. */
  readonly abstain: number;
  /** Weight of eligible voters that have not voted yet. */
  readonly pending: number;
  /** Approving weight needed, from {@link thresholdUnits}. */
  readonly threshold: number;
  /** A voter holding a veto rejected. */
  readonly vetoed?: boolean;
  /** At least one voter holding a veto has not voted yet (so approval is not yet certain). */
  readonly vetoPending?: boolean;
}

/** Where a round stands: decided one way, or still open. */
export type QuorumStatus = "approved" | "rejected" | "vetoed" | "pending";

/**
 * Converts a configured weight to integer micro-units.
 *
 * @throws ConfigError if the weight is negative, not finite, or too large to
 *   count exactly.
 *
 * @example
 * ```ts
 * toWeightUnits(2.5) + toWeightUnits(1.5) >= toWeightUnits(4); // true, exactly
 * ```
 */
export function toWeightUnits(weight: number): number {
  if (typeof weight !== "number" || !Number.isFinite(weight) || weight < 0) {
    throw new ConfigError(
      `a vote weight must be a finite number ≥ 0, got ${String(weight)}; fix the agent's weight`,
    );
  }
  const units = Math.round(weight * WEIGHT_SCALE);
  if (!Number.isSafeInteger(units)) {
    throw new ConfigError(
      `vote weight ${weight} is too large to count exactly; keep weights below ${Math.floor(Number.MAX_SAFE_INTEGER / WEIGHT_SCALE)}`,
    );
  }
  return units;
}

/** Converts micro-units back to a weight, for display and for {@link Tally}. */
export function fromWeightUnits(units: number): number {
  return units / WEIGHT_SCALE;
}

/**
 * The simplest rational `[numerator, denominator]` equal to `value` within
 * float precision, with a denominator of at most 10⁶ (continued fractions).
 *
 * @example
 * ```ts
 * toRational(2 / 3); // [2, 3]
 * toRational(0.7);   // [7, 10]
 * ```
 */
export function toRational(value: number): [number, number] {
  if (!Number.isFinite(value) || value < 0) {
    throw new ConfigError(`cannot read ${String(value)} as a fraction; use a number in (0, 1]`);
  }
  // Convergents h/k of the continued fraction; h₋₂/k₋₂ = 0/1, h₋₁/k₋₁ = 1/0.
  let h0 = 0;
  let h1 = 1;
  let k0 = 1;
  let k1 = 0;
  let rest = value;
  for (let i = 0; i < 64; i++) {
    const a = Math.floor(rest);
    const h2 = a * h1 + h0;
    const k2 = a * k1 + k0;
    if (k2 > MAX_DENOMINATOR) break;
    h0 = h1;
    h1 = h2;
    k0 = k1;
    k1 = k2;
    if (h1 / k1 === value) break;
    const fraction = rest - a;
    if (fraction <= 0) break;
    rest = 1 / fraction;
  }
  return [h1, k1];
}

/**
 * The approving weight, in micro-units, that a threshold demands out of
 * `totalUnits` of eligible weight; at least one micro-unit.
 *
 * @throws ConfigError if the threshold is not a positive weight or a fraction
 *   in (0, 1].
 *
 * @example
 * ```ts
 * thresholdUnits({ fraction: 2 / 3 }, toWeightUnits(7)); // 4_666_667 (4.666667)
 * ```
 */
export function thresholdUnits(threshold: QuorumThreshold, totalUnits: number): number {
  if ("weight" in threshold) {
    const units = toWeightUnits(threshold.weight);
    if (units <= 0) {
      throw new ConfigError(
        "a quorum threshold weight must be greater than 0; otherwise anything is approved with no vote at all",
      );
    }
    return units;
  }
  const { fraction, strict = false } = threshold;
  if (typeof fraction !== "number" || !(fraction > 0 && fraction <= 1)) {
    throw new ConfigError(
      `a quorum threshold fraction must be in (0, 1], got ${String(fraction)}; e.g. { fraction: 2 / 3 }`,
    );
  }
  const [numerator, denominator] = toRational(fraction);
  const product = BigInt(numerator) * BigInt(totalUnits);
  const den = BigInt(denominator);
  const floor = product / den;
  const units = strict ? floor + 1n : floor + (product % den === 0n ? 0n : 1n);
  // Never 0: a zero threshold would approve before anyone voted.
  return Math.max(1, Number(units));
}

/**
 * Where a quorum stands given the counted weights. Decides only when the
 * outcome is certain whatever the pending voters do:
 *
 * - `vetoed`: a veto holder rejected;
 * - `approved`: approve ≥ threshold, and no veto holder is pending;
 * - `rejected`: approve + pending < threshold;
 * - `pending`: otherwise.
 *
 * @throws ConfigError if a count is not a non-negative safe integer (pass
 *   micro-units from {@link toWeightUnits}, not weights).
 *
 * @example
 * ```ts
 * const u = toWeightUnits;
 * quorumStatus({ approve: u(2.5) + u(1.5), reject: 0, abstain: 0, pending: u(3), threshold: u(4) }); // "approved"
 * ```
 */
export function quorumStatus(counts: QuorumCounts): QuorumStatus {
  for (const key of ["approve", "reject", "abstain", "pending", "threshold"] as const) {
    const value = counts[key];
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new ConfigError(
        `quorumStatus: ${key} must be a non-negative integer count of micro-units (toWeightUnits), got ${String(value)}`,
      );
    }
  }
  if (counts.vetoed === true) return "vetoed";
  if (counts.approve >= counts.threshold && counts.vetoPending !== true) return "approved";
  if (counts.approve + counts.pending < counts.threshold) return "rejected";
  return "pending";
}

/**
 * The outcome of a round given its counts, or `undefined` while it is still
 * open. Before the deadline this is {@link quorumStatus}; once the deadline
 * has passed, voters that did not answer count as abstaining, so an
 * undecided round ends `approved` if the approving weight already reached
 * the threshold (only a silent veto holder was outstanding) and `no-quorum`
 * otherwise.
 *
 * @example
 * ```ts
 * resolveOutcome({ approve: 0, reject: 0, abstain: 0, pending: 7, threshold: 4 }, true); // "no-quorum"
 * ```
 */
export function resolveOutcome(counts: QuorumCounts, deadlinePassed: boolean): Outcome | undefined {
  const status = quorumStatus(counts);
  if (status !== "pending") return status;
  if (!deadlinePassed) return undefined;
  return counts.approve >= counts.threshold ? "approved" : "no-quorum";
}

/** A {@link Tally} (weights, not micro-units) from counts and the total eligible weight. */
export function toTally(counts: QuorumCounts, totalUnits: number): Tally {
  return {
    approve: fromWeightUnits(counts.approve),
    reject: fromWeightUnits(counts.reject),
    abstain: fromWeightUnits(counts.abstain),
    threshold: fromWeightUnits(counts.threshold),
    total: fromWeightUnits(totalUnits),
  };
}
