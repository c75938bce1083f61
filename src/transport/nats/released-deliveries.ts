/** Releases remembered at most; the oldest are forgotten first. */
const MAX_ENTRIES = 10_000;

/**
 * The deliveries this transport gave back to JetStream without any handler
 * having seen them (a consumer closed while a message was on its way, a
 * pull answered beyond what it asked for), by stream sequence.
 *
 * JetStream counts every delivery, a NAK'd one included, and the adapter
 * enforces `maxDeliver` on that count (`max_deliver` is unlimited on the
 * server). Left as is, each such release would spend one of the message's
 * attempts: with `maxDeliver` 1 the message would be dead-lettered as
 * "delivered 1 times" though no handler ever ran. So the count a delivery
 * reports is the server's minus the releases remembered here.
 *
 * Local and bounded: a release made by another process, or forgotten after
 * `MAX_ENTRIES` newer ones, still counts (an attempt lost, never a message).
 */
export class ReleasedDeliveries {
  readonly #counts = new Map<string, number>();

  /** Notes that delivery of `seq` in `stream` was given back unhandled. */
  released(stream: string, seq: number): void {
    const key = keyOf(stream, seq);
    const count = this.#counts.get(key) ?? 0;
    this.#counts.delete(key);
    this.#counts.set(key, count + 1);
    if (this.#counts.size > MAX_ENTRIES) {
      const oldest = this.#counts.keys().next();
      if (!oldest.done) this.#counts.delete(oldest.value);
    }
  }

  /**
   * The attempts a delivery counts as: the server's `deliveryCount` minus
   * the releases remembered for it, and at least 1 (this one).
   */
  attempts(stream: string, seq: number, deliveryCount: number): number {
    const released = this.#counts.get(keyOf(stream, seq)) ?? 0;
    return Math.max(1, deliveryCount - released);
  }

  /** Forgets a message that left its queue (acked or dead-lettered). */
  forget(stream: string, seq: number): void {
    this.#counts.delete(keyOf(stream, seq));
  }

  get size(): number {
    return this.#counts.size;
  }
}

function keyOf(stream: string, seq: number): string {
  return `${stream}\u0000${seq}`;
}
