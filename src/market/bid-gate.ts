/**
 * Anti-gaming: every reason a bid can be refused, and the gate that checks
 * who sent a bid before any auction rule looks at its price. The gate gets
 * its facts injected (signature check, registry, ledger, a shared rate
 * limiter), so it is as pure as the auction it guards: no IO, time passed in.
 */
import { BidRejectedError } from "../errors/index.js";
import type { Envelope } from "../wire/envelope.js";
import type { BidVerifier } from "./messages.js";
import type { RateLimiter } from "./rate-limiter.js";
import type { AuctionSide } from "./types.js";

/**
 * Every reason a bid is refused, in the order an auction checks them (the
 * first that applies is reported):
 *
 * - `malformed`: not a `market.bid` envelope, a body that fails its schema
 *   (e.g. a fractional price), a multi-criteria bid missing a criterion, or a
 *   Dutch bid without `take: true`;
 * - `wrong-auction`: `body.auction` names another auction;
 * - `early`: received before the auction opened;
 * - `late`: the round it names has closed, or the auction is over;
 * - `wrong-round`: it names a round that has not opened yet;
 * - `replay`: an envelope id this auction already took from an authenticated
 *   sender (a redelivery looks the same; the first copy stands);
 * - `unknown-bidder`: the registry does not know the sender;
 * - `bad-signature`: unsigned, malformed signature, or not signed by the
 *   sender's registered key (forged);
 * - `not-live`: the sender is not live (no recent heartbeat);
 * - `untrusted`: the sender has not completed the trust handshake, or was revoked;
 * - `halted`: the sender is halted below its minimum balance (either side);
 * - `rate-limited`: the sender's token bucket is empty (limit shared by all auctions);
 * - `duplicate-bid`: the sender already has a bid in this round; the first stands;
 * - `duplicate-identity`: another bidder in this auction has the same public
 *   key or the same owner (shill bidding); the earlier bidder stands, the
 *   conflict is reported;
 * - `outside-reserve`: sale price below the reserve, or procurement ask above it;
 * - `too-small-raise`: English, the bid does not beat the standing effective
 *   bid by `minIncrement`;
 * - `not-the-clock-price`: Dutch, the take is worse for the auctioneer than
 *   the clock price at the time it arrived (sale: below it; procurement: above it);
 * - `unaffordable`: sale only, the ledger says the bidder cannot pay what it
 *   commits to (its bid; a Dutch take commits to the clock price).
 */
export const bidRejections = [
  "malformed",
  "wrong-auction",
  "early",
  "late",
  "wrong-round",
  "replay",
  "unknown-bidder",
  "bad-signature",
  "not-live",
  "untrusted",
  "halted",
  "rate-limited",
  "duplicate-bid",
  "duplicate-identity",
  "outside-reserve",
  "too-small-raise",
  "not-the-clock-price",
  "unaffordable",
] as const;

/** Why a bid was refused; see {@link bidRejections} for each meaning. */
export type BidRejection = (typeof bidRejections)[number];

/** A refusal: the reason and a message that says what happened and what to do. */
export interface Rejection {
  readonly reason: BidRejection;
  readonly message: string;
}

/** What the registry knows about a bidder, as the gate needs it. */
export interface BidderFacts {
  /** Heartbeats are current. */
  readonly live: boolean;
  /** The trust handshake succeeded and the key is not revoked. */
  readonly trusted: boolean;
  /** Below its minimum balance (ledger). */
  readonly halted: boolean;
  /** The registered public key (base64url, as on the agent card): two agents sharing one are one principal. */
  readonly publicKey: string;
  /** Who operates the agent, when the registry knows: two bidders with one owner are one principal. */
  readonly owner?: string;
}

/** Configuration of {@link createBidGate}: the facts, injected. */
export interface BidGateConfig {
  /** Checks a bid's signature against its sender's registered key. */
  readonly verify: BidVerifier;
  /** The registry's view of an agent; undefined for an unknown agent. */
  readonly bidder: (id: string) => BidderFacts | undefined;
  /**
   * Whether `id` can pay `amount` credits (the ledger's available balance,
   * net of what it has in escrow). Consulted for `sale` auctions only: in a
   * procurement auction the bidder is paid, so only `halted` bars it. Bids in
   * several auctions are checked separately; the runtime escrows on award.
   */
  readonly canAfford: (id: string, amount: number) => boolean;
  /** Per-agent token bucket, shared by every auction that uses this gate. */
  readonly rateLimiter: RateLimiter;
}

