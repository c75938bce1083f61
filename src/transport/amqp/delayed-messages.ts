import type { Clock } from "../../core/clock.js";

/**
 * Messages this connection put in delay queues (a nak with a delay longer
 * than `inProcessDelayMaxMs`), per work queue, until they are back. AMQP
 * counts them in no work queue while they wait (the delay queues are shared
 * by every work queue of the exchange), so `queueInfo` adds them here. One
 * is counted until a consumer on this connection receives it back, or, if
 * another connection does, until it is surely back (twice its delay, the
 * most its delay bucket can hold it, and a margin): a message may then be
 * counted twice for a while, never missed.
 */
export class DelayedMessages {
  readonly #clock: Clock;
  /** Per queue: message id → when it is surely back in its queue. */
  readonly #byQueue = new Map<string, Map<string, number>>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Records that message `msgId` of `queue` went into a delay queue for `delayMs`. */
  add(queue: string, msgId: string, delayMs: number): void {
    let messages = this.#byQueue.get(queue);
    if (messages === undefined) {
      messages = new Map();
      this.#byQueue.set(queue, messages);
    }
    messages.set(msgId, this.#clock.now() + 2 * delayMs + BACK_MARGIN_MS);
    // Those received back on other connections are forgotten when read;
    // where nobody reads, now and then, so the map stays small.
    if (messages.size % PRUNE_EVERY === 0) this.#prune(messages);
  }

  /** Message `msgId` of `queue` was received back from its delay queue. */
  back(queue: string, msgId: string): void {
    const messages = this.#byQueue.get(queue);
    if (messages?.delete(msgId) && messages.size === 0) this.#byQueue.delete(queue);
  }

  /** How many messages of `queue` wait in delay queues, as far as this connection knows. */
  count(queue: string): number {
    const messages = this.#byQueue.get(queue);
    if (messages === undefined) return 0;
    this.#prune(messages);
    if (messages.size === 0) this.#byQueue.delete(queue);
    return messages.size;
  }

  /** Forgets the messages surely back in their queue by now. */
  #prune(messages: Map<string, number>): void {
    const now = this.#clock.now();
    for (const [msgId, backBy] of messages) if (backBy <= now) messages.delete(msgId);
  }
}

/** Delayed messages of one queue between two prunes on `add`. */
const PRUNE_EVERY = 1024;

/** Time for an expired message to be moved from its delay queue back to its work queue. */
const BACK_MARGIN_MS = 5000;
