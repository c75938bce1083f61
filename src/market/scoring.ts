/**
 * Multi-criteria scoring: each criterion min-max normalised across the bids
 * being compared, flipped where less is better, weighted, summed, then scaled
 * by the bidder's reputation weight. Pure; keeps the whole breakdown so an
 * award can be explained and audited.
 */
import { BidRejectedError } from "../errors/index.js";
import { reputationOf, reputationWeight } from "./reputation.js";
import type { BidInput, BidScore, Criterion, CriterionScore, ReputationLookup } from "./types.js";

/**
 * A bid's value for a criterion: `bid.criteria[name]`, or the bid's `price`
 * for a criterion named `price` the bid does not list separately. Undefined
 * when the bid lacks it or it is not a finite number.
 */
export function criterionValue(bid: BidInput, name: string): number | undefined {
  const criteria = bid.criteria;
  if (criteria !== undefined && Object.hasOwn(criteria, name)) {
    const value = criteria[name];
    return typeof value === "number" && Number.isFinite(value) ? value : undefined;
  }
  return name === "price" ? bid.price : undefined;
}

/** The first criterion `bid` has no usable value for, or undefined when it has them all. */
export function missingCriterion(
  criteria: readonly Criterion[],
  bid: BidInput,
): string | undefined {
  for (const criterion of criteria) {
    if (criterionValue(bid, criterion.name) === undefined) return criterion.name;
  }
  return undefined;
}

/**
 * Scores `bids` against `criteria`, returning one {@link BidScore} per bid in
 * input order. For each criterion, with `lo`/`hi` the least and greatest
 * value among `bids`:
 *
 * - `normalised = (value − lo) / (hi − lo)` for `max`, `(hi − value) / (hi − lo)`
 *   for `min`; 1 for every bid when all values are equal (nobody is worse);
 * - `contribution = normalised × weight / Σ weights`;
 *
 * then `raw = Σ contributions` (in [0, 1]) and
 * `effective = raw × reputationWeight(reputation)`.
 *
 * Normalisation is relative, so the set of bids matters: an auction passes
 * only the bids eligible under its reserve. Scaling a criterion's values by a
 * positive factor (changing its unit) does not change any score.
 *
 * @throws BidRejectedError (`malformed`) if a bid lacks a value for a
 *   criterion; auctions refuse such bids before scoring, so only direct
 *   callers see it.
 *
 * @example
 * ```ts
 * const scores = scoreMultiCriteria(
 *   [
 *     { name: "price", weight: 2, direction: "min" },
 *     { name: "quality", weight: 1, direction: "max" },
 *   ],
 *   [
 *     { bidder: "a", price: 100, criteria: { quality: 0.9 } },
 *     { bidder: "b", price: 80, criteria: { quality: 0.6 } },
 *   ],
 * );
 * scores[0].raw; // price 0 × 2/3 + quality 1 × 1/3 = 0.333…
 * scores[1].raw; // price 1 × 2/3 + quality 0 × 1/3 = 0.666…
 * ```
 */
export function scoreMultiCriteria(
  criteria: readonly Criterion[],
  bids: readonly BidInput[],
  reputation?: ReputationLookup,
  auction = "(scored directly)",
): BidScore[] {
  const weightSum = criteria.reduce((sum, criterion) => sum + criterion.weight, 0);
  // One column of values per criterion, read once: the hot loop of a 1,000-bid award.
  const columns = criteria.map((criterion) => {
    const values = new Float64Array(bids.length);
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    bids.forEach((bid, index) => {
      const value = criterionValue(bid, criterion.name);
      if (value === undefined) {
        throw new BidRejectedError(
          "malformed",
          auction,
          `bid by ${bid.bidder} has no finite value for criterion "${criterion.name}"; put it in body.criteria`,
        );
      }
      values[index] = value;
      if (value < lo) lo = value;
      if (value > hi) hi = value;
    });
    // Halving keeps hi − lo finite for values near ±Number.MAX_VALUE; it is exact otherwise.
    const halve = !Number.isFinite(hi - lo);
    return {
      criterion,
      values,
      lo: halve ? lo / 2 : lo,
      hi: halve ? hi / 2 : hi,
      scale: halve ? 0.5 : 1,
      weight: criterion.weight / weightSum,
    };
  });
  return bids.map((bid, index) => {
    let raw = 0;
    const parts: CriterionScore[] = columns.map(({ criterion, values, lo, hi, scale, weight }) => {
      const value = values[index] as number;
      const range = hi - lo;
      const scaled = value * scale;
      const normalised =
        range === 0
          ? 1
          : clampUnit(
              criterion.direction === "max" ? (scaled - lo) / range : (hi - scaled) / range,
            );
      const contribution = normalised * weight;
      raw += contribution;
      return { name: criterion.name, value, normalised, weight, contribution };
    });
    raw = clampUnit(raw);
    const rep = reputationOf(reputation, bid.bidder);
    const repWeight = reputationWeight(rep);
    return {
      bidder: bid.bidder,
      price: bid.price,
      criteria: parts,
      raw,
      reputation: rep,
      reputationWeight: repWeight,
      effective: raw * repWeight,
    };
  });
}

/** Rounding can push a ratio or a sum of weights a hair outside [0, 1]. */
function clampUnit(value: number): number {
  return value < 0 ? 0 : value > 1 ? 1 : value;
}
