/**
 * Pure clearing: who wins a set of bids and at what price, for every rule,
 * both sides. The auction state machine calls these at the end of a round;
 * benchmarks and property tests call them directly.
 *
 * Rules are written once in sale terms (see `orientation.ts`): a score is
 * "higher is better", a procurement ask enters negated. Ties are broken the
 * same way everywhere, so a clearing is a function of its bids alone (never
 * of their arrival order):
 *
 * 1. higher effective score (reputation-weighted price or multi-criteria score);
 * 2. multi-criteria only: higher raw score (before reputation);
 * 3. better raw price for the auctioneer (sale: higher; procurement: lower);
 * 4. bidder id, lexicographically smaller first (UTF-16 code units).
 */
import { AuctionTermsError, BidRejectedError } from "../errors/index.js";
import {
  effectiveFromOriented,
  effectivePrice,
  orientedScore,
  orientPrice,
  priceFromOriented,
  thresholdPrice,
  withinReserve,
} from "./orientation.js";
import { reputationOf, reputationWeight } from "./reputation.js";
import { scoreMultiCriteria } from "./scoring.js";
import type {
  AuctionRule,
  AuctionSide,
  AuctionTerms,
  BidInput,
  BidScore,
  RankedBid,
  ReputationLookup,
  UnsoldReason,
} from "./types.js";

/** The terms clearing needs: a subset of {@link AuctionTerms}. */
export type ClearingTerms = Pick<AuctionTerms, "rule" | "side" | "reserve" | "criteria"> & {
  /** Named in error messages. */
  readonly id?: string;
};

/** Rules decided by one sealed round. */
export const sealedRules: readonly AuctionRule[] = ["multi-criteria", "first-price", "vickrey"];

/** The result of clearing a set of bids. */
export type Clearing =
  | {
      readonly outcome: "awarded";
      readonly winner: RankedBid;
      /** Integer credits the winner pays (sale) or is paid (procurement). */
      readonly price: number;
      /** `price` weighted by the winner's reputation: sale `price × w`, procurement `price / w`. */
      readonly effectivePrice: number;
      /** The best eligible bid after the winner, if any: it sets the Vickrey price. */
      readonly runnerUp?: RankedBid;
      /** Every eligible bid, best first; the winner is `ranking[0]`. */
      readonly ranking: readonly RankedBid[];
      /** Multi-criteria: every eligible bid's breakdown, best first. */
      readonly scores?: readonly BidScore[];
    }
  | {
      readonly outcome: "unsold";
      readonly reason: UnsoldReason;
      readonly message: string;
    };

/** A ranked bid with the sort keys that are not part of the public shape. */
interface Ranked {
  readonly bid: RankedBid;
  /** Effective, oriented so that higher is better. */
  readonly score: number;
  /** Multi-criteria raw score; 0 for price rules (the key then never decides). */
  readonly raw: number;
  readonly orientedPrice: number;
}

function compareRanked(a: Ranked, b: Ranked): number {
  if (a.score !== b.score) return b.score - a.score;
  if (a.raw !== b.raw) return b.raw - a.raw;
  if (a.orientedPrice !== b.orientedPrice) return b.orientedPrice - a.orientedPrice;
  return a.bid.bidder < b.bid.bidder ? -1 : a.bid.bidder > b.bid.bidder ? 1 : 0;
}

/**
 * Ranks bids best first under a price rule (`first-price`, `vickrey`,
 * `english`, `dutch`): by reputation-weighted price, then the tie-breaks
 * above. Bids outside the reserve are left out.
 *
 * @example
 * ```ts
 * rankByPrice("procurement", [{ bidder: "a", price: 90 }, { bidder: "b", price: 80 }]);
 * // [b (80), a (90)]: the lower ask ranks first
 * ```
 */
export function rankByPrice(
  side: AuctionSide,
  bids: readonly BidInput[],
  reputation?: ReputationLookup,
  reserve?: number,
): RankedBid[] {
  requireWholePrices(bids, undefined);
  return rankPrices(side, bids, reputation, reserve).map((entry) => entry.bid);
}

function rankPrices(
  side: AuctionSide,
  bids: readonly BidInput[],
  reputation: ReputationLookup | undefined,
  reserve: number | undefined,
): Ranked[] {
  const ranked: Ranked[] = [];
  for (const bid of bids) {
    if (!withinReserve(side, bid.price, reserve)) continue;
    const rep = reputationOf(reputation, bid.bidder);
    const weight = reputationWeight(rep);
    ranked.push({
      bid: {
        bidder: bid.bidder,
        price: bid.price,
        reputation: rep,
        reputationWeight: weight,
        effective: effectivePrice(side, bid.price, weight),
      },
      score: orientedScore(side, bid.price, weight),
      raw: 0,
      orientedPrice: orientPrice(side, bid.price),
    });
  }
  return ranked.sort(compareRanked);
}

/**
 * Prices are whole credits: anything else (a fraction, NaN, a negative) would
 * make a clearing price meaningless, so it is refused loudly. Auctions refuse
 * such bids as `malformed` on arrival; only direct callers can get here.
 */
