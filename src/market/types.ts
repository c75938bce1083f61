/**
 * Shared vocabulary of the market layer: auction rules, sides, terms and the
 * shapes the clearing functions and the auction state machine report.
 *
 * Everything here is plain data. Prices are integer credits (safe integers
 * ≥ 0); time is ms since the Unix epoch, passed in by the caller; nothing in
 * `src/market` reads a clock, sets a timer or does IO.
 */
import type { Envelope } from "../wire/envelope.js";
import type { JsonValue } from "../wire/json-value.js";

/** Every auction rule, in the order the docs present them. */
export const auctionRules = [
  "multi-criteria",
  "first-price",
  "vickrey",
  "english",
  "dutch",
] as const;

/**
 * How an auction picks its winner and price:
 * - `multi-criteria`: sealed, one round; bids scored on weighted, min-max
 *   normalised criteria; the winner gets its own price.
 * - `first-price`: sealed, one round; best effective bid wins at its own price.
 * - `vickrey`: sealed, one round; best effective bid wins at the smallest
 *   price it could have bid and still won (second price).
 * - `english`: open rounds; each raise beats the standing bid by
 *   `minIncrement`; ends when a round brings no raise or after `maxRounds`.
 * - `dutch`: a price clock moves toward the reserve; the first taker wins at
 *   the clock price.
 */
export type AuctionRule = (typeof auctionRules)[number];

/** Both sides an auction can be run from. */
export const auctionSides = ["sale", "procurement"] as const;

/**
 * - `sale` (forward auction): the auctioneer sells; a bid is the price the
 *   bidder offers to pay; higher is better; the winner pays; the reserve is
 *   the lowest acceptable price.
 * - `procurement` (reverse auction, contract-net): the auctioneer buys work;
 *   a bid is an ask, the price the bidder wants to be paid; lower is better;
 *   the winner is paid; the reserve is the highest acceptable price.
 */
export type AuctionSide = (typeof auctionSides)[number];

/** One criterion of a multi-criteria auction. */
export interface Criterion {
  /**
   * Key into each bid's `criteria` object: 1-64 characters, a lower-case
   * letter then `a-z 0-9 _ -`. The name `price` falls back to the bid's
   * `price` when the bid gives no `criteria.price`.
   */
  readonly name: string;
  /** Relative importance, > 0. Weights are normalised to sum 1. */
  readonly weight: number;
  /** Whether less (`min`, e.g. price or latency) or more (`max`, e.g. quality) is better. */
  readonly direction: "min" | "max";
}

/**
 * What an auction sells or buys and how it clears. Validated by
 * `createAuction` (and `resolveTerms`), which throw `AuctionTermsError`
 * naming the term to fix.
 *
 * @example
 * ```ts
 * const terms: AuctionTerms = {
 *   id: "01JD7Q0000000000000000000A",
 *   rule: "vickrey",
 *   side: "procurement",
 *   reserve: 500, // pay at most 500 credits
 *   roundMs: 5_000,
 *   item: { task: "code_review", repo: "acme/api", pr: 42 },
 * };
 * ```
 */
export interface AuctionTerms {
  /** Auction id, 1-128 printable ASCII characters (a ULID is a good choice); bids name it. */
  readonly id: string;
  readonly rule: AuctionRule;
  readonly side: AuctionSide;
  /**
   * Integer credits. `sale`: the minimum price, lower bids are not eligible.
   * `procurement`: the maximum payment, higher asks are not eligible.
   * Required for a `procurement` Dutch auction (the clock's ceiling).
   */
  readonly reserve?: number;
  /** `multi-criteria` only, and required there: at least one criterion, unique names. */
  readonly criteria?: readonly Criterion[];
  /**
   * How long each round takes bids, ms (integer > 0). Sealed rules have one
   * round; `dutch` uses it as the longest the clock may run.
   */
  readonly roundMs: number;
  /** `english` only: rounds at most, default {@link DEFAULT_ENGLISH_MAX_ROUNDS}. Sealed rules and `dutch` have 1. */
  readonly maxRounds?: number;
  /**
   * `english` only, and required there (> 0): how much a raise must improve
   * on the standing effective bid (sale: at least this much higher;
   * procurement: at least this much lower), in effective credits. The
   * first bid of round 1 only has to respect the reserve.
   */
  readonly minIncrement?: number;
  /** `dutch` only, required: the clock's first price (sale: high; procurement: low). */
  readonly startPrice?: number;
  /** `dutch` only, required: credits the clock moves per step (integer ≥ 1). */
  readonly step?: number;
  /** `dutch` only, required: ms between clock steps (integer ≥ 1). */
  readonly stepMs?: number;
  /** What is auctioned, as announced in the call for proposals. Opaque to the market layer. */
  readonly item?: JsonValue;
}

