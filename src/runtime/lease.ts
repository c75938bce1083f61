import type { Clock } from "../core/clock.js";
import type { Delivery } from "../transport/port.js";

/**
 * Keeps a delivery's lease alive while work on it runs: tells the bus the
 * handler is working every third of the ack deadline, so a slow but live
 * handler is not redelivered. Returns the function that stops it.
 */
export function keepLease(clock: Clock, delivery: Delivery, ackWaitMs: number): () => void {
  const every = Math.max(10, Math.floor(ackWaitMs / 3));
  let cancel: () => void = () => {};
  const tick = () => {
    delivery.working();
    cancel = clock.setTimer(tick, every);
  };
  cancel = clock.setTimer(tick, every);
  return () => cancel();
}
