/**
 * Every auction rule is written once, in sale terms, where a higher number is
 * better for the auctioneer. A procurement auction is the exact mirror: its
 * asks enter that space negated. This module is the only place that knows
 * about sides; the rules above it compare "oriented" numbers only.
 *
 * - oriented price: sale `price`; procurement `−ask`. Higher is better.
 * - oriented score of a price under reputation weight `w`: sale `price × w`;
 *   procurement `−(ask / w)`. Higher is better, increasing in the oriented
 *   price. Its magnitude is the effective price the docs talk about.
 *
 * Negation is written `0 - x` so that a zero price never becomes `-0`.
 */
import type { AuctionSide } from "./types.js";

/** A price (integer credits) moved into sale terms: higher is better for the auctioneer. */
export function orientPrice(side: AuctionSide, price: number): number {
  return side === "sale" ? price : 0 - price;
}

/** The inverse of {@link orientPrice}. */
export function priceFromOriented(side: AuctionSide, oriented: number): number {
  return side === "sale" ? oriented : 0 - oriented;
}

/**
 * The reputation-weighted price as the docs state it: sale `price × w` (the
 * bid counts as that much more), procurement `price / w` (the ask looks that
 * much cheaper).
 *
 * @example
 * ```ts
 * effectivePrice("sale", 100, 1.5);        // 150
 * effectivePrice("procurement", 150, 1.5); // 100
 * ```
 */
export function effectivePrice(side: AuctionSide, price: number, weight: number): number {
  return side === "sale" ? price * weight : price / weight;
}

/** {@link effectivePrice} in sale terms: the number every price rule ranks by, higher is better. */
export function orientedScore(side: AuctionSide, price: number, weight: number): number {
  return orientPrice(side, effectivePrice(side, price, weight));
}

/** An oriented score back in the docs' terms (the effective price): the inverse of the orientation. */
export function effectiveFromOriented(side: AuctionSide, score: number): number {
  return side === "sale" ? score : 0 - score;
}

/**
 * Whether a price respects the reserve: sale `price ≥ reserve`, procurement
 * `price ≤ reserve`. Always true without a reserve.
 */
export function withinReserve(
  side: AuctionSide,
  price: number,
  reserve: number | undefined,
): boolean {
  return reserve === undefined || orientPrice(side, price) >= orientPrice(side, reserve);
}

/**
 * The worst price (for the auctioneer) a bidder with reputation weight `w`
 * could have named and still reached oriented score `target`: the smallest
 * integer sale price with `price × w ≥ target`, or the largest integer ask
 * with `−ask / w ≥ target`. It is what Vickrey charges: computed with the
 * very arithmetic the ranking uses, so the winner is never charged a credit
 * more (sale) or paid a credit less (procurement) than the runner-up forces.
 * Returned as a price on `side`, not clamped to the winner's bid (it may be
 * negative for a procurement target above zero; callers clamp to the
 * winner's own bid), but always within ±`Number.MAX_SAFE_INTEGER`: a target
 * beyond the range of whole credits gives the range's end.
 *
 * @throws RangeError if `target` is not finite or `weight` is not a finite
 *   number > 0 (a programming error: clearing validates its inputs first).
 */
export function thresholdPrice(side: AuctionSide, target: number, weight: number): number {
  if (!Number.isFinite(target) || !(weight > 0 && Number.isFinite(weight))) {
    // The stepping below would never end on NaN; clearing validates prices, so this is a caller's bug.
    throw new RangeError(
      `thresholdPrice needs a finite target and a positive weight, got ${target} and ${weight}`,
    );
  }
  // Start from the exact real answer, then step by whole credits until the
  // float comparison the ranking uses agrees: at most a step or two either way.
  // Only within the range of whole credits: beyond 2^53 floats are more than
  // a credit apart, a step would not move, and no such price could be paid;
  // there the price is the nearest whole-credit one (callers clamp further).
  const limit = Number.MAX_SAFE_INTEGER;
  let oriented = Math.min(
    limit,
    Math.max(-limit, Math.ceil(side === "sale" ? target / weight : target * weight)),
  );
  const reaches = (candidate: number): boolean =>
    orientedScore(side, priceFromOriented(side, candidate), weight) >= target;
  while (oriented > -limit && reaches(oriented - 1)) oriented -= 1;
  while (oriented < limit && !reaches(oriented)) oriented += 1;
  return priceFromOriented(side, oriented);
}
