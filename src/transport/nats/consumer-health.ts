/**
 * A durable consumer that no longer sees messages its stream holds.
 *
 * In a JetStream cluster a consumer's leader delivers from its own server's
 * copy of the stream. The chaos scenario `nats-r3-partition` (nats-server
 * 2.9.10: the stream leader cut off from the other two servers, healed)
 * ended with streams holding messages past what their consumer had
 * delivered while the consumer reported nothing pending, for as long as the
 * run lasted: a task acknowledged to its producer and never delivered
 * (docs/CHAOS.md, finding 16). The likely cause: the consumer's leader
 * reads a copy of the stream that stopped catching up (not confirmed: the
 * servers' replica states were not logged then; they are now).
 *
 * The same runs on nats-server 2.9.10 also ended with streams holding
 * messages at or below what their consumer had delivered and counted as
 * acknowledged, nothing pending (finding 19): a consumer never delivers
 * those again, and a work-queue stream keeps a message until its consumer
 * acknowledges it, so they stay forever.
 *
 * A transport with replicated queues compares the two for each queue its
 * consumers find idle, now and then. When the stream holds
 * messages beyond the consumer's last delivered sequence while the consumer
 * says nothing is pending or unacknowledged, in two looks a check apart with
 * no delivery in between, the consumer is stuck: the transport reports it
 * and asks the server to move the consumer's leadership to another replica
 * (`$JS.API.CONSUMER.LEADER.STEPDOWN`), whose copy of the stream may be whole
 * (if it is not either, the next two looks ask again). Messages held at or
 * below the consumer's position are put back on the queue as new messages
 * (same subject, body and headers, a new message id) and the stranded copy
 * removed: the consumer delivers them, and a task already handled is
 * recognised by its completion marker and not run twice.
 */

import type { Clock } from "../../core/clock.js";
import { TransportError } from "../../errors/index.js";

/** What the server says of a queue's stream and its consumer, read in that order: consumer first. */
export interface QueuePositions {
  /** The stream's last sequence. */
  readonly streamLastSeq: number;
  /** Messages the stream holds. */
  readonly streamMessages: number;
  /** The last stream sequence the consumer delivered. */
  readonly delivered: number;
  /** Messages the consumer still has to deliver (`num_pending`). */
  readonly pending: number;
  /** Messages delivered and not yet acknowledged (`num_ack_pending`). */
  readonly ackPending: number;
}

/**
 * How many messages the stream holds past what the consumer delivered while
 * the consumer has nothing pending nor unacknowledged: 0 for a healthy
 * consumer. (Reading the consumer before the stream, a message stored in
 * between shows here too: hence two looks, see {@link ConsumerWatch}.)
 */
export function unseenMessages(p: QueuePositions): number {
  if (p.pending > 0 || p.ackPending > 0 || p.streamMessages === 0) return 0;
  return Math.max(0, p.streamLastSeq - p.delivered);
}

/**
 * How many messages the stream holds at or below the consumer's delivered
 * position while the consumer has nothing pending nor unacknowledged: 0 for
 * a healthy consumer of a work-queue stream, which removes each message
 * once acknowledged.
 */
export function strandedMessages(p: QueuePositions): number {
  if (p.pending > 0 || p.ackPending > 0) return 0;
  return Math.max(0, p.streamMessages - unseenMessages(p));
}

/** The verdict on one look. */
export type ConsumerVerdict =
  | { readonly kind: "healthy" }
  /** Unseen messages this time, not yet twice: look again. */
  | { readonly kind: "suspect" }
  /** The same consumer position with messages unseen or stranded, two looks in a row. */
  | {
      readonly kind: "stuck";
      readonly unseen: number;
      readonly stranded: number;
      readonly positions: QueuePositions;
    };

/** Two looks, a check apart, with nothing delivered in between: a consumer is stuck only then. */
export class ConsumerWatch {
  #suspect: QueuePositions | undefined;

