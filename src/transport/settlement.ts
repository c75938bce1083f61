/**
 * The delivery rules every durable-queue adapter obeys, written once: how a
 * handler's outcome (ack, nak with a delay, term with a reason, a throw) and
 * the delivery count become "remove", "redeliver" or "dead-letter with these
 * headers". Like Watermill's middleware above every Pub/Sub, this sits above
 * the adapters; each adapter (memory, NATS, RabbitMQ) supplies only its
 * broker's primitives (`LeaseOperations`): how to ack, give a message back
 * after a delay, move it to the dead-letter subject, extend its lease.
 *
 * The rules (see `Delivery` in `port.ts` for the contract they implement):
 * - A delivery settles once; every later `ack`, `nak` or `term` does nothing.
 * - A nak on a delivery whose lease the adapter already took back (its ack
 *   deadline passed) does nothing: the message was given back already. A
 *   late ack or term is passed on; the adapter applies it if it still can.
 * - A nak (or an expired lease) on delivery `n` of `maxDeliver` with
 *   `n >= maxDeliver` dead-letters the message; otherwise it is redelivered
 *   after the delay (whole milliseconds, never negative).
 * - `term(reason)` dead-letters at once, with the deliveries made so far.
 * - A handler that throws or rejects without settling naks the delivery.
 * - A message that arrives with `deliveryCount > maxDeliver` had its last
 *   allowed lease end unsettled (a hung or dead consumer): it is
 *   dead-lettered without running the handler again.
 * - A dead letter carries the original's data and headers plus
 *   `DeadLetterHeaders`, and is enqueued with the id `dlq:<original id>`.
 * - A dead letter the broker refuses (its queue full or gone) never sends
 *   the message back to a handler: the NATS and RabbitMQ adapters keep the
 *   message leased and try again with backoff (`DEAD_LETTER_ATTEMPTS_HELD`,
 *   `deadLetterRetryPause`), then puts it back marked as owing that dead
 *   letter. A message that arrives owing one is dead-lettered with the
 *   owed reason and count (`owedDeadLetter`), without running the handler.
 */

import { toError } from "../errors/index.js";
import { DeadLetterHeaders, type Delivery, type DeliveryHandler, type Headers } from "./port.js";

// ---- reasons ------------------------------------------------------------------

/** The dead-letter reason of a message whose allowed deliveries are used up. */
export function exhaustedReason(
  deliveries: number,
  maxDeliver: number,
  lastFailure: string,
): string {
  return `delivered ${deliveries} times (maxDeliver ${maxDeliver}); last failure: ${lastFailure}`;
}

/** The nak reason when a handler throws or rejects without settling its delivery. */
export function handlerFailedReason(error: unknown): string {
  return `handler failed without settling: ${toError(error).message}`;
}

/** Why a lease ended when nobody settled it within its ack deadline. */
export function ackDeadlineReason(ackWaitMs: number): string {
  return `ack deadline of ${ackWaitMs} ms passed`;
}

// ---- decisions ----------------------------------------------------------------

/** What becomes of a message given back unsettled (a nak, or a lease that expired). */
export type Redelivery =
  | { readonly kind: "redeliver"; readonly delayMs: number }
  | { readonly kind: "dead-letter"; readonly reason: string; readonly deliveries: number };

/**
 * Decides a nak (or an expired lease, with its reason): dead-letter once
 * `deliveryCount` reaches `maxDeliver`, else redeliver after the delay,
 * rounded to whole milliseconds and at least 0.
 */
export function decideRedelivery(
  deliveryCount: number,
  maxDeliver: number,
  options?: { readonly delayMs?: number; readonly reason?: string },
): Redelivery {
  if (deliveryCount >= maxDeliver) {
    return {
      kind: "dead-letter",
      reason: exhaustedReason(deliveryCount, maxDeliver, options?.reason ?? "nak"),
      deliveries: deliveryCount,
    };
  }
  return { kind: "redeliver", delayMs: Math.max(0, Math.round(options?.delayMs ?? 0)) };
}

/**
 * True when a message arrives after its last allowed delivery: its lease
 * ended unsettled (the consumer hung or died), so it is dead-lettered
 * instead of handled again.
 */
export function isExhausted(deliveryCount: number, maxDeliver: number): boolean {
  return deliveryCount > maxDeliver;
}

