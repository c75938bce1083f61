/**
 * What follows an award: the winner's task carries the clearing price's
 * escrow ({@link AuctionHeaders}), and the price's hold is staged with it
 * (the caller commits both in one store transaction, or neither); when the
 * winner commits it the escrow is released to the payee and the winner's
 * reputation learns a success and its latency; a dead-lettered awarded task
 * counts as a failure (its escrow is refunded by the dead-letter path).
 */
import { createHash, type KeyObject } from "node:crypto";
import { type LedgerOperation, operations } from "../../ledger/index.js";
import { updateMarketReputation } from "../../market/index.js";
import type { AuctionRecord } from "../../store/port.js";
import { encodeEnvelope } from "../../wire/codec.js";
import { createEnvelope, type Envelope } from "../../wire/envelope.js";
import { signEnvelope } from "../../wire/signature.js";
import { derivedUlid } from "../../wire/ulid.js";
import { AUCTION_HEADER, auctionEscrowKey, EscrowHeaders } from "../budget.js";
import { redriveKey } from "../dead-letters.js";
import { subjects } from "../subjects.js";
import { traceOutgoing } from "../tracing.js";
import { fromRecord } from "./awarding.js";
import type { MarketContext } from "./context.js";
import type { AuctionWon, AwardedTask } from "./types.js";

/** Headers of a task awarded by auction (besides the escrow's). */
export const AuctionHeaders = Object.freeze({
  /** The auction id. */
  auction: AUCTION_HEADER,
  /** Who receives the clearing price when the task completes. */
  payee: "conclave-auction-payee",
  /** When it was awarded, ms since epoch: the start of the latency reputation learns. */
  awardedAt: "conclave-auction-at",
  /** The winner's own estimate of its latency in ms (its `latency_ms` criterion), when it gave one. */
  estimateMs: "conclave-auction-estimate",
});

/** The escrow account key of an auction's clearing price. */
export const escrowKey: (auction: string) => string = auctionEscrowKey;

/**
 * The id of the `n`-th auction (from 1) a handler of task `taskId` runs as
 * `agent`: stable across retries of the handler, so a retry finds the
 * recorded auction. At most 128 characters.
 */
export function handlerAuctionId(taskId: string, agent: string, n: number): string {
  const stable = `${taskId}-${agent}-${n}`;
  if (stable.length <= 128) return stable;
  return `${taskId}-${createHash("sha256").update(stable).digest("hex").slice(0, 32)}`;
}

/**
 * The envelope id of the task auction `auction` awards: a ULID of the time
 * it was recorded as awarded (`awardedAt`), then 16 characters of a SHA-256
 * of the auction id. Every caller that gets the auction's outcome (the
 * first, a retried one, one that joined it) builds the very same task, so
 * the id it is told is the id of the task the winner runs, and a repeat is
 * dropped by the outbox and the bus.
 */
export function awardedTaskId(auction: string, awardedAt: number): string {
  return derivedUlid(awardedAt, `award\n${auction}`);
}

/** Reputation learning rate: the last ~5 contracts dominate. */
const REPUTATION_ALPHA = 0.2;

/**
 * The awarded task's envelope, signed by the auctioneer, addressed to the
 * winner and carrying the escrow, plus where it goes, and the hold of the
 * price to commit with it. `parent` becomes its cause (and its correlation
 * root).
 */
export function awardedTask(
  node: MarketContext,
  auctioneer: { readonly id: string; readonly privateKey: KeyObject },
  task: string,
  body: unknown,
  parent: Envelope | undefined,
  won: AuctionWon,
  payer: string,
  deadline?: number,
): AwardedTask {
  const { outcome } = won;
  const winner = outcome.winner as string;
  const price = outcome.price ?? 0;
  const side = won.side;
  const payee = side === "sale" ? auctioneer.id : winner;
  const escrowPayer = side === "sale" ? winner : payer;
  const headers: Record<string, string> = {
    [AuctionHeaders.auction]: outcome.auction,
    [AuctionHeaders.payee]: payee,
    [AuctionHeaders.awardedAt]: String(won.awardedAt),
    ...(won.estimateMs === undefined
      ? {}
      : { [AuctionHeaders.estimateMs]: String(won.estimateMs) }),
    ...(price > 0 && won.escrowed
      ? {
          [EscrowHeaders.key]: escrowKey(outcome.auction),
          [EscrowHeaders.amount]: String(price),
          [EscrowHeaders.delegator]: escrowPayer,
        }
      : {}),
  };
  const subject = subjects.awardedTask(node.swarm, winner, task);
  // The awarded task continues the auctioned task's trace.
  const traced = traceOutgoing(node.transport.kind, "enqueue", subject, parent);
  try {
    const envelope = signEnvelope(
      createEnvelope(
        {
          type: `task.${task}`,
          from: auctioneer.id,
          to: winner,
          body: body as never,
          ...(parent ? { corr: parent.corr ?? parent.id, cause: parent.id } : {}),
          ...(deadline === undefined ? {} : { deadline }),
          headers: { ...traced.headers, ...headers },
        },
        { clock: node.clock, id: awardedTaskId(outcome.auction, won.awardedAt) },
      ),
      auctioneer.privateKey,
    );
    const data = encodeEnvelope(envelope, { maxBytes: node.limits.maxEnvelopeBytes });
    traced.sent(envelope.id);
    // Its id is the auction's: however often a retried caller stages it, it applies once.
    const hold: LedgerOperation | undefined =
      price > 0 && won.escrowed && won.holdWith === "task"
        ? operations.hold(
            `hold:${escrowKey(outcome.auction)}`,
            escrowPayer,
            escrowKey(outcome.auction),
            price,
            node.clock.now(),
            envelope.id,
            auctioneer.id,
          )
        : undefined;
    return {
      draft: { id: envelope.id, mode: "enqueue", subject, data },
      ...(hold === undefined ? {} : { hold }),
    };
  } catch (error) {
    traced.failed(error);
    throw error;
  }
}

