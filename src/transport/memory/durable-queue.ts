import type { Clock } from "../../core/clock.js";
import { MinHeap } from "../../core/min-heap.js";
import { toError } from "../../errors/index.js";
import type { DeliveryHandler, Headers, QueueConfig, QueueInfo } from "../port.js";
import {
  ackDeadlineReason,
  createDelivery,
  decideRedelivery,
  exhaustedReason,
  invokeHandler,
  isExhausted,
  type LeaseOperations,
} from "../settlement.js";
import type { Journal } from "./journal.js";

/** A message held by a queue. */
export interface StoredMessage {
  readonly seq: number;
  readonly subject: string;
  readonly msgId: string;
  readonly headers: Headers;
  readonly data: Uint8Array;
  deliveries: number;
  visibleAt: number;
  lease: Lease | undefined;
}

/**
 * One message leased to one consumer. It is also the delivery's broker side
 * (`LeaseOperations`): one object per delivery, with its operations on the
 * prototype, instead of a closure per operation (a busy queue makes
 * thousands a second, and those in flight survive into the old generation).
 */
class Lease implements LeaseOperations {
  active = true;
  /** Its place in the queue's expiry heap, emptied when the lease ends. */
  slot: LeaseSlot;

  constructor(
    readonly queue: DurableQueue,
    readonly token: number,
    readonly consumer: QueueConsumer,
    readonly message: StoredMessage,
    public until: number,
  ) {
    this.slot = { lease: this, until };
  }

  leaseHeld(): boolean {
    return this.active;
  }

  maxDeliver(): number {
    return this.queue.config.maxDeliver;
  }

  ack(): Promise<void> {
    return this.queue.settleLease(this, "ack", 0, "");
  }

  redeliver(delayMs: number): Promise<void> {
    return this.queue.settleLease(this, "redeliver", delayMs, "");
  }

  deadLetter(reason: string, deliveries: number): Promise<void> {
    return this.queue.settleLease(this, "dead-letter", deliveries, reason);
  }

  extendLease(): void {
    this.until = this.queue.leaseDeadline();
  }
}

/**
 * An entry of the expiry heap. A settled lease is not taken out of the heap
 * (a heap has no cheap removal) but emptied: its entry stays until its
 * deadline comes round, and holds nothing but the deadline meanwhile, not
 * the message and its bytes (which kept every acked message of the last
 * ack wait alive: a busy queue's garbage collector copied them over and over).
 */
interface LeaseSlot {
  lease: Lease | undefined;
  readonly until: number;
}

/** What a queue needs from the broker around it. */
export interface QueueHost {
  readonly clock: Clock;
  readonly journal: Journal | undefined;
  /** Moves a message to the dead-letter subject; never throws for routing. */
  deadLetter(from: DurableQueue, message: StoredMessage, reason: string, deliveries: number): void;
  /** Reports a failure nobody awaits (e.g. a journal write behind a lease). */
  report(error: Error): void;
}

/** One consumer's view of a queue: its handler, its capacity, its leases. */
export class QueueConsumer {
  readonly leases = new Set<Lease>();
  accepting = true;
  #idle: (() => void)[] = [];

  constructor(
    readonly queue: DurableQueue,
    readonly handler: DeliveryHandler,
    readonly maxInFlight: number,
  ) {}

  get inFlight(): number {
    return this.leases.size;
  }

  hasCapacity(): boolean {
    return this.accepting && this.leases.size < this.maxInFlight;
  }