/** Rounds of an English auction when `maxRounds` is not given. */
export const DEFAULT_ENGLISH_MAX_ROUNDS = 5;

/**
 * Terms after validation, with defaults filled in: what the auction and the
 * clearing functions work from.
 */
export interface ResolvedTerms extends AuctionTerms {
  readonly maxRounds: number;
}

/**
 * An agent's reputation in [0, 1] by id, `undefined` when unknown (then
 * {@link NEUTRAL_REPUTATION} applies). Values outside [0, 1] are clamped, NaN
 * counts as unknown.
 */
export type ReputationLookup = (bidder: string) => number | undefined;

/** A bid as the clearing functions see it: already authenticated and decoded. */
export interface BidInput {
  readonly bidder: string;
  /** Integer credits: offered (sale) or asked (procurement). */
  readonly price: number;
  /** Multi-criteria values by criterion name. */
  readonly criteria?: Readonly<Record<string, number>>;
}

/** One criterion's part in a bid's multi-criteria score. */
export interface CriterionScore {
  readonly name: string;
  /** The bid's raw value for this criterion. */
  readonly value: number;
  /** Min-max normalised across the eligible bids, flipped for `min`: in [0, 1], 1 is best. */
  readonly normalised: number;
  /** The criterion's weight divided by the sum of all weights. */
  readonly weight: number;
  /** `normalised × weight`. */
  readonly contribution: number;
}

/** The full multi-criteria breakdown of one bid. */
export interface BidScore {
  readonly bidder: string;
  readonly price: number;
  /** One entry per criterion, in the terms' order. */
  readonly criteria: readonly CriterionScore[];
  /** Sum of the contributions: the score before reputation, in [0, 1]. */
  readonly raw: number;
  /** The reputation used, in [0, 1]. */
  readonly reputation: number;
  /** `0.5 + reputation`, in [0.5, 1.5]. */
  readonly reputationWeight: number;
  /** `raw × reputationWeight`: what the auction ranks by, higher is better. */
  readonly effective: number;
}

/**
 * A bid placed in a ranking, best first. For price rules `effective` is the
 * reputation-weighted price (sale: `price × w`, higher is better;
 * procurement: `price / w`, lower is better); for `multi-criteria` it is the
 * weighted score (higher is better) and `score` holds the breakdown.
 */
export interface RankedBid {
  readonly bidder: string;
  readonly price: number;
  readonly reputation: number;
  readonly reputationWeight: number;
  readonly effective: number;
  readonly score?: BidScore;
}

/** Why an auction ended without a winner. */
export type UnsoldReason =
  /** No bid was accepted and none was refused for the reserve. */
  | "no-bids"
  /** Every bid that got as far as the price check was outside the reserve. */
  | "no-eligible-bids"
  /** `dutch`: the clock reached its stop price (or `roundMs` ran out) and nobody took. */
  | "no-taker"
  /** Cleared, but the payer could not put the clearing price in escrow (set by the runtime, never by the rules). */
  | "unpaid";

/** A bid the auction accepted, with what it knew at the time. */
export interface AcceptedBid {
  /** The signed `market.bid` envelope as received. */
  readonly envelope: Envelope;
  readonly bidder: string;
  readonly round: number;
  readonly price: number;
  readonly criteria?: Readonly<Record<string, number>>;
  /** Reputation snapshot taken when the bid was accepted, in [0, 1]. */
  readonly reputation: number;
  readonly reputationWeight: number;
  /** Reputation-weighted price: sale `price × w`, procurement `price / w`. */
  readonly effectivePrice: number;
  /** The `now` the bid was stepped in with. */
  readonly receivedAt: number;
}

/** Two bidders in one auction that look like the same principal (shill bidding). */
export interface IdentityConflict {
  /** The bidder already in the auction; its bids stand. */
  readonly first: string;
  /** The later bidder, whose bid was rejected as `duplicate-identity`. */
  readonly second: string;
  /** What they share. */
  readonly shared: "public-key" | "owner";
  /** Envelope id of the rejected bid. */
  readonly bid: string;
}
