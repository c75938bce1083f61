/**
 * The shapes the market runtime shares with its node and its callers: what a
 * bidder is asked and answers, per-call auction options, how an auction
 * ended, and a message committed with its end. What the engine reads from
 * its node is in `context.ts`; this file imports nothing from the node, so
 * `node-context.ts` can name these shapes.
 */
import type { LedgerOperation } from "../../ledger/index.js";
import type { AuctionTerms, CfpBody } from "../../market/index.js";

/** What a bidder is asked: the call for proposals, with the task it is for. */
export interface BidRequest extends CfpBody {
  /** The task type auctioned. */
  readonly task: string;
  /** The role whose agents are bidding. */
  readonly role: string;
  /** The agent that called for proposals. */
  readonly auctioneer: string;
}

/**
 * A bid: the price asked (procurement) or offered (sale), in credits, and
 * the values of the auction's criteria. For a Dutch auction `price` is the
 * bidder's limit: it takes the clock as soon as the clock reaches it.
 */
export interface BidOffer {
  /** Credits asked (procurement) or offered (sale); a whole number. */
  readonly price: number;
  /** The bid's value for each criterion of a multi-criteria auction, by name. */
  readonly criteria?: Readonly<Record<string, number>>;
}

/** Decides an agent's bid on a call for proposals; `undefined`: no bid. */
export type BidHandler = (
  request: BidRequest,
) => BidOffer | undefined | Promise<BidOffer | undefined>;

/** Per-call overrides of a task type's auction settings (or all of them, for a type not configured). */
export type AuctionOptions = Partial<
  Pick<
    AuctionTerms,
    | "rule"
    | "side"
    | "reserve"
    | "criteria"
    | "roundMs"
    | "maxRounds"
    | "minIncrement"
    | "startPrice"
    | "step"
    | "stepMs"
  >
> & {
  /** The role whose agents bid; default: the role the swarm file allocates the task to. */
  readonly role?: string;
};

/** How an auction ended, as its caller sees it. */
export interface AuctionOutcome {
  /** The auction's id. */
  readonly auction: string;
  /** `awarded`: a winner gets the task; `unsold`: nobody (see `reason`). */
  readonly status: "awarded" | "unsold";
  /** The winning agent, when awarded. */
  readonly winner?: string;
  /** Credits the winner is paid (procurement) or pays (sale). */
  readonly price?: number;
  /** Why it went unsold. */
  readonly reason?: string;
  /** Valid bids received. */
  readonly bids: number;
  /** Bids refused by the gate (see `BidRejection` for every reason). */
  readonly rejectedBids: number;
}

/** What the auctioneer's side knows after an auction: enough to send the awarded task. */
export interface AuctionWon {
  readonly outcome: AuctionOutcome;
  readonly side: "sale" | "procurement";
  /**
   * Whether the awarded task carries the clearing price in escrow (the payer
   * is metered and could pay at the award); its hold commits with the task.
   */
  readonly escrowed: boolean;
  /**
   * Where the price's hold is applied: `task`, staged with the awarded task
   * (every auction since 2026-12-07); `award`, already applied at the award
   * (an auction recorded by an earlier version).
   */
  readonly holdWith: "award" | "task";
  /** The winner's latency estimate, ms, when its bid gave one. */
  readonly estimateMs?: number;
  readonly awardedAt: number;
}

/**
 * The task an award sends to its winner, and the hold of the clearing price
 * (when escrowed): the caller commits both in one completion, or neither.
 */
export interface AwardedTask {
  readonly draft: OutboxDraft;
  readonly hold?: LedgerOperation;
}

/** A message to commit with an auction's end. */
export interface OutboxDraft {
  readonly id: string;
  readonly mode: "enqueue" | "publish";
  readonly subject: string;
  readonly data: Uint8Array;
}