/** The gate's verdict on who sent a bid. */
export type Admission =
  | { readonly admitted: true; readonly facts: BidderFacts }
  | ({ readonly admitted: false } & Rejection);

/**
 * The checks on the sender of a bid, independent of any auction's rules.
 * One gate serves every auction of a node (its rate limiter is shared).
 * An auction calls them in this order: `admit`, `throttle`, then its own
 * rules, then `afford`.
 */
export interface BidGate {
  /**
   * Who sent it: `unknown-bidder`, then `bad-signature`, then `not-live`,
   * `untrusted`, `halted`. The registry is asked before the signature is
   * checked: a stranger has no registered key, so verifying first would
   * mislabel it a forgery (and cost a verify).
   */
  admit(envelope: Envelope): Admission;
  /** Spends one of `bidder`'s tokens at `now`; `rate-limited` when none is left. */
  throttle(bidder: string, now: number): Rejection | undefined;
  /** `unaffordable` when a sale bidder cannot pay `amount`; never for procurement. */
  afford(bidder: string, amount: number, side: AuctionSide): Rejection | undefined;
}

/**
 * Creates a bid gate.
 *
 * @example
 * ```ts
 * const gate = createBidGate({
 *   verify: bidVerifierFromKeys((id) => registry.publicKeyOf(id)),
 *   bidder: (id) => registry.bidderFacts(id),
 *   canAfford: (id, amount) => ledger.available(id) >= amount,
 *   rateLimiter: createRateLimiter({ capacity: 10, refillPerSecond: 2 }),
 * });
 * const auction = createAuction({ terms, opensAt: now, gate });
 * ```
 */
export function createBidGate(config: BidGateConfig): BidGate {
  return {
    admit(envelope) {
      const from = String(envelope.from);
      const facts = config.bidder(from);
      if (facts === undefined) {
        return refuse(
          "unknown-bidder",
          `${from} is not in the registry; an agent must register (and complete the trust handshake) before it bids`,
        );
      }
      if (!config.verify(envelope)) {
        return refuse(
          "bad-signature",
          `bid ${envelope.id} claims to be from ${from} but is unsigned or its signature does not verify against ${from}'s registered key`,
        );
      }
      if (!facts.live) {
        return refuse("not-live", `${from} is not live; it must be heartbeating to bid`);
      }
      if (!facts.trusted) {
        return refuse(
          "untrusted",
          `${from} is not trusted (no completed handshake, or revoked); only trusted agents may bid`,
        );
      }
      if (facts.halted) {
        return refuse(
          "halted",
          `${from} is halted below its minimum balance; top it up before it bids again`,
        );
      }
      return { admitted: true, facts };
    },
    throttle(bidder, now) {
      if (config.rateLimiter.take(bidder, now)) return undefined;
      return {
        reason: "rate-limited",
        message: `${bidder} bids faster than ${config.rateLimiter.refillPerSecond}/s (burst ${config.rateLimiter.capacity}); slow down and bid again later`,
      };
    },
    afford(bidder, amount, side) {
      if (side === "procurement" || config.canAfford(bidder, amount)) return undefined;
      return {
        reason: "unaffordable",
        message: `${bidder} cannot pay ${amount} credits; fund it or bid less`,
      };
    },
  };
}

function refuse(reason: BidRejection, message: string): Admission {
  return { admitted: false, reason, message };
}

/**
 * A refusal as a throwable error, for callers that prefer exceptions.
 *
 * @example
 * ```ts
 * const outcome = auction.step(bid, now);
 * if (!outcome.accepted) throw toBidRejectedError(auction.id, outcome);
 * ```
 */
export function toBidRejectedError(
  auction: string,
  rejection: Rejection,
): BidRejectedError<BidRejection> {
  return new BidRejectedError(rejection.reason, auction, rejection.message);
}