  /** Resolves when no lease is held. */
  idle(): Promise<void> {
    if (this.leases.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  released(): void {
    if (this.leases.size === 0 && this.#idle.length > 0) {
      const waiters = this.#idle;
      this.#idle = [];
      for (const w of waiters) w();
    }
  }
}

let nextToken = 1;

/** The last failure of a message whose last allowed lease a stopped process held. */
const LOST_LEASE = "the process stopped before settling it";

/**
 * A durable work queue: FIFO by sequence, each message leased to one
 * consumer at a time, redelivered on nak or lease expiry, dead-lettered after
 * `maxDeliver`. The journal (when present) makes it survive a restart.
 */
export class DurableQueue {
  config: QueueConfig;
  readonly messages = new Map<number, StoredMessage>();
  readonly #ready: StoredMessage[] = [];
  #readyHead = 0;
  readonly #delayed = new MinHeap<StoredMessage>((m) => m.visibleAt);
  readonly #leases = new MinHeap<LeaseSlot>((e) => e.until);
  readonly consumers: QueueConsumer[] = [];
  #cursor = 0;
  #nextSeq = 1;
  #leased = 0;
  #dispatching = false;
  #again = false;
  #timerAt = Number.POSITIVE_INFINITY;
  #cancelTimer: (() => void) | undefined;
  /** Closed with its broker: a lease settled later arms no timer (it would hold the process open). */
  #closed = false;
  readonly #host: QueueHost;

  constructor(config: QueueConfig, host: QueueHost) {
    this.config = config;
    this.#host = host;
  }

  get name(): string {
    return this.config.name;
  }

  info(): QueueInfo {
    return {
      name: this.name,
      pending: this.messages.size,
      inFlight: this.#leased,
      consumers: this.consumers.length,
    };
  }

  /** Puts back a message read from the journal at start-up. */
  restore(message: StoredMessage): void {
    this.messages.set(message.seq, message);
    this.#nextSeq = Math.max(this.#nextSeq, message.seq + 1);
    this.#makeVisible(message);
  }

  /**
   * Adds a new message; returns the journal write to await. With
   * `withdrawOnFailure`, a message whose journal write fails is dropped from
   * memory too (its enqueue fails, and the producer retries it).
   */
  add(
    subject: string,
    msgId: string,
    headers: Headers,
    data: Uint8Array,
    withdrawOnFailure = false,
  ): Promise<void> {
    const message: StoredMessage = {
      seq: this.#nextSeq++,
      subject,
      msgId,
      headers,
      data,
      deliveries: 0,
      visibleAt: 0,
      lease: undefined,
    };
    this.messages.set(message.seq, message);
    this.#ready.push(message);
    const { lease: _, ...row } = message;
    const written = this.#host.journal?.put({ queue: this.name, ...row });
    this.dispatch();
    if (!written) return Promise.resolve();
    if (!withdrawOnFailure) return written;
    return written.catch((error: unknown) => {
      // Never written: nothing to delete on disk. A lease on it settles as
      // on a message gone (an ack or nak of it does nothing).
      if (this.messages.get(message.seq) === message) this.messages.delete(message.seq);
      throw error;
    });
  }

  /** Removes a message for good (ack, dead-letter). */
  remove(message: StoredMessage): Promise<void> {
    if (this.messages.get(message.seq) !== message) return Promise.resolve();
    this.messages.delete(message.seq);
    return this.#host.journal?.delete(this.name, message.seq) ?? Promise.resolve();
  }

  attach(consumer: QueueConsumer): void {
    this.consumers.push(consumer);
    this.dispatch();
  }

  /** Detaches a consumer; with `release`, its leases go back to the queue now. */
  detach(consumer: QueueConsumer, release: boolean): void {
    consumer.accepting = false;
    const i = this.consumers.indexOf(consumer);
    if (i >= 0) this.consumers.splice(i, 1);
    if (release) {
      for (const lease of [...consumer.leases]) {
        this.#expire(lease, "its consumer closed before settling it");
      }
    }
    this.dispatch();
  }

  /** Hands ready messages to consumers with capacity, round-robin. */
  dispatch(): void {
    // Closed with its broker (a transport sharing it may still settle late):
    // a new lease would start work the closed journal can no longer record.
    if (this.#closed) return;
    if (this.#dispatching) {
      this.#again = true;
      return;
    }
    this.#dispatching = true;
    try {
      do {
        this.#again = false;
        this.#promoteDelayed();
        this.#dispatchReady();
      } while (this.#again);
    } finally {
      this.#dispatching = false;
    }
    this.#schedule();
  }

  close(): void {
    this.#closed = true;
    // Leases end with their broker (the journal keeps each message as a crash
    // would): a drain waiting for them would otherwise wait for ever, no
    // timer being left to expire them. A late ack still reports its failure.
    for (const consumer of this.consumers) {
      for (const lease of [...consumer.leases]) this.#end(lease);
    }
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  #dispatchReady(): void {
    const now = this.#host.clock.now();
    while (this.#readyHead < this.#ready.length) {
      const consumer = this.#pickConsumer();
      if (!consumer) break;
      const message = this.#ready[this.#readyHead] as StoredMessage;
      this.#readyHead++;
      if (this.messages.get(message.seq) !== message || message.lease) continue;
      if (isExhausted(message.deliveries + 1, this.config.maxDeliver)) {
        // Its last allowed delivery was in flight when the process stopped
        // (restored from the journal): running it again could crash the
        // process again, on every restart, and never reach the dead letters.
        this.#host.deadLetter(
          this,
          message,
          exhaustedReason(message.deliveries, this.config.maxDeliver, LOST_LEASE),
          message.deliveries,
        );
        continue;
      }
      this.#lease(message, consumer, now);
    }
    if (this.#readyHead === this.#ready.length) {
      // All handed out: let go of them now (an idle queue held up to 1,024
      // acknowledged messages and their payloads until more work came).
      this.#ready.length = 0;
      this.#readyHead = 0;
    } else if (this.#readyHead > 1024 && this.#readyHead * 2 > this.#ready.length) {
      this.#ready.splice(0, this.#readyHead);
      this.#readyHead = 0;
    }
  }

  #pickConsumer(): QueueConsumer | undefined {
    const n = this.consumers.length;
    for (let i = 0; i < n; i++) {
      const c = this.consumers[(this.#cursor + i) % n] as QueueConsumer;
      if (c.hasCapacity()) {
        this.#cursor = (this.#cursor + i + 1) % n;
        return c;
      }
    }
    return undefined;
  }

  #lease(message: StoredMessage, consumer: QueueConsumer, now: number): void {
    message.deliveries++;
    const lease = new Lease(this, nextToken++, consumer, message, now + this.config.ackWaitMs);
    message.lease = lease;
    consumer.leases.add(lease);
    this.#leased++;
    this.#leases.push(lease.slot);
    this.#host.journal
      ?.deliveries(this.name, message.seq, message.deliveries, message.visibleAt)
      .catch((e: unknown) => this.#host.report(toError(e)));
    const delivery = this.#delivery(lease);
    queueMicrotask(() => {
      // Its consumer closed in this turn and gave the message back: handled
      // here too, it would run twice (and a late ack would take it from the
      // consumer it went to).
      if (lease.active) invokeHandler(consumer.handler, delivery, this.#report);
    });
  }

  readonly #report = (error: Error): void => this.#host.report(error);

  /** The delivery of a lease, settled by the shared rules (`settlement.ts`) through this queue. */
  #delivery(lease: Lease) {
    const message = lease.message;
    return createDelivery(
      {
        subject: message.subject,
        data: message.data,
        headers: message.headers,
        queue: this.name,
        msgId: message.msgId,
        deliveryCount: message.deliveries,
      },
      lease,
    );
  }

  /**
   * Settles a lease as its delivery asked (`Lease`'s operations): `count`
   * is the delay of a redelivery or the deliveries of a dead letter.
   *
   * @internal
   */
  settleLease(
    lease: Lease,
    how: "ack" | "redeliver" | "dead-letter",
    count: number,
    reason: string,
  ): Promise<void> {
    this.#end(lease);
    const message = lease.message;
    let written: Promise<void>;
    if (how === "ack") written = this.remove(message);
    else if (!this.#stillHeld(message)) written = Promise.resolve();
    else if (how === "redeliver") written = this.#redeliver(message, count);
    else written = this.#deadLetter(message, reason, count);
    this.dispatch();
    return written;
  }

  /** When a lease taken or extended now ends. @internal */
  leaseDeadline(): number {
    return this.#host.clock.now() + this.config.ackWaitMs;
  }

  #stillHeld(message: StoredMessage): boolean {
    return this.messages.get(message.seq) === message;
  }

  /** A message given back unsettled (its lease ended): in line again, or dead-lettered when exhausted. */
  #giveBack(message: StoredMessage, reason: string): Promise<void> {
    if (!this.#stillHeld(message)) return Promise.resolve();
    const next = decideRedelivery(message.deliveries, this.config.maxDeliver, { reason });
    return next.kind === "dead-letter"
      ? this.#deadLetter(message, next.reason, next.deliveries)
      : this.#redeliver(message, next.delayMs);
  }

  #deadLetter(message: StoredMessage, reason: string, deliveries: number): Promise<void> {
    this.#host.deadLetter(this, message, reason, deliveries);
    return this.#host.journal?.flush() ?? Promise.resolve();
  }

  /** Back in line after `delayMs`. */
  #redeliver(message: StoredMessage, delayMs: number): Promise<void> {
    message.visibleAt = this.#host.clock.now() + delayMs;
    this.#makeVisible(message);
    return (
      this.#host.journal?.deliveries(
        this.name,
        message.seq,
        message.deliveries,
        message.visibleAt,
      ) ?? Promise.resolve()
    );
  }

  #makeVisible(message: StoredMessage): void {
    if (message.visibleAt <= this.#host.clock.now()) this.#ready.push(message);
    else this.#delayed.push(message);
  }

  #end(lease: Lease): void {
    if (!lease.active) return;
    lease.active = false;
    lease.slot.lease = undefined;
    this.#leased--;
    lease.consumer.leases.delete(lease);
    if (lease.message.lease === lease) lease.message.lease = undefined;
    lease.consumer.released();
  }

