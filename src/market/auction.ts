/**
 * An auction as a pure state machine, in the style of the consensus rounds:
 * {@link Auction.step} takes a received bid envelope and the time it was
 * received, {@link Auction.tick} takes the time; nothing else moves it. No
 * timers, no clock reads, no IO: the runtime publishes what it returns.
 *
 * One machine runs every rule on both sides; the rules themselves live in
 * `clearing.ts` (written once in sale terms, mirrored for procurement).
 *
 * Rounds. Round `r` takes bids from `opensAt + (r − 1) × roundMs` until
 * (excluding) `opensAt + r × roundMs`. Sealed rules (`multi-criteria`,
 * `first-price`, `vickrey`) clear when their single round closes. `english`
 * opens another round while raises keep coming, up to `maxRounds`. `dutch`
 * has one round that ends at the first valid take, or unsold when the clock
 * passes its stop price (or `roundMs` runs out).
 *
 * Time only moves forward: a `now` earlier than one already seen counts as
 * the latest seen. Events carry the time they happened by the rules (a
 * round's `closesAt`), not the time `tick` noticed, so a replay gives the
 * same result whatever the tick cadence.
 */
import { AuctionTermsError } from "../errors/index.js";
import type { Envelope } from "../wire/envelope.js";
import type { BidGate, BidRejection, Rejection } from "./bid-gate.js";
import {
  clearSealed,
  type DutchClock,
  dutchClock,
  dutchClockPrice,
  englishThreshold,
  isEnoughRaise,
  rankByPrice,
} from "./clearing.js";
import { type AwardBody, BID_TYPE, type BidBody, type CfpBody, parseBidBody } from "./messages.js";
import { effectivePrice, orientPrice, withinReserve } from "./orientation.js";
import { reputationOf, reputationWeight } from "./reputation.js";
import { missingCriterion } from "./scoring.js";
import { resolveTerms } from "./terms.js";
import type {
  AcceptedBid,
  AuctionRule,
  AuctionSide,
  AuctionTerms,
  BidInput,
  BidScore,
  IdentityConflict,
  RankedBid,
  ReputationLookup,
  ResolvedTerms,
  UnsoldReason,
} from "./types.js";

/** Refused bids an auction keeps for its result unless told otherwise. */
export const DEFAULT_MAX_RECORDED_REJECTIONS = 1000;

/** Configuration of {@link createAuction}. */
export interface AuctionConfig {
  readonly terms: AuctionTerms;
  /** When round 1 starts taking bids, ms since the epoch (usually the time the first CFP is published). */
  readonly opensAt: number;
  /**
   * Checks every bid's sender: signature, registry, balance, rate. Required:
   * an auction never counts a bid it has not authenticated.
   */
  readonly gate: BidGate;
  /**
   * Reputation in [0, 1] by bidder; unknown (undefined) is 0.5, neutral.
   * Read once per accepted bid and kept with it, so a reputation that changes
   * mid-auction does not change a bid already placed.
   */
  readonly reputation?: ReputationLookup;
  /**
   * Most refused bids kept for {@link AuctionResult.rejected}; later ones
   * are only counted (`rejectedDropped`), so garbage cannot grow an auction
   * without bound. Default {@link DEFAULT_MAX_RECORDED_REJECTIONS}.
   */
  readonly maxRecordedRejections?: number;
}

/** Where an auction stands. */
export type AuctionStatus = "open" | "awarded" | "unsold";

/** The winner and its price. */
export interface Award {
  readonly auction: string;
  readonly rule: AuctionRule;
  readonly side: AuctionSide;
  readonly winner: string;
  /** The winning bid, its signed envelope included. */
  readonly bid: AcceptedBid;
  /** Integer credits the winner pays (sale) or is paid (procurement). */
  readonly price: number;
  /** `price` weighted by the winner's reputation: sale `price × w`, procurement `price / w`. */
  readonly effectivePrice: number;
  /** The round the auction ended in. */
  readonly round: number;
  /** Close of the deciding round (sealed, English) or the take's time (Dutch). */
  readonly awardedAt: number;
  /** Sealed rules: the best eligible bid after the winner (it sets the Vickrey price). */
  readonly runnerUp?: RankedBid;
  /** Multi-criteria: every eligible bid's score breakdown, best first. */
  readonly scores?: readonly BidScore[];
}