function requireWholePrices(bids: readonly BidInput[], auction: string | undefined): void {
  for (const bid of bids) {
    if (!Number.isSafeInteger(bid.price) || bid.price < 0) {
      throw new BidRejectedError(
        "malformed",
        auction ?? "(cleared directly)",
        `bid by ${String(bid.bidder)} has price ${String(bid.price)}; prices are whole credits ≥ 0`,
      );
    }
  }
}

/**
 * The oriented score of a ranked bid, recomputed from its public fields: the
 * number a challenger must reach to beat it (English) or the runner-up's
 * level the Vickrey price is derived from.
 */
export function scoreOf(side: AuctionSide, bid: RankedBid): number {
  return orientedScore(side, bid.price, bid.reputationWeight);
}

/**
 * Clears one sealed round (`multi-criteria`, `first-price` or `vickrey`).
 *
 * - Eligibility: bids outside the reserve are dropped first; multi-criteria
 *   normalises across the remaining bids only.
 * - Winner: the best bid under the ranking in this module's header.
 * - Price: `first-price` and `multi-criteria` charge (or pay) the winner's
 *   own bid. `vickrey` charges the smallest sale price (largest ask) with
 *   which the winner's effective bid would still have reached the
 *   runner-up's effective bid, i.e. `ceil(second / w)` for a sale and
 *   `floor(second × w)` for procurement, computed with the ranking's own
 *   arithmetic; then at least as good for the auctioneer as the reserve,
 *   and never worse for the winner than its own bid. Without a runner-up the
 *   price is the reserve, or the winner's own bid without a reserve. With
 *   neutral reputations (`w = 1`) this is exactly the second-highest bid
 *   (sale) or second-lowest ask (procurement). Bidding one's true value is
 *   then a dominant strategy whenever there is a reserve or a rival bid; a
 *   lone bidder without a reserve pays its own bid, since nothing else can
 *   price it.
 *
 * The invariant every rule keeps: a sale winner never pays more than it bid;
 * a procurement winner is never paid less than it asked.
 *
 * @throws AuctionTermsError if `terms.rule` is not a sealed rule or a
 *   multi-criteria auction has no criteria; BidRejectedError (`malformed`)
 *   if a price is not whole credits ≥ 0 or a multi-criteria bid lacks a
 *   criterion value.
 *
 * @example
 * ```ts
 * const clearing = clearSealed(
 *   { rule: "vickrey", side: "sale" },
 *   [{ bidder: "a", price: 120 }, { bidder: "b", price: 100 }, { bidder: "c", price: 90 }],
 * );
 * // { outcome: "awarded", winner: a, price: 100, … }
 * ```
 */
export function clearSealed(
  terms: ClearingTerms,
  bids: readonly BidInput[],
  reputation?: ReputationLookup,
): Clearing {
  if (!sealedRules.includes(terms.rule)) {
    throw new AuctionTermsError(
      "rule",
      `is ${terms.rule}; clearSealed clears ${sealedRules.join(", ")} only (english and dutch clear round by round in createAuction)`,
    );
  }
  requireWholePrices(bids, terms.id);
  const { side, reserve } = terms;
  if (bids.length === 0) {
    return { outcome: "unsold", reason: "no-bids", message: "no bid was received" };
  }
  const eligible = bids.filter((bid) => withinReserve(side, bid.price, reserve));
  if (eligible.length === 0) {
    return {
      outcome: "unsold",
      reason: "no-eligible-bids",
      message: `every bid was ${side === "sale" ? "below" : "above"} the reserve of ${reserve}`,
    };
  }
  if (terms.rule === "multi-criteria") return clearMultiCriteria(terms, eligible, reputation);

  const ranking = rankPrices(side, eligible, reputation, undefined);
  const winner = (ranking[0] as Ranked).bid;
  const runnerUp = ranking[1]?.bid;
  const price =
    terms.rule === "vickrey"
      ? vickreyPrice(
          side,
          winner,
          runnerUp === undefined ? undefined : scoreOf(side, runnerUp),
          reserve,
        )
      : winner.price;
  return {
    outcome: "awarded",
    winner,
    price,
    effectivePrice: effectivePrice(side, price, winner.reputationWeight),
    ...(runnerUp === undefined ? {} : { runnerUp }),
    ranking: ranking.map((entry) => entry.bid),
  };
}

/**
 * What a Vickrey winner pays (sale) or is paid (procurement), given the
 * runner-up's oriented score (undefined without a runner-up). See
 * {@link clearSealed}.
 */
export function vickreyPrice(
  side: AuctionSide,
  winner: RankedBid,
  runnerUpScore: number | undefined,
  reserve: number | undefined,
): number {
  const own = orientPrice(side, winner.price);
  if (runnerUpScore === undefined) {
    return reserve === undefined
      ? winner.price
      : priceFromOriented(side, Math.min(own, orientPrice(side, reserve)));
  }
  let oriented = orientPrice(side, thresholdPrice(side, runnerUpScore, winner.reputationWeight));
  if (reserve !== undefined) oriented = Math.max(oriented, orientPrice(side, reserve));
  return priceFromOriented(side, Math.min(oriented, own));
}

