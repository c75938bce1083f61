/**
 * The end of an auction at its auctioneer: the clearing price's payer
 * (procurement: the auctioneer or the task's submitter; sale: the winner)
 * is checked, the auction is recorded in the store once, a signed
 * `market.award` is published, and the outcome as recorded is what every
 * caller (a retried one too) gets. The price is held with the awarded task
 * (`settlement.ts`), in the caller's commit, so a caller that fails after
 * the award leaves nothing in escrow. (Auctions recorded by versions before
 * 2026-12-07 were held here, at the award: `holdWith: "award"`.)
 */
import type { KeyObject } from "node:crypto";
import { toError } from "../../errors/index.js";
import { agentAccount } from "../../ledger/index.js";
import { type AuctionResult, type AwardBody, awardBody, createAward } from "../../market/index.js";
import type { AuctionRecord } from "../../store/port.js";
import { encodeEnvelope } from "../../wire/codec.js";
import type { Envelope } from "../../wire/envelope.js";
import { subjects } from "../subjects.js";
import type { MarketContext } from "./context.js";
import type { AuctionWon } from "./types.js";

/** Checks the price can be paid, records the auction once, publishes the award. */
export async function concludeAuction(
  node: MarketContext,
  id: string,
  result: AuctionResult,
  who: {
    task: string;
    auctioneer: string;
    privateKey: KeyObject;
    payer: string;
    startedAt: number;
    /** Credits the payer gets back in the commit that holds the price (its delegated budget). */
    refundable?: number;
  },
): Promise<AuctionWon> {
  let status: "awarded" | "unsold" = result.status;
  let escrowed = false;
  let holdWith: "award" | "task" = "task";
  let reason: string | undefined = result.status === "unsold" ? result.reason : undefined;
  if (result.status === "awarded" && result.award.price > 0) {
    const payer = result.side === "sale" ? result.award.winner : who.payer;
    // The payer's delegated budget, refunded in the commit that holds the price.
    const refundable = result.side === "sale" ? 0 : (who.refundable ?? 0);
    const metered =
      refundable > 0 ||
      node.budgets.has(payer) ||
      (await node.store.balance(agentAccount(payer))) > 0;
    if (metered) {
      try {
        // Checked now, held with the awarded task in the caller's commit: a
        // caller that never commits holds nothing. Another payer (a sale's
        // winner, a remote submitter) that spends the price meanwhile makes
        // that commit fail with InsufficientCreditsError, and the caller's
        // task dies saying so: nothing is held for a task never sent.
        await node.budgets.checkHold(
          payer,
          result.award.price,
          Math.max(0, result.award.price - refundable),
        );
        holdWith = "task";
        escrowed = true;
      } catch (error) {
        status = "unsold";
        reason = `${payer} cannot pay ${result.award.price}: ${toError(error).message}`;
      }
    }
  }
  const award = result.status === "awarded" && status === "awarded" ? result.award : undefined;
  const estimate = award?.bid.criteria?.["latency_ms"];
  const record: AuctionRecord = {
    id,
    auctioneer: who.auctioneer,
    task: who.task,
    rule: result.rule,
    status,
    ...(award ? { winner: award.winner, price: award.price } : {}),
    bids: result.bids.length,
    rejectedBids: result.rejected.length + result.rejectedDropped,
    record: {
      side: result.side,
      terms: result.terms,
      rounds: result.rounds,
      endedAt: result.endedAt,
      escrowed,
      ...(escrowed ? { holdWith } : {}),
      ...(reason === undefined ? {} : { reason }),
      bids: result.bids.map((b) => ({
        bidder: b.bidder,
        round: b.round,
        price: b.price,
        ...(b.criteria ? { criteria: b.criteria } : {}),
        envelope: b.envelope.id,
      })),
      rejected: result.rejected.map((r) => ({
        bidder: String(r.envelope.from),
        reason: r.reason,
        message: r.message,
        envelope: r.envelope.id,
      })),
      identityConflicts: result.identityConflicts,
      ...(award
        ? {
            award: {
              winner: award.winner,
              price: award.price,
              effectivePrice: award.effectivePrice,
              round: award.round,
              // The signed winning bid, so anyone can check the winner asked for it.
              bid: award.bid.envelope,
              ...(award.scores ? { scores: award.scores } : {}),
              ...(award.runnerUp ? { runnerUp: award.runnerUp } : {}),
            },
          }
        : {}),
    },
    at: node.clock.now(),
  };
  const { stored } = await node.store.saveAuction(record);
  try {
    // Cleared but unpaid is the one end the rules cannot report themselves.
    const body: AwardBody =
      result.status === "awarded" && !award
        ? {
            auction: id,
            rule: result.rule,
            side: result.side,
            round: result.award.round,
            outcome: "unsold",
            reason: "unpaid",
          }
        : awardBody(result);
    const envelope = createAward(
      body,
      { from: who.auctioneer, privateKey: who.privateKey },
      { clock: node.clock },
    );
    node.transport.publish(
      subjects.award(node.swarm, id),
      encodeEnvelope(envelope, { maxBytes: node.limits.maxEnvelopeBytes }),
    );
  } catch (error) {
    node.events.emit({
      type: "error",
      error: `publishing award of ${id}: ${toError(error).message}`,
    });
  }
  const outcome = fromRecord(stored);
  node.events.emit({
    type: "auction.closed",
    auction: id,
    task: who.task,
    outcome: outcome.outcome.status,
    ...(outcome.outcome.winner ? { winner: outcome.outcome.winner } : {}),
    ...(outcome.outcome.price === undefined ? {} : { price: outcome.outcome.price }),
    ...(outcome.outcome.reason ? { reason: outcome.outcome.reason } : {}),
    bids: stored.bids,
    rejectedBids: stored.rejectedBids,
    durationMs: Math.max(0, node.clock.now() - who.startedAt),
  });
  return {
    ...outcome,
    ...(typeof estimate === "number" && estimate > 0 ? { estimateMs: estimate } : {}),
  };
}

/** The outcome as recorded: what a retried caller gets back instead of a second auction. */
export function fromRecord(record: AuctionRecord): AuctionWon {
  const detail = record.record as {
    reason?: string;
    side?: string;
    escrowed?: boolean;
    holdWith?: string;
    award?: { bid?: Envelope };
  } | null;
  const estimate = (detail?.award?.bid?.body as { criteria?: { latency_ms?: unknown } } | undefined)
    ?.criteria?.latency_ms;
  return {
    outcome: {
      auction: record.id,
      status: record.status,
      ...(record.winner === undefined ? {} : { winner: record.winner }),
      ...(record.price === undefined ? {} : { price: record.price }),
      ...(detail?.reason === undefined ? {} : { reason: detail.reason }),
      bids: record.bids,
      rejectedBids: record.rejectedBids,
    },
    side: detail?.side === "sale" ? "sale" : "procurement",
    escrowed: detail?.escrowed === true,
    // Records written before holds committed with their task were held at the award.
    holdWith: detail?.holdWith === "task" ? "task" : "award",
    ...(typeof estimate === "number" && estimate > 0 ? { estimateMs: estimate } : {}),
    awardedAt: record.at,
  };
}