// ---- dead letters -------------------------------------------------------------

/**
 * Attempts at a refused dead letter while its message stays leased (1 s
 * apart, then doubling: 7 s in all), before the message is put back owing
 * its dead letter: held no longer, it does not keep a consumer's slot.
 */
export const DEAD_LETTER_ATTEMPTS_HELD = 4;

/** The pause after attempt `attempt` (from 1) at a refused dead letter, ms. */
export function deadLetterRetryPause(attempt: number): number {
  return 1000 * 2 ** (attempt - 1);
}

/** What a dead letter says about the message it replaces. */
export interface DeadLetterFacts {
  /** The original's headers, kept on the dead letter. */
  readonly headers: Headers;
  readonly reason: string;
  /** The queue the message leaves; absent for one that never reached a queue. */
  readonly queue?: string;
  /** The subject the message was enqueued to. */
  readonly subject: string;
  readonly deliveries: number;
  /** When, in ms since the epoch. */
  readonly at: number;
  /** The original's deduplication id. */
  readonly msgId: string;
}

/** The headers of a dead letter: the original's, plus `DeadLetterHeaders`. */
export function deadLetterHeaders(facts: DeadLetterFacts): Record<string, string> {
  return {
    ...facts.headers,
    [DeadLetterHeaders.reason]: facts.reason,
    ...(facts.queue === undefined ? {} : { [DeadLetterHeaders.queue]: facts.queue }),
    [DeadLetterHeaders.subject]: facts.subject,
    [DeadLetterHeaders.deliveries]: String(facts.deliveries),
    [DeadLetterHeaders.at]: String(facts.at),
    [DeadLetterHeaders.msgId]: facts.msgId,
  };
}

/**
 * The deduplication id a dead letter is enqueued with: a message moved twice
 * (a crash between storing the dead letter and removing the original) is
 * stored once.
 */
export function deadLetterMsgId(msgId: string): string {
  return `dlq:${msgId}`;
}

/**
 * The message id of a message sent again as a new message: the `n`-th
 * redrive of a dead letter, or a stranded message the NATS transport put
 * back on its queue. Unique, so no broker deduplicates it away;
 * {@link fromRedrive} gives back the id it was made from.
 */
export function redriveMsgId(id: string, n: number): string {
  return `${id}.redrive.${n}`;
}

/** The id a message id was made from by {@link redriveMsgId} (once or more); any other id unchanged. */
export function fromRedrive(msgId: string): string {
  return msgId.replace(/(?:\.redrive\.\d+)+$/, "");
}

/**
 * The message id and every id it was made from by {@link redriveMsgId},
 * oldest first: `a.redrive.2.redrive.1` gives `a`, `a.redrive.2` and
 * itself. A delivery settles the outbox entries of all of them: the sender's
 * entry, a dead letter's redrive, and a copy the sender's watch sent again.
 */
export function redriveLineage(msgId: string): string[] {
  let id = fromRedrive(msgId);
  const ids = [id];
  for (const step of msgId.slice(id.length).match(/\.redrive\.\d+/g) ?? []) {
    id += step;
    ids.push(id);
  }
  return ids;
}

/** What {@link redriveMsgId} added to a message id (`""` for an id it did not make). */
export function redriveSuffix(msgId: string): string {
  return msgId.slice(fromRedrive(msgId).length);
}

// ---- deliveries ---------------------------------------------------------------

/** The broker-specific primitives behind one leased message. */
export interface LeaseOperations {
  /** False once the adapter took the lease back (its ack deadline passed unsettled). */
  leaseHeld(): boolean;
  /** The queue's `maxDeliver` now (an `ensureQueue` may change it while the message is leased). */
  maxDeliver(): number;
  /** Removes the message for good; resolves when that is durable. */
  ack(): Promise<void>;
  /** Gives the message back, to be delivered again after `delayMs` (a whole number ≥ 0). */
  redeliver(delayMs: number): Promise<void>;
  /**
   * Moves the message to its queue's dead-letter subject (headers from
   * `deadLetterHeaders`, id from `deadLetterMsgId`) and removes the
   * original; when the dead letter cannot be stored, keeps the message,
   * owing that dead letter (see the rules above).
   */
  deadLetter(reason: string, deliveries: number): Promise<void>;
  /** Extends the lease by the queue's `ackWaitMs` from now. */
  extendLease(): void;
}

