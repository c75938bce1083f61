/**
 * The pure rules of one auction, apart from its book-keeping: what a priced
 * bid must meet under the auction's rule (criteria, take, reserve, English
 * raise, Dutch clock price), the call for proposals a round announces, and
 * the `market.award` body of a finished auction. Clearing itself is in
 * `clearing.ts`.
 */
import type { AuctionResult } from "./auction-types.js";
import type { Rejection } from "./bid-gate.js";
import { isBuilt, markBuilt } from "./built.js";
import { type DutchClock, dutchClockPrice, englishThreshold, isEnoughRaise } from "./clearing.js";
import type { AwardBody, BidBody, CfpBody } from "./messages.js";
import { effectivePrice, orientPrice, withinReserve } from "./orientation.js";
import { missingCriterion } from "./scoring.js";
import type { AcceptedBid, BidInput, RankedBid, ResolvedTerms } from "./types.js";

/**
 * The rule checks (`malformed` criteria or take, `outside-reserve`,
 * `too-small-raise`, `not-the-clock-price`) of a bid weighted `weight`,
 * received at `at`. Returns the credits the bid commits the bidder to (its
 * price; a Dutch take the clock price), or the refusal.
 */
export function checkBidRules(
  terms: ResolvedTerms,
  state: { readonly standing: AcceptedBid | undefined; readonly clock: DutchClock | undefined },
  body: BidBody,
  bidder: string,
  weight: number,
  at: number,
): Rejection | number {
  const { price, criteria, take } = body;
  const { side, rule, reserve } = terms;
  if (rule === "multi-criteria") {
    const input: BidInput =
      criteria === undefined ? { bidder, price } : { bidder, price, criteria };
    const missing = missingCriterion(terms.criteria ?? [], input);
    if (missing !== undefined) {
      return {
        reason: "malformed",
        message: `the bid has no value for criterion "${missing}"; give every criterion in body.criteria (${(terms.criteria ?? []).map((c) => c.name).join(", ")})`,
      };
    }
  }
  if (rule === "dutch" && take !== true) {
    return {
      reason: "malformed",
      message: "a dutch auction takes only bids with take: true at the clock price",
    };
  }
  if (!withinReserve(side, price, reserve)) {
    return {
      reason: "outside-reserve",
      message:
        side === "sale"
          ? `${price} is below the reserve of ${reserve}; bid at least ${reserve}`
          : `${price} is above the reserve of ${reserve}; ask at most ${reserve}`,
    };
  }
  if (rule === "english") {
    const increment = terms.minIncrement as number;
    const standing = state.standing === undefined ? undefined : rankedOf(state.standing);
    if (!isEnoughRaise(side, price, weight, standing, increment)) {
      const target = englishThreshold(side, standing, increment) as number;
      return {
        reason: "too-small-raise",
        message: `effective ${effectivePrice(side, price, weight)} does not beat the standing ${standing?.effective} by ${increment}; it must be ${side === "sale" ? "at least" : "at most"} ${target}`,
      };
    }
  }
  if (state.clock !== undefined) {
    const clockPrice = dutchClockPrice(state.clock, at) as number;
    if (orientPrice(side, price) < orientPrice(side, clockPrice)) {
      return {
        reason: "not-the-clock-price",
        message: `the clock is at ${clockPrice}; a take at ${price} is ${side === "sale" ? "below" : "above"} it (compute the price from the announced clock, or wait)`,
      };
    }
    return clockPrice;
  }
  return price;
}

/** The call for proposals of a round: the body of its `market.cfp`. */
export function callForProposals(
  terms: ResolvedTerms,
  round: {
    readonly number: number;
    readonly opensAt: number;
    readonly closesAt: number;
    readonly standing: AcceptedBid | undefined;
    readonly clock: DutchClock | undefined;
  },
): CfpBody {
  const standing = round.standing === undefined ? undefined : rankedOf(round.standing);
  const threshold =
    terms.rule === "english"
      ? englishThreshold(terms.side, standing, terms.minIncrement as number)
      : undefined;
  const clock = round.clock;
  return {
    auction: terms.id,
    rule: terms.rule,
    side: terms.side,
    round: round.number,
    maxRounds: terms.maxRounds,
    opensAt: round.opensAt,
    closesAt: round.closesAt,
    ...(terms.reserve === undefined ? {} : { reserve: terms.reserve }),
    ...(terms.criteria === undefined ? {} : { criteria: terms.criteria }),
    ...(terms.minIncrement === undefined ? {} : { minIncrement: terms.minIncrement }),
    ...(standing === undefined
      ? {}
      : {
          standing: {
            bidder: standing.bidder,
            price: standing.price,
            effective: standing.effective,
          },
        }),
    ...(threshold === undefined ? {} : { minimumEffective: threshold }),
    ...(clock === undefined
      ? {}
      : {
          clock: {
            startPrice: clock.startPrice,
            step: clock.step,
            stepMs: clock.stepMs,
            stopPrice: clock.stopPrice,
            expiresAt: clock.expiresAt,
          },
        }),
    ...(terms.item === undefined ? {} : { item: terms.item }),
  };
}

/**
 * The `market.award` body announcing a finished auction.
 *
 * @example
 * ```ts
 * const result = auction.result();
 * if (result) publish(createAward(awardBody(result), auctioneer));
 * ```
 */
export function awardBody(result: AuctionResult): AwardBody {
  const body = awardBodyOf(result);
  // Made from a result the state machine built: valid by construction.
  return isBuilt(result) ? markBuilt(body) : body;
}

function awardBodyOf(result: AuctionResult): AwardBody {
  const common = {
    auction: result.auction,
    rule: result.rule,
    side: result.side,
    round: result.status === "awarded" ? result.award.round : result.rounds,
  };
  if (result.status === "unsold") {
    return { ...common, outcome: "unsold", reason: result.reason };
  }
  const { award } = result;
  const score = award.scores?.find((entry) => entry.bidder === award.winner);
  return {
    ...common,
    outcome: "awarded",
    winner: award.winner,
    bid: award.bid.envelope.id,
    price: award.price,
    effectivePrice: award.effectivePrice,
    ...(score === undefined ? {} : { score }),
  };
}

/** A bid as the clearing rules rank it. */
export function rankedOf(bid: AcceptedBid): RankedBid {
  return {
    bidder: bid.bidder,
    price: bid.price,
    reputation: bid.reputation,
    reputationWeight: bid.reputationWeight,
    effective: bid.effectivePrice,
  };
}