/** What {@link Auction.tick} and {@link Auction.step} report. */
export type AuctionEvent =
  /** English: a new round opened; publish `cfp` as a `market.cfp`. */
  | { readonly kind: "round-opened"; readonly cfp: CfpBody }
  | { readonly kind: "awarded"; readonly award: Award }
  | {
      readonly kind: "unsold";
      readonly reason: UnsoldReason;
      readonly message: string;
      readonly at: number;
    };

/** A refused bid, as kept in the result. */
export interface RejectedBid {
  /** The envelope as received (it may be forged: `from` is only a claim). */
  readonly envelope: Envelope;
  readonly reason: BidRejection;
  readonly message: string;
  readonly receivedAt: number;
  /** `duplicate-identity`: who it collided with. */
  readonly conflict?: IdentityConflict;
}

/** What became of a bid handed to {@link Auction.step}. `events` are what the elapsed time caused (and a Dutch award). */
export type BidOutcome =
  | {
      readonly accepted: true;
      readonly bid: AcceptedBid;
      readonly events: readonly AuctionEvent[];
    }
  | {
      readonly accepted: false;
      readonly reason: BidRejection;
      readonly message: string;
      readonly conflict?: IdentityConflict;
      readonly events: readonly AuctionEvent[];
    };

interface ResultCommon {
  readonly auction: string;
  readonly rule: AuctionRule;
  readonly side: AuctionSide;
  readonly terms: ResolvedTerms;
  /** Rounds opened. */
  readonly rounds: number;
  readonly endedAt: number;
  /** Every accepted bid, in the order accepted. */
  readonly bids: readonly AcceptedBid[];
  /** Refused bids while the auction was open, in order, up to `maxRecordedRejections`. */
  readonly rejected: readonly RejectedBid[];
  /** Refused bids not kept because the cap was reached. */
  readonly rejectedDropped: number;
  /** Suspected shill bidding: pairs of bidders that share a key or an owner. */
  readonly identityConflicts: readonly IdentityConflict[];
}

/** A finished auction: the award or why it went unsold, with every bid seen. */
export type AuctionResult =
  | (ResultCommon & { readonly status: "awarded"; readonly award: Award })
  | (ResultCommon & {
      readonly status: "unsold";
      readonly reason: UnsoldReason;
      readonly message: string;
    });

/** One auction. Create with {@link createAuction}. */
export interface Auction {
  readonly id: string;
  /** The validated terms, defaults filled in. */
  readonly terms: ResolvedTerms;
  readonly status: AuctionStatus;
  /**
   * The call for proposals of the current round (the last round once the
   * auction is over): publish it as a `market.cfp` when the auction is
   * created; later rounds arrive as `round-opened` events.
   */
  announcement(): CallForProposals;
  /**
   * Offers a received bid envelope (decoded, not yet trusted) at time `now`.
   * Time is advanced first (a round may close, even the auction). The bid is
   * then checked in the order of `bidRejections` and either accepted or
   * refused with a typed reason; refusals are kept for the result while the
   * auction is open. Never throws on bad input.
   */
  step(bid: Envelope, now: number): BidOutcome;
  /**
   * Advances time to `now`: closes every round whose `closesAt` has passed,
   * opening the next (English) or finishing the auction. Returns what
   * happened, in order; empty when nothing did. Idempotent for a given `now`.
   */
  tick(now: number): AuctionEvent[];
  /** The outcome once the auction is over, else undefined. */
  result(): AuctionResult | undefined;
}