  observe(positions: QueuePositions): ConsumerVerdict {
    const unseen = unseenMessages(positions);
    const stranded = strandedMessages(positions);
    if (unseen === 0 && stranded === 0) {
      this.#suspect = undefined;
      return { kind: "healthy" };
    }
    const before = this.#suspect;
    if (before === undefined || before.delivered !== positions.delivered) {
      this.#suspect = positions;
      return { kind: "suspect" };
    }
    // Acted on: the next look starts over.
    this.#suspect = undefined;
    return { kind: "stuck", unseen, stranded, positions };
  }
}

/** What {@link IdleQueueWatch} needs from the transport. */
export interface IdleQueueWatchDeps {
  readonly clock: Clock;
  /** Where the queue's consumer and stream stand. */
  positions(queue: string): Promise<QueuePositions>;
  /** Asks the server for another leader of the queue's consumer. */
  moveConsumerLeader(queue: string): Promise<void>;
  /**
   * Puts the messages the queue's stream holds up to sequence `upTo` back on
   * the queue as new messages, removing the stranded copies; resolves with
   * how many.
   */
  requeueStranded(queue: string, upTo: number): Promise<number>;
  report(error: Error): void;
  /** False once the transport is closing: looks stop. */
  isOpen(): boolean;
}

/** How often an idle queue is looked at, at most. */
export const LOOK_EVERY_MS = 15_000;

/**
 * The looks of one transport at its idle queues: at most one every
 * {@link LOOK_EVERY_MS} per queue, however many consumers it has on it
 * (agents of one role share a queue), so one stuck queue gets one
 * step-down. A look that fails (an election under way) is dropped: the next
 * one comes.
 */
export class IdleQueueWatch {
  readonly #deps: IdleQueueWatchDeps;
  readonly #queues = new Map<
    string,
    { readonly watch: ConsumerWatch; lastLook: number; looking: boolean }
  >();

  constructor(deps: IdleQueueWatchDeps) {
    this.#deps = deps;
  }

  /** A consumer of `queue` found nothing to pull: look, unless a look was made lately. */
  idle(queue: string): void {
    const deps = this.#deps;
    const now = deps.clock.now();
    let state = this.#queues.get(queue);
    if (state === undefined) {
      state = { watch: new ConsumerWatch(), lastLook: now, looking: true };
      this.#queues.set(queue, state);
    } else {
      if (state.looking || now - state.lastLook < LOOK_EVERY_MS) return;
      state.lastLook = now;
      state.looking = true;
    }
    const queueState = state;
    void (async () => {
      try {
        const verdict = queueState.watch.observe(await deps.positions(queue));
        if (verdict.kind !== "stuck" || !deps.isOpen()) return;
        if (verdict.unseen > 0) {
          deps.report(
            new TransportError(stuckConsumerMessage(queue, verdict.unseen, verdict.positions)),
          );
          await deps.moveConsumerLeader(queue);
        }
        if (verdict.stranded > 0) {
          const moved = await deps.requeueStranded(queue, verdict.positions.delivered);
          deps.report(new TransportError(strandedMessage(queue, moved, verdict.positions)));
        }
      } catch (error) {
        if (deps.isOpen() && error instanceof TransportError) deps.report(error);
      } finally {
        queueState.looking = false;
      }
    })();
  }
}

/** The message reported when a consumer is stuck. */
export function stuckConsumerMessage(queue: string, unseen: number, p: QueuePositions): string {
  return `queue "${queue}": its NATS consumer does not see ${unseen} message(s) its stream holds (stream up to sequence ${p.streamLastSeq}, consumer delivered up to ${p.delivered}, nothing pending or unacknowledged); asking the server to move the consumer's leader to another replica. If this repeats, check the cluster's health (nats server report jetstream) and upgrade nats-server`;
}

/** The message reported when stranded messages were put back on their queue. */
export function strandedMessage(queue: string, moved: number, p: QueuePositions): string {
  return `queue "${queue}": its NATS stream held ${moved} message(s) at or below what its consumer counted as delivered and acknowledged (up to sequence ${p.delivered}, nothing pending or unacknowledged), which it would never deliver; put them back on the queue as new messages (a task already handled is not run twice). Upgrade nats-server to 2.10 or later: 2.9 leaves streams in this state after leader changes`;
}