/** What an adapter receives about a leased message. */
export interface LeasedMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Headers;
  readonly queue: string;
  readonly msgId: string;
  readonly deliveryCount: number;
}

/** A `Delivery` as the adapters hold it: whether it settled, and the settlements nobody asks for by hand. */
export interface SettlingDelivery extends Delivery {
  /** True once `ack`, `nak`, `term` or `exhausted` was called. */
  readonly settled: boolean;
  /** Dead-letters a message that arrived after its last allowed lease ended unsettled (see `isExhausted`). */
  exhausted(lastFailure: string): Promise<void>;
  /**
   * Dead-letters a message that arrived owing a dead letter an earlier
   * delivery could not store (the broker refused it), with that dead
   * letter's reason and deliveries: its handler does not run again.
   */
  owedDeadLetter(reason: string, deliveries: number): Promise<void>;
}

/**
 * The `Delivery` handed to a handler, settling through the adapter's
 * primitives by the rules above.
 */
export function createDelivery(message: LeasedMessage, lease: LeaseOperations): SettlingDelivery {
  return new LeasedDelivery(message, lease);
}

/**
 * A class rather than an object literal of closures: one allocation per
 * delivery, its methods shared on the prototype (a busy queue makes
 * thousands of deliveries a second, and those in flight outlive a young
 * garbage collection). Call its methods on the delivery (`d.ack()`), as
 * with any `Delivery`.
 */
class LeasedDelivery implements SettlingDelivery {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Headers;
  readonly queue: string;
  readonly msgId: string;
  readonly deliveryCount: number;
  readonly #lease: LeaseOperations;
  #settled = false;

  constructor(message: LeasedMessage, lease: LeaseOperations) {
    this.subject = message.subject;
    this.data = message.data;
    this.headers = message.headers;
    this.queue = message.queue;
    this.msgId = message.msgId;
    this.deliveryCount = message.deliveryCount;
    this.#lease = lease;
  }

  get settled(): boolean {
    return this.#settled;
  }

  #settleOnce(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    return true;
  }

  ack(): Promise<void> {
    return this.#settleOnce() ? this.#lease.ack() : Promise.resolve();
  }

  nak(options?: { delayMs?: number; reason?: string }): Promise<void> {
    if (!this.#settleOnce() || !this.#lease.leaseHeld()) return Promise.resolve();
    const next = decideRedelivery(this.deliveryCount, this.#lease.maxDeliver(), options);
    return next.kind === "redeliver"
      ? this.#lease.redeliver(next.delayMs)
      : this.#lease.deadLetter(next.reason, next.deliveries);
  }

  term(reason: string): Promise<void> {
    return this.#settleOnce()
      ? this.#lease.deadLetter(reason, this.deliveryCount)
      : Promise.resolve();
  }

  working(): void {
    if (!this.#settled && this.#lease.leaseHeld()) this.#lease.extendLease();
  }

  exhausted(lastFailure: string): Promise<void> {
    if (!this.#settleOnce()) return Promise.resolve();
    const deliveries = this.deliveryCount - 1;
    return this.#lease.deadLetter(
      exhaustedReason(deliveries, this.#lease.maxDeliver(), lastFailure),
      deliveries,
    );
  }

  owedDeadLetter(reason: string, deliveries: number): Promise<void> {
    return this.#settleOnce() ? this.#lease.deadLetter(reason, deliveries) : Promise.resolve();
  }
}

/**
 * Runs the handler on a delivery; when it throws or rejects without having
 * settled the delivery, naks it with the error as reason. Failures to settle,
 * and failures after the delivery was settled, go to `report` (nobody
 * awaits them).
 */
export function invokeHandler(
  handler: DeliveryHandler,
  delivery: SettlingDelivery,
  report: (error: Error) => void,
): void {
  const failed = (error: unknown) => {
    // Settled already (its ack rejected, or its code threw after acking):
    // nothing to nak, but the failure must not vanish.
    if (delivery.settled) {
      report(toError(error));
      return;
    }
    delivery.nak({ reason: handlerFailedReason(error) }).catch((e: unknown) => report(toError(e)));
  };
  let result: void | Promise<void>;
  try {
    result = handler(delivery);
  } catch (error) {
    failed(error);
    return;
  }
  if (result && typeof result.then === "function") result.then(undefined, failed);
}
