/**
 * `MarketStore`: what the markets keep: each auction's outcome, once, for
 * reports and audits, and every agent's learned reputation, which weights
 * its next bids and which no agent can set for itself.
 *
 * Contract (checked by `src/testkit/conformance/store/market.ts`):
 * - `saveAuction` keeps the first save of an id, across handles; a record
 *   that is not JSON-serialisable (or has no JSON form: a function, a
 *   symbol) is refused with `StoreError`.
 * - `updateReputation` is a read-modify-write serialised per agent across
 *   handles and processes: no concurrent update is lost, and a score outside
 *   [0, 1] is refused with `StoreError` and writes nothing.
 */

/**
 * One auction as held: the columns a report filters on and the whole record
 * (terms, bids, rejections, award, score breakdown) as JSON.
 */
export interface AuctionRecord {
  readonly id: string;
  /** The agent that called for proposals. */
  readonly auctioneer: string;
  /** The task type auctioned. */
  readonly task: string;
  readonly rule: string;
  readonly status: "awarded" | "unsold";
  readonly winner?: string;
  /** The clearing price in credits, when awarded. */
  readonly price?: number;
  /** Bids accepted into the auction. */
  readonly bids: number;
  /** Bids refused (each with its reason in `record`). */
  readonly rejectedBids: number;
  /** JSON-serialisable. */
  readonly record: unknown;
  /** When it ended, ms since epoch. */
  readonly at: number;
}

/** Totals over every auction in the store. */
export interface AuctionStats {
  readonly held: number;
  readonly awarded: number;
  readonly unsold: number;
  readonly rejectedBids: number;
}

/** An agent's learned reputation. */
export interface ReputationRecord {
  readonly agent: string;
  /** In [0, 1]. */
  readonly score: number;
  /** Outcomes folded in so far. */
  readonly observations: number;
  readonly updatedAt: number;
}

/** Auctions and their bids, recorded once each so a retried auctioneer finds its outcome. */
export interface MarketStore {
  /**
   * Records an auction once, by id: the first save is kept and gets
   * `{ saved: true }`; a later save of the same id (a retried auctioneer)
   * writes nothing and gets `{ saved: false }` with the stored record.
   */
  saveAuction(record: AuctionRecord): Promise<{ saved: boolean; stored: AuctionRecord }>;
  /** One auction by id, or undefined. */
  getAuction(id: string): Promise<AuctionRecord | undefined>;
  /** Auctions, most recent last, at most `limit` (default 1,000). */
  auctions(options?: { limit?: number }): Promise<AuctionRecord[]>;
  /** Totals over every stored auction. */
  auctionStats(): Promise<AuctionStats>;
  /**
   * Folds one outcome into an agent's reputation atomically, across handles
   * and processes: `update` receives the stored score (undefined for an
   * agent never observed) and returns the new one, which must be in [0, 1]
   * (else `StoreError` and nothing is written); concurrent updates of one
   * agent are serialised, none is lost.
   */
  updateReputation(
    agent: string,
    update: (previous: number | undefined) => number,
    options?: { at?: number },
  ): Promise<ReputationRecord>;
  /** The stored reputations of `agents` (all when omitted); agents never observed are absent. */
  reputations(agents?: readonly string[]): Promise<ReputationRecord[]>;
}
