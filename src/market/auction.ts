/**
 * An auction as a pure state machine, in the style of the consensus rounds:
 * {@link Auction.step} takes a received bid envelope and the time it was
 * received, {@link Auction.tick} takes the time; nothing else moves it. No
 * timers, no clock reads, no IO: the runtime publishes what it returns.
 *
 * One machine runs every rule on both sides; the rules themselves live in
 * `clearing.ts` (written once in sale terms, mirrored for procurement) and
 * `auction-rules.ts` (what a bid must meet, the call for proposals, the
 * award body); what the auction has seen is kept in `auction-book.ts`; its
 * public shapes are in `auction-types.ts`.
 *
 * Rounds. Round `r` takes bids from `opensAt + (r − 1) × roundMs` until
 * (excluding) `opensAt + r × roundMs`. Sealed rules (`multi-criteria`,
 * `first-price`, `vickrey`) clear when their single round closes. `english`
 * opens another round while raises keep coming, up to `maxRounds`. A sealed
 * round closes early, at the time of the last answer, once every bidder in
 * `expectedBidders` has answered. `dutch`
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
import { AuctionBook } from "./auction-book.js";
import { callForProposals, checkBidRules } from "./auction-rules.js";
import {
  type Auction,
  type AuctionConfig,
  type AuctionEvent,
  type AuctionResult,
  type AuctionStatus,
  type Award,
  type BidOutcome,
  type CallForProposals,
  DEFAULT_MAX_RECORDED_REJECTIONS,
} from "./auction-types.js";
import type { BidGate, Rejection } from "./bid-gate.js";
import { markBuilt } from "./built.js";
import { clearSealed, type DutchClock, dutchClock, rankByPrice } from "./clearing.js";
import { BID_TYPE, type CfpBody, parseBidBody } from "./messages.js";
import { effectivePrice } from "./orientation.js";
import { reputationOf, reputationWeight } from "./reputation.js";
import { resolveTerms } from "./terms.js";
import type {
  AcceptedBid,
  BidScore,
  IdentityConflict,
  RankedBid,
  ReputationLookup,
  ResolvedTerms,
  UnsoldReason,
} from "./types.js";

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

class AuctionImpl implements Auction {
  readonly id: string;
  readonly terms: ResolvedTerms;
  readonly #opensAt: number;
  readonly #gate: BidGate;
  readonly #reputation: ReputationLookup | undefined;
  readonly #clock: DutchClock | undefined;
  /** Sealed rules: who must answer before the round may close early; empty: nobody can close it early. */
  readonly #expected: ReadonlySet<string>;
  /** Bidders whose bid passed the gate this round (accepted or refused by the rules). */
  readonly #answered = new Set<string>();

  #status: AuctionStatus = "open";
  /** The latest time seen: time never moves backwards. */
  #now = Number.NEGATIVE_INFINITY;
  #round = 1;
  #roundOpensAt: number;
  #roundClosesAt: number;
  #cfp: CfpBody;
  readonly #book: AuctionBook;
  /** English: the best bid so far, the one a raise must beat. */
  #standing: AcceptedBid | undefined;
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
    this.#expected =
      this.terms.rule === "english" || this.terms.rule === "dutch"
        ? new Set()
        : new Set(config.expectedBidders ?? []);
    this.#book = new AuctionBook(config.maxRecordedRejections ?? DEFAULT_MAX_RECORDED_REJECTIONS);
    this.#roundOpensAt = config.opensAt;
    if (this.terms.rule === "dutch") {
      this.#clock = dutchClock(this.terms, config.opensAt);
      this.#roundClosesAt = Math.min(config.opensAt + this.terms.roundMs, this.#clock.expiresAt);
    } else {
      this.#clock = undefined;
      this.#roundClosesAt = config.opensAt + this.terms.roundMs;
    }
    this.#cfp = this.#announce();
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
    const outcome = this.#judge(envelope, this.#now, events);
    if (this.#status === "open" && this.#everyoneAnswered()) {
      // Nobody else can still bid: the round closes now, not at its deadline.
      this.#roundClosesAt = this.#now;
      this.#closeRound(events);
    }
    return outcome;
  }

  #everyoneAnswered(): boolean {
    if (this.#expected.size === 0 || this.#answered.size < this.#expected.size) return false;
    for (const bidder of this.#expected) if (!this.#answered.has(bidder)) return false;
    return true;
  }

  /** Accepts or refuses one bid received at `at`; `events` are the ones this step produced so far. */
  #judge(envelope: Envelope, at: number, events: AuctionEvent[]): BidOutcome {
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
      this.#book.refuse({
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
    if (this.#book.seen(envelope.id)) {
      return refuse({
        reason: "replay",
        message: `bid ${envelope.id} was received before; the first copy stands`,
      });
    }
    const admission = this.#gate.admit(envelope);
    if (!admission.admitted) return refuse(admission);
    this.#book.markSeen(envelope.id);
    const bidder = envelope.from;
    // Authenticated: whatever the rules say of its bid, this bidder has answered.
    this.#answered.add(bidder);

    const throttled = this.#gate.throttle(bidder, at);
    if (throttled !== undefined) return refuse(throttled);
    const earlier = this.#book.roundBids.get(bidder);
    if (earlier !== undefined) {
      return refuse({
        reason: "duplicate-bid",
        message: `${bidder} already bid in round ${this.#round} (${earlier.envelope.id}); one bid per round, the first stands`,
      });
    }
    const conflict = this.#book.identityConflict(bidder, admission.facts, envelope.id);
    if (conflict !== undefined) {
      this.#book.noteConflict(conflict);
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
    const committed = checkBidRules(
      this.terms,
      { standing: this.#standing, clock: this.#clock },
      body,
      bidder,
      weight,
      at,
    );
    if (typeof committed !== "number") {
      if (committed.reason === "outside-reserve") this.#book.outsideReserve++;
      return refuse(committed);
    }
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
    this.#book.accept(accepted, admission.facts);

    if (this.#clock !== undefined) {
      // Dutch: the first valid take wins at once, at the clock price.
      events.push(this.#award(accepted, committed, at, {}));
    }
    return { accepted: true, bid: accepted, events };
  }

  #closeRound(events: AuctionEvent[]): void {
    const closedAt = this.#roundClosesAt;
    const { rule, side } = this.terms;
    if (rule === "dutch") {
      this.#unsold(events, "no-taker", `nobody took the clock before ${closedAt}`, closedAt);
      return;
    }
    const bids = [...this.#book.roundBids.values()];
    const snapshot = new Map(bids.map((bid) => [bid.bidder, bid.reputation]));
    const lookup: ReputationLookup = (bidder) => snapshot.get(bidder);
    if (rule !== "english") {
      const clearing = clearSealed(this.terms, bids, lookup);
      if (clearing.outcome === "unsold") {
        this.#unsoldForLackOfBids(events, closedAt);
        return;
      }
      const winning = this.#book.roundBids.get(clearing.winner.bidder) as AcceptedBid;
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
    if (best !== undefined) this.#standing = this.#book.roundBids.get(best.bidder);
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
    this.#book.roundBids = new Map();
    this.#roundOpensAt = closedAt;
    this.#roundClosesAt = closedAt + this.terms.roundMs;
    this.#cfp = this.#announce();
    events.push({ kind: "round-opened", cfp: this.#cfp });
  }

  #unsoldForLackOfBids(events: AuctionEvent[], at: number): void {
    if (this.#book.outsideReserve > 0) {
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
    this.#result = markBuilt<AuctionResult>({ ...this.#common(at), status: "awarded", award });
    return { kind: "awarded", award };
  }

  #unsold(events: AuctionEvent[], reason: UnsoldReason, message: string, at: number): void {
    this.#status = "unsold";
    this.#result = markBuilt<AuctionResult>({
      ...this.#common(at),
      status: "unsold",
      reason,
      message,
    });
    events.push({ kind: "unsold", reason, message, at });
  }

  #common(endedAt: number) {
    return {
      auction: this.id,
      rule: this.terms.rule,
      side: this.terms.side,
      terms: this.terms,
      rounds: this.#round,
      endedAt,
      ...this.#book.snapshot(),
    };
  }

  #announce(): CfpBody {
    return markBuilt(
      callForProposals(this.terms, {
        number: this.#round,
        opensAt: this.#roundOpensAt,
        closesAt: this.#roundClosesAt,
        standing: this.#standing,
        clock: this.#clock,
      }),
    );
  }
}