function clearMultiCriteria(
  terms: ClearingTerms,
  eligible: readonly BidInput[],
  reputation: ReputationLookup | undefined,
): Clearing {
  const criteria = terms.criteria;
  if (criteria === undefined || criteria.length === 0) {
    throw new AuctionTermsError("criteria", "is required for multi-criteria: list at least one");
  }
  const scores = scoreMultiCriteria(criteria, eligible, reputation, terms.id);
  const ranked: Ranked[] = scores.map((score) => ({
    bid: {
      bidder: score.bidder,
      price: score.price,
      reputation: score.reputation,
      reputationWeight: score.reputationWeight,
      effective: score.effective,
      score,
    },
    score: score.effective,
    raw: score.raw,
    orientedPrice: orientPrice(terms.side, score.price),
  }));
  ranked.sort(compareRanked);
  const winner = (ranked[0] as Ranked).bid;
  const runnerUp = ranked[1]?.bid;
  return {
    outcome: "awarded",
    winner,
    price: winner.price,
    effectivePrice: effectivePrice(terms.side, winner.price, winner.reputationWeight),
    ...(runnerUp === undefined ? {} : { runnerUp }),
    ranking: ranked.map((entry) => entry.bid),
    scores: ranked.map((entry) => entry.bid.score as BidScore),
  };
}

/**
 * English: the effective bid a raise must reach to beat `standing` by
 * `minIncrement`, in the docs' terms (sale: at least this; procurement: at
 * most this). Undefined with no standing bid: the first bid needs only to
 * respect the reserve.
 */
export function englishThreshold(
  side: AuctionSide,
  standing: RankedBid | undefined,
  minIncrement: number,
): number | undefined {
  if (standing === undefined) return undefined;
  return effectiveFromOriented(side, scoreOf(side, standing) + minIncrement);
}

/** Whether a bid with `price` and reputation weight `weight` beats `standing` by `minIncrement` (English). */
export function isEnoughRaise(
  side: AuctionSide,
  price: number,
  weight: number,
  standing: RankedBid | undefined,
  minIncrement: number,
): boolean {
  if (standing === undefined) return true;
  return orientedScore(side, price, weight) >= scoreOf(side, standing) + minIncrement;
}

/** A Dutch clock: where it starts, how it moves, where it stops. */
export interface DutchClock {
  readonly side: AuctionSide;
  readonly opensAt: number;
  readonly startPrice: number;
  readonly step: number;
  readonly stepMs: number;
  /** The last price the clock shows: the reserve (sale: 0 without one). */
  readonly stopPrice: number;
  /** When the clock would pass the stop price: the auction ends unsold then. */
  readonly expiresAt: number;
}

/**
 * The clock of a Dutch auction opened at `opensAt`. Sale: the asking price
 * falls from `startPrice` by `step` every `stepMs` down to the reserve (0
 * without one). Procurement, the mirror: the offered payment rises from
 * `startPrice` by `step` every `stepMs` up to the reserve.
 *
 * @example
 * ```ts
 * const clock = dutchClock({ side: "sale", startPrice: 100, step: 10, stepMs: 1000, reserve: 75 }, 0);
 * dutchClockPrice(clock, 2500); // 80
 * clock.expiresAt;              // 3000: 70 would be below the reserve
 * ```
 */
export function dutchClock(
  terms: Pick<AuctionTerms, "side" | "startPrice" | "step" | "stepMs" | "reserve">,
  opensAt: number,
): DutchClock {
  const { side } = terms;
  if (terms.startPrice === undefined || terms.step === undefined || terms.stepMs === undefined) {
    throw new AuctionTermsError("startPrice", "step and stepMs are required for a dutch clock");
  }
  const stopPrice = terms.reserve ?? 0;
  if (side === "procurement" && terms.reserve === undefined) {
    throw new AuctionTermsError(
      "reserve",
      "is required for a procurement dutch clock (its ceiling)",
    );
  }
  const span = orientPrice(side, terms.startPrice) - orientPrice(side, stopPrice);
  const lastStep = Math.floor(span / terms.step);
  return {
    side,
    opensAt,
    startPrice: terms.startPrice,
    step: terms.step,
    stepMs: terms.stepMs,
    stopPrice,
    expiresAt: opensAt + (lastStep + 1) * terms.stepMs,
  };
}

/**
 * The clock's price at `now` (the start price before `opensAt`), or
 * undefined once the clock has passed its stop price.
 */
export function dutchClockPrice(clock: DutchClock, now: number): number | undefined {
  if (now >= clock.expiresAt) return undefined;
  const steps = now <= clock.opensAt ? 0 : Math.floor((now - clock.opensAt) / clock.stepMs);
  const oriented = orientPrice(clock.side, clock.startPrice) - steps * clock.step;
  return priceFromOriented(clock.side, oriented);
}
