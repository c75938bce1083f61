import type { Clock } from "../core/clock.js";
import type { Delivery } from "../transport/port.js";

/** The deliveries kept on one period, with how many holds each, and its timer. */
interface Group {
  readonly held: Map<Delivery, number>;
  cancel: (() => void) | undefined;
}

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
  readonly #groups = new Map<number, Group>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /**
   * Extends `delivery`'s lease until the returned function is called. Holds
   * nest: a delivery held twice is kept until both are released (a release
   * called again does nothing).
   */
  keep(delivery: Delivery, ackWaitMs: number): () => void {
    const every = Math.max(10, Math.floor(ackWaitMs / 3));
    let group = this.#groups.get(every);
    if (group === undefined) {
      group = { held: new Map(), cancel: undefined };
      this.#groups.set(every, group);
    }
    const g = group;
    g.held.set(delivery, (g.held.get(delivery) ?? 0) + 1);
    if (g.cancel === undefined) this.#arm(g, every);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const holds = (g.held.get(delivery) ?? 1) - 1;
      if (holds > 0) g.held.set(delivery, holds);
      else g.held.delete(delivery);
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

  #arm(group: Group, every: number): void {
    group.cancel = this.#clock.setTimer(() => {
      group.cancel = undefined;
      if (group.held.size === 0) return;
      for (const delivery of group.held.keys()) delivery.working();
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
