/**
 * The shapes of an auction ({@link createAuction}): its configuration, its
 * events, what became of a bid, its result. The state machine is in
 * `auction.ts`.
 */
import type { Envelope } from "../wire/envelope.js";
import type { BidGate, BidRejection } from "./bid-gate.js";
import type { CfpBody } from "./messages.js";
import type {
  AcceptedBid,
  AuctionRule,
  AuctionSide,
  AuctionTerms,
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
   * Sealed rules (`vickrey`, `first-price`, `multi-criteria`): the bidders
   * the auctioneer expects an answer from (the live, trusted agents of the
   * role when the auction opened). Once every one of them has sent a bid
   * that passed the gate, accepted or not, the round closes at that bid's
   * time instead of waiting for `closesAt`: nobody else could still bid.
   * A bidder that never answers keeps the round open to its deadline. Empty
   * or absent: the round always runs to its deadline. English and Dutch
   * auctions ignore it (their rounds are timed by the rules).
   */
  readonly expectedBidders?: Iterable<string>;
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