/**
 * After a local agent committed a task: an awarded one releases its
 * escrow to the payee, and (the first time) the winner's reputation
 * learns a success and how long it took. What is paid, to whom, and when
 * it was awarded come from the auction's record, not from the task's
 * headers (which any sender can write): only the task the auctioneer sent
 * to the winner it recorded settles anything.
 */
export async function settleCompleted(
  node: MarketContext,
  envelope: Envelope,
  agent: string,
  firstTime: boolean,
): Promise<void> {
  const won = await awardOf(node, envelope, agent);
  if (won === undefined) return;
  const { record, outcome } = won;
  const price = record.price ?? 0;
  if (outcome.escrowed && price > 0) {
    const payee = outcome.side === "sale" ? record.auctioneer : agent;
    await node.budgets.settle(escrowKey(record.id), price, "pass", payee);
  }
  if (!firstTime) return;
  const latencyMs = Number.isFinite(outcome.awardedAt)
    ? node.clock.now() - outcome.awardedAt
    : undefined;
  await learn(node, agent, {
    success: true,
    ...(latencyMs === undefined ? {} : { latencyMs }),
    ...(outcome.estimateMs === undefined ? {} : { estimateMs: outcome.estimateMs }),
  });
}

/**
 * An awarded task was dead-lettered: its winner failed it (the escrow is
 * refunded by the caller). Learnt once per death: a dead letter delivered
 * again (its ack was lost after this ran) teaches nothing more; the same
 * task dying again after a redrive is a new failure.
 */
export async function learnFailure(
  node: MarketContext,
  envelope: Envelope | undefined,
): Promise<void> {
  if (!envelope?.to || (await awardOf(node, envelope, envelope.to)) === undefined) return;
  const attempt = (await node.store.getMeta(redriveKey(envelope.id))) ?? "0";
  const learnt = failureLearntKey(envelope.id);
  if ((await node.store.getMeta(learnt)) === attempt) return;
  await learn(node, envelope.to, { success: false });
  // Marked after learning: a store error before the mark lets the redelivery
  // learn it (once), where marking first would lose the failure.
  await node.store.setMeta(learnt, attempt);
}

/** Meta key of the redrive attempt whose death reputation learnt for task `taskId`. */
const failureLearntKey = (taskId: string) => `market.failure-learnt.${taskId}`;

/**
 * The recorded award `envelope` is the task of, when it is: it names an
 * auction (`conclave-auction`) recorded as awarded to `agent`, is addressed
 * to `agent`, and has the id that award's task has (every caller, on any
 * node, builds it with {@link awardedTaskId}). A task that only copies the
 * headers gets undefined, and an `error` event says so.
 */
async function awardOf(
  node: MarketContext,
  envelope: Envelope,
  agent: string,
): Promise<{ record: AuctionRecord; outcome: AuctionWon } | undefined> {
  const auction = envelope.headers?.[AuctionHeaders.auction];
  if (!auction) return undefined;
  const record = await node.store.getAuction(auction);
  if (
    record !== undefined &&
    record.status === "awarded" &&
    record.winner === agent &&
    envelope.to === agent &&
    envelope.id === awardedTaskId(record.id, record.at)
  ) {
    return { record, outcome: fromRecord(record) };
  }
  node.events.emit({
    type: "error",
    error: `task ${envelope.id} from ${envelope.from} names auction ${auction} but is not the task it awarded to ${agent}: it settles no escrow and teaches no reputation`,
  });
  return undefined;
}

async function learn(
  node: MarketContext,
  agent: string,
  observation: Parameters<typeof updateMarketReputation>[1],
): Promise<void> {
  await node.store.updateReputation(agent, (previous) =>
    updateMarketReputation(previous, observation, REPUTATION_ALPHA),
  );
}
