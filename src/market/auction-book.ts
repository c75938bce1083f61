/**
 * The book-keeping of one auction: the bids it accepted (all, and this
 * round's, one per bidder), the envelope ids already taken (a second copy is
 * a replay), who bid under which public key and owner (shill detection), the
 * refused bids kept for the result (capped), and the identity conflicts.
 * It decides nothing: the rules are in `auction-rules.ts` and `clearing.ts`.
 */
import type { RejectedBid } from "./auction-types.js";
import type { AcceptedBid, IdentityConflict } from "./types.js";

/** What a bidder is known as, for shill detection. */
export interface BidderIdentity {
  readonly publicKey: string;
  readonly owner?: string;
}

export class AuctionBook {
  /** Every accepted bid, in the order accepted. */
  readonly bids: AcceptedBid[] = [];
  /** This round's accepted bids by bidder: one each. */
  roundBids = new Map<string, AcceptedBid>();
  /** Bids refused for the reserve: tells `no-bids` from `no-eligible-bids`. */
  outsideReserve = 0;
  readonly #maxRejected: number;
  /** Envelope ids taken from authenticated senders: a second copy is a replay. */
  readonly #seen = new Set<string>();
  /** Who already bid under a public key / an owner, for shill detection. */
  readonly #byKey = new Map<string, string>();
  readonly #byOwner = new Map<string, string>();
  readonly #rejected: RejectedBid[] = [];
  #rejectedDropped = 0;
  readonly #conflicts: IdentityConflict[] = [];

  constructor(maxRejected: number) {
    this.#maxRejected = maxRejected;
  }

  /** Whether an envelope with this id was taken already. */
  seen(id: string): boolean {
    return this.#seen.has(id);
  }

  /** Takes an authenticated envelope's id: a later copy is a replay. */
  markSeen(id: string): void {
    this.#seen.add(id);
  }

  /** Another bidder that already bids under the same public key or owner, if any. */
  identityConflict(
    bidder: string,
    facts: BidderIdentity,
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

  /** Keeps a suspected shill pair for the result. */
  noteConflict(conflict: IdentityConflict): void {
    this.#conflicts.push(conflict);
  }

  /** Books an accepted bid under its bidder's identity. */
  accept(bid: AcceptedBid, facts: BidderIdentity): void {
    this.bids.push(bid);
    this.roundBids.set(bid.bidder, bid);
    if (!this.#byKey.has(facts.publicKey)) this.#byKey.set(facts.publicKey, bid.bidder);
    if (facts.owner !== undefined && !this.#byOwner.has(facts.owner)) {
      this.#byOwner.set(facts.owner, bid.bidder);
    }
  }

  /** Keeps a refused bid, or only counts it once the cap is reached. */
  refuse(rejected: RejectedBid): void {
    if (this.#rejected.length < this.#maxRejected) this.#rejected.push(rejected);
    else this.#rejectedDropped++;
  }

  /** Copies of what the result reports about bids. */
  snapshot(): {
    bids: readonly AcceptedBid[];
    rejected: readonly RejectedBid[];
    rejectedDropped: number;
    identityConflicts: readonly IdentityConflict[];
  } {
    return {
      bids: this.bids.slice(),
      rejected: this.#rejected.slice(),
      rejectedDropped: this.#rejectedDropped,
      identityConflicts: this.#conflicts.slice(),
    };
  }
}
