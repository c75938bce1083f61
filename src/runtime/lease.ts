import type { Clock } from "../core/clock.js";
import type { Delivery } from "../transport/port.js";

/**
 * Keeps deliveries' leases alive while work on them runs: every delivery
 * held is told the handler is working at least every third of its ack
 * deadline, so a slow but live handler is not redelivered. One timer per
 * distinct period serves every delivery held with it (a timer per task
 * would cost more than the task on a fast path); it runs only while some
 * delivery is held.
 */
export class LeaseKeeper {
  readonly #clock: Clock;
  readonly #groups = new Map<number, { held: Set<Delivery>; cancel: (() => void) | undefined }>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Extends `delivery`'s lease until the returned function is called. */
  keep(delivery: Delivery, ackWaitMs: number): () => void {
    const every = Math.max(10, Math.floor(ackWaitMs / 3));
    let group = this.#groups.get(every);
    if (group === undefined) {
      group = { held: new Set(), cancel: undefined };
      this.#groups.set(every, group);
    }
    const g = group;
    g.held.add(delivery);
    if (g.cancel === undefined) this.#arm(g, every);
    return () => {
      g.held.delete(delivery);
    };
  }

  /** Stops every timer (the node stops). */
  close(): void {
    for (const group of this.#groups.values()) {
      group.cancel?.();
      group.cancel = undefined;
      group.held.clear();
    }
  }

  #arm(group: { held: Set<Delivery>; cancel: (() => void) | undefined }, every: number): void {
    group.cancel = this.#clock.setTimer(() => {
      group.cancel = undefined;
      if (group.held.size === 0) return;
      for (const delivery of group.held) delivery.working();
      this.#arm(group, every);
    }, every);
  }
}

/**
 * Keeps one delivery's lease alive on its own timer. Returns the function
 * that stops it. Prefer a node's shared {@link LeaseKeeper} on hot paths.
 */
export function keepLease(clock: Clock, delivery: Delivery, ackWaitMs: number): () => void {
  const keeper = new LeaseKeeper(clock);
  const release = keeper.keep(delivery, ackWaitMs);
  return () => {
    release();
    keeper.close();
  };
}