  #expire(lease: Lease, why: string): void {
    if (!lease.active) return;
    this.#end(lease);
    const message = lease.message;
    if (!this.#stillHeld(message) || message.lease) return;
    this.#giveBack(message, why).catch((e: unknown) => this.#host.report(toError(e)));
  }

  #promoteDelayed(): void {
    const now = this.#host.clock.now();
    for (
      let next = this.#delayed.peek();
      next && next.visibleAt <= now;
      next = this.#delayed.peek()
    ) {
      this.#delayed.pop();
      if (this.messages.get(next.seq) === next && !next.lease) this.#ready.push(next);
    }
  }

  #expireLeases(): void {
    const now = this.#host.clock.now();
    for (let next = this.#leases.peek(); next && next.until <= now; next = this.#leases.peek()) {
      this.#leases.pop();
      const lease = next.lease;
      if (lease === undefined || !lease.active) continue;
      if (lease.until > now) {
        // Extended by working(): wait for the new deadline.
        lease.slot = { lease, until: lease.until };
        this.#leases.push(lease.slot);
        continue;
      }
      this.#expire(lease, ackDeadlineReason(this.config.ackWaitMs));
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    const nextDelayed = this.#delayed.peek()?.visibleAt ?? Number.POSITIVE_INFINITY;
    const nextLease = this.#leases.peek()?.until ?? Number.POSITIVE_INFINITY;
    const due = Math.min(nextDelayed, nextLease);
    if (due === Number.POSITIVE_INFINITY || due >= this.#timerAt) return;
    this.#cancelTimer?.();
    this.#timerAt = due;
    this.#cancelTimer = this.#host.clock.setTimer(() => {
      this.#timerAt = Number.POSITIVE_INFINITY;
      this.#cancelTimer = undefined;
      this.#expireLeases();
      this.dispatch();
    }, due - this.#host.clock.now());
  }
}
