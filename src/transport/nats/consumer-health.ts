/**
 * A durable consumer that no longer sees messages its stream holds.
 *
 * In a JetStream cluster a consumer's leader delivers from its own server's
 * copy of the stream. The chaos scenario `nats-r3-partition` (nats-server
 * 2.9.10: the stream leader cut off from the other two servers, healed)
 * ended with streams holding messages past what their consumer had
 * delivered while the consumer reported nothing pending, for as long as the
 * run lasted: a task acknowledged to its producer and never delivered
 * (docs/CHAOS.md, finding 16). The consumer's leader was reading a copy of
 * the stream that had stopped catching up.
 *
 * An idle consumer compares the two now and then. When the stream holds
 * messages beyond the consumer's last delivered sequence while the consumer
 * says nothing is pending or unacknowledged, in two looks a check apart with
 * no delivery in between, the consumer is stuck: the transport reports it
 * and asks the server to move the consumer's leadership to another replica
 * (`$JS.API.CONSUMER.LEADER.STEPDOWN`), whose copy of the stream is whole.
 */

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

/** The verdict on one look. */
export type ConsumerVerdict =
  | { readonly kind: "healthy" }
  /** Unseen messages this time, not yet twice: look again. */
  | { readonly kind: "suspect" }
  /** The same consumer position with messages unseen, two looks in a row. */
  | { readonly kind: "stuck"; readonly unseen: number; readonly positions: QueuePositions };

/** Two looks, a check apart, with nothing delivered in between: a consumer is stuck only then. */
export class ConsumerWatch {
  #suspect: QueuePositions | undefined;

  observe(positions: QueuePositions): ConsumerVerdict {
    const unseen = unseenMessages(positions);
    if (unseen === 0) {
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
    return { kind: "stuck", unseen, positions };
  }
}

/** The message reported when a consumer is stuck. */
export function stuckConsumerMessage(queue: string, unseen: number, p: QueuePositions): string {
  return `queue "${queue}": its NATS consumer does not see ${unseen} message(s) its stream holds (stream up to sequence ${p.streamLastSeq}, consumer delivered up to ${p.delivered}, nothing pending or unacknowledged); asking the server to move the consumer's leader to another replica. If this repeats, check the cluster's health (nats server report jetstream) and upgrade nats-server`;
}