/** A call for proposals: the body of a `market.cfp` envelope. */
export type CallForProposals = CfpBody;

/**
 * Starts an auction whose round 1 opens at `config.opensAt`.
 *
 * @throws AuctionTermsError naming the term to fix if the terms are invalid.
 *
 * @example
 * ```ts
 * const auction = createAuction({
 *   terms: { id: taskId, rule: "vickrey", side: "procurement", reserve: 500, roundMs: 5_000 },
 *   opensAt: clock.now(),
 *   gate,
 *   reputation: (agent) => store.reputationOf(agent),
 * });
 * publish(createCfp(auction.announcement(), auctioneer));
 * // for each bid received:  auction.step(envelope, clock.now())
 * // on a timer:             for (const event of auction.tick(clock.now())) publish(event)
 * const result = auction.result(); // status "awarded": result.award.winner, result.award.price
 * ```
 */
export function createAuction(config: AuctionConfig): Auction {
  return new AuctionImpl(config);
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

function rankedOf(bid: AcceptedBid): RankedBid {
  return {
    bidder: bid.bidder,
    price: bid.price,
    reputation: bid.reputation,
    reputationWeight: bid.reputationWeight,
    effective: bid.effectivePrice,
  };
}

class AuctionImpl implements Auction {
  readonly id: string;
  readonly terms: ResolvedTerms;
  readonly #opensAt: number;
  readonly #gate: BidGate;
  readonly #reputation: ReputationLookup | undefined;
  readonly #maxRejected: number;
  readonly #clock: DutchClock | undefined;

  #status: AuctionStatus = "open";
  /** The latest time seen: time never moves backwards. */
  #now = Number.NEGATIVE_INFINITY;
  #round = 1;
  #roundOpensAt: number;
  #roundClosesAt: number;
  #cfp: CfpBody;
  /** This round's accepted bids by bidder: one each. */
  #roundBids = new Map<string, AcceptedBid>();
  readonly #bids: AcceptedBid[] = [];
  /** Envelope ids taken from authenticated senders: a second copy is a replay. */
  readonly #seen = new Set<string>();
  /** Who already bid under a public key / an owner, for shill detection. */
  readonly #byKey = new Map<string, string>();
  readonly #byOwner = new Map<string, string>();
  #standing: AcceptedBid | undefined;
  readonly #rejected: RejectedBid[] = [];
  #rejectedDropped = 0;
  readonly #conflicts: IdentityConflict[] = [];
  /** Bids refused for the reserve: tells `no-bids` from `no-eligible-bids`. */
  #outsideReserve = 0;
  #result: AuctionResult | undefined;

  constructor(config: AuctionConfig) {
    this.terms = resolveTerms(config.terms);
    this.id = this.terms.id;
    if (!Number.isSafeInteger(config.opensAt) || config.opensAt < 0) {
      throw new AuctionTermsError(
        "opensAt",
        `must be ms since the epoch (a whole number ≥ 0), got ${String(config.opensAt)}`,
      );
    }
    this.#opensAt = config.opensAt;
    this.#gate = config.gate;
    this.#reputation = config.reputation;
    this.#maxRejected = config.maxRecordedRejections ?? DEFAULT_MAX_RECORDED_REJECTIONS;
    this.#roundOpensAt = config.opensAt;
    if (this.terms.rule === "dutch") {
      this.#clock = dutchClock(this.terms, config.opensAt);
      this.#roundClosesAt = Math.min(config.opensAt + this.terms.roundMs, this.#clock.expiresAt);
    } else {
      this.#clock = undefined;
      this.#roundClosesAt = config.opensAt + this.terms.roundMs;
    }
    this.#cfp = this.#makeCfp();
  }

  get status(): AuctionStatus {
    return this.#status;
  }

  announcement(): CallForProposals {
    return this.#cfp;
  }

  result(): AuctionResult | undefined {
    return this.#result;
  }

  tick(now: number): AuctionEvent[] {
    if (now > this.#now) this.#now = now;
    const events: AuctionEvent[] = [];
    while (this.#status === "open" && this.#now >= this.#roundClosesAt) {
      this.#closeRound(events);
    }
    return events;
  }

  step(envelope: Envelope, now: number): BidOutcome {
    const events = this.tick(now);
    const at = this.#now;
    if (this.#status !== "open") {
      // Not recorded: the result is final once the auction is over.
      return {
        accepted: false,
        reason: "late",
        message: `auction ${this.id} is over (${this.#status}); the bid arrived too late`,
        events,
      };
    }
    const refuse = (rejection: Rejection, conflict?: IdentityConflict): BidOutcome => {
      this.#record({
        envelope,
        reason: rejection.reason,
        message: rejection.message,
        receivedAt: at,
        ...(conflict === undefined ? {} : { conflict }),
      });
      return {
        accepted: false,
        reason: rejection.reason,
        message: rejection.message,
        ...(conflict === undefined ? {} : { conflict }),
        events,
      };
    };

    if (envelope.type !== BID_TYPE) {
      return refuse({
        reason: "malformed",
        message: `expected a ${BID_TYPE} envelope, got ${String(envelope.type).slice(0, 64)}`,
      });
    }
    const body = parseBidBody(envelope.body);
    if (typeof body === "string") {
      return refuse({ reason: "malformed", message: `bid ${envelope.id}: ${body}` });
    }
    if (body.auction !== this.id) {
      return refuse({
        reason: "wrong-auction",
        message: `bid ${envelope.id} is for auction ${body.auction}, not ${this.id}`,
      });
    }
    if (at < this.#opensAt) {
      return refuse({
        reason: "early",
        message: `auction ${this.id} opens at ${this.#opensAt}; bid again after the call for proposals`,
      });
    }
    if (body.round !== this.#round) {
      return refuse(
        body.round < this.#round
          ? {
              reason: "late",
              message: `round ${body.round} of auction ${this.id} closed; round ${this.#round} is open, bid in it`,
            }
          : {
              reason: "wrong-round",
              message: `round ${body.round} of auction ${this.id} has not opened; round ${this.#round} is open`,
            },
      );
    }
    if (this.#seen.has(envelope.id)) {
      return refuse({
        reason: "replay",
        message: `bid ${envelope.id} was received before; the first copy stands`,
      });
    }
    const admission = this.#gate.admit(envelope);
    if (!admission.admitted) return refuse(admission);
    this.#seen.add(envelope.id);
    const bidder = envelope.from;

    const throttled = this.#gate.throttle(bidder, at);
    if (throttled !== undefined) return refuse(throttled);
    const earlier = this.#roundBids.get(bidder);
    if (earlier !== undefined) {
      return refuse({
        reason: "duplicate-bid",
        message: `${bidder} already bid in round ${this.#round} (${earlier.envelope.id}); one bid per round, the first stands`,
      });
    }
    const conflict = this.#identityConflict(bidder, admission.facts, envelope.id);
    if (conflict !== undefined) {
      this.#conflicts.push(conflict);
      return refuse(
        {
          reason: "duplicate-identity",
          message: `${bidder} shares its ${conflict.shared === "public-key" ? "public key" : "owner"} with ${conflict.first}, who already bids in auction ${this.id}; one principal, one bidder`,
        },
        conflict,
      );
    }

    // Read once: the snapshot the bid is judged and later ranked with.
    const reputation = reputationOf(this.#reputation, bidder);
    const weight = reputationWeight(reputation);
    const committed = this.#checkRules(body, bidder, weight, at);
    if (typeof committed !== "number") return refuse(committed);
    const unaffordable = this.#gate.afford(bidder, committed, this.terms.side);
    if (unaffordable !== undefined) return refuse(unaffordable);

    const accepted: AcceptedBid = {
      envelope,
      bidder,
      round: this.#round,
      price: body.price,
      ...(body.criteria === undefined ? {} : { criteria: body.criteria }),
      reputation,
      reputationWeight: weight,
      effectivePrice: effectivePrice(this.terms.side, body.price, weight),
      receivedAt: at,
    };
    this.#bids.push(accepted);
    this.#roundBids.set(bidder, accepted);
    const { publicKey, owner } = admission.facts;
    if (!this.#byKey.has(publicKey)) this.#byKey.set(publicKey, bidder);
    if (owner !== undefined && !this.#byOwner.has(owner)) this.#byOwner.set(owner, bidder);

    if (this.#clock !== undefined) {
      // Dutch: the first valid take wins at once, at the clock price.
      events.push(this.#award(accepted, committed, at, {}));
    }
    return { accepted: true, bid: accepted, events };
  }

  /**
   * The rule checks (`malformed` criteria or take, `outside-reserve`,
   * `too-small-raise`, `not-the-clock-price`). Returns the credits the bid
   * commits the bidder to (its price; a Dutch take the clock price), or the
   * refusal.
   */
  #checkRules(body: BidBody, bidder: string, weight: number, at: number): Rejection | number {
    const { price, criteria, take } = body;
    const { side, rule, reserve } = this.terms;
    if (rule === "multi-criteria") {
      const input: BidInput =
        criteria === undefined ? { bidder, price } : { bidder, price, criteria };
      const missing = missingCriterion(this.terms.criteria ?? [], input);
      if (missing !== undefined) {
        return {
          reason: "malformed",
          message: `the bid has no value for criterion "${missing}"; give every criterion in body.criteria (${(this.terms.criteria ?? []).map((c) => c.name).join(", ")})`,
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
      this.#outsideReserve++;
      return {
        reason: "outside-reserve",
        message:
          side === "sale"
            ? `${price} is below the reserve of ${reserve}; bid at least ${reserve}`
            : `${price} is above the reserve of ${reserve}; ask at most ${reserve}`,
      };
    }
    if (rule === "english") {
      const increment = this.terms.minIncrement as number;
      const standing = this.#standing === undefined ? undefined : rankedOf(this.#standing);
      if (!isEnoughRaise(side, price, weight, standing, increment)) {
        const target = englishThreshold(side, standing, increment) as number;
        return {
          reason: "too-small-raise",
          message: `effective ${effectivePrice(side, price, weight)} does not beat the standing ${standing?.effective} by ${increment}; it must be ${side === "sale" ? "at least" : "at most"} ${target}`,
        };
      }
    }
    if (this.#clock !== undefined) {
      const clockPrice = dutchClockPrice(this.#clock, at) as number;
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

  #identityConflict(
    bidder: string,
    facts: { readonly publicKey: string; readonly owner?: string },
    bid: string,
  ): IdentityConflict | undefined {
    const sameKey = this.#byKey.get(facts.publicKey);
    if (sameKey !== undefined && sameKey !== bidder) {
      return { first: sameKey, second: bidder, shared: "public-key", bid };
    }
    if (facts.owner !== undefined) {
      const sameOwner = this.#byOwner.get(facts.owner);
      if (sameOwner !== undefined && sameOwner !== bidder) {
        return { first: sameOwner, second: bidder, shared: "owner", bid };
      }
    }
    return undefined;
  }

  #closeRound(events: AuctionEvent[]): void {
    const closedAt = this.#roundClosesAt;
    const { rule, side } = this.terms;
    if (rule === "dutch") {
      this.#unsold(events, "no-taker", `nobody took the clock before ${closedAt}`, closedAt);
      return;
    }
    const bids = [...this.#roundBids.values()];
    const snapshot = new Map(bids.map((bid) => [bid.bidder, bid.reputation]));
    const lookup: ReputationLookup = (bidder) => snapshot.get(bidder);
    if (rule !== "english") {
      const clearing = clearSealed(this.terms, bids, lookup);
      if (clearing.outcome === "unsold") {
        this.#unsoldForLackOfBids(events, closedAt);
        return;
      }
      const winning = this.#roundBids.get(clearing.winner.bidder) as AcceptedBid;
      events.push(
        this.#award(winning, clearing.price, closedAt, {
          ...(clearing.runnerUp === undefined ? {} : { runnerUp: clearing.runnerUp }),
          ...(clearing.scores === undefined ? {} : { scores: clearing.scores }),
        }),
      );
      return;
    }
    // English: the best raise of the round becomes the standing bid.
    const best = rankByPrice(side, bids, lookup)[0];
    if (best !== undefined) this.#standing = this.#roundBids.get(best.bidder);
    if (best === undefined || this.#round >= this.terms.maxRounds) {
      const standing = this.#standing;
      if (standing === undefined) {
        this.#unsoldForLackOfBids(events, closedAt);
      } else {
        events.push(this.#award(standing, standing.price, closedAt, {}));
      }
      return;
    }
    this.#round += 1;
    this.#roundBids = new Map();
    this.#roundOpensAt = closedAt;
    this.#roundClosesAt = closedAt + this.terms.roundMs;
    this.#cfp = this.#makeCfp();
    events.push({ kind: "round-opened", cfp: this.#cfp });
  }

  #unsoldForLackOfBids(events: AuctionEvent[], at: number): void {
    if (this.#outsideReserve > 0) {
      const { side, reserve } = this.terms;
      this.#unsold(
        events,
        "no-eligible-bids",
        `every priced bid was ${side === "sale" ? "below" : "above"} the reserve of ${reserve}`,
        at,
      );
    } else {
      this.#unsold(events, "no-bids", "no valid bid was received", at);
    }
  }

  #award(
    bid: AcceptedBid,
    price: number,
    at: number,
    extras: { runnerUp?: RankedBid; scores?: readonly BidScore[] },
  ): AuctionEvent {
    const award: Award = {
      auction: this.id,
      rule: this.terms.rule,
      side: this.terms.side,
      winner: bid.bidder,
      bid,
      price,
      effectivePrice: effectivePrice(this.terms.side, price, bid.reputationWeight),
      round: this.#round,
      awardedAt: at,
      ...extras,
    };
    this.#status = "awarded";
    this.#result = { ...this.#common(at), status: "awarded", award };
    return { kind: "awarded", award };
  }

  #unsold(events: AuctionEvent[], reason: UnsoldReason, message: string, at: number): void {
    this.#status = "unsold";
    this.#result = { ...this.#common(at), status: "unsold", reason, message };
    events.push({ kind: "unsold", reason, message, at });
  }

  #common(endedAt: number): ResultCommon {
    return {
      auction: this.id,
      rule: this.terms.rule,
      side: this.terms.side,
      terms: this.terms,
      rounds: this.#round,
      endedAt,
      bids: this.#bids.slice(),
      rejected: this.#rejected.slice(),
      rejectedDropped: this.#rejectedDropped,
      identityConflicts: this.#conflicts.slice(),
    };
  }

  #record(rejected: RejectedBid): void {
    if (this.#rejected.length < this.#maxRejected) this.#rejected.push(rejected);
    else this.#rejectedDropped++;
  }

  #makeCfp(): CfpBody {
    const { terms } = this;
    const standing = this.#standing === undefined ? undefined : rankedOf(this.#standing);
    const threshold =
      terms.rule === "english"
        ? englishThreshold(terms.side, standing, terms.minIncrement as number)
        : undefined;
    const clock = this.#clock;
    return {
      auction: this.id,
      rule: terms.rule,
      side: terms.side,
      round: this.#round,
      maxRounds: terms.maxRounds,
      opensAt: this.#roundOpensAt,
      closesAt: this.#roundClosesAt,
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
}
