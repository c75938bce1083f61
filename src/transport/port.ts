/**
 * The `Transport` port: everything conclave needs from a message bus, and
 * nothing more. Adapters (in-process memory, NATS JetStream, RabbitMQ) each
 * implement it and pass the shared conformance suite in `src/testkit/conformance/`.
 *
 * Two delivery models live side by side:
 *
 * - **Core messaging** (`publish`, `subscribe`, `request`): at-most-once,
 *   fan-out to every matching subscription, or to one member of a queue group.
 *   For events, heartbeats and request/reply.
 * - **Durable work queues** (`ensureQueue`, `enqueue`, `consume`):
 *   at-least-once, each message handled by exactly one consumer at a time,
 *   removed only when acknowledged, redelivered after a nak or when its ack
 *   deadline passes, dead-lettered with a reason after `maxDeliver` deliveries.
 *
 * Adapters never leak driver types through this interface.
 */

/** Message headers. Keys are lowercase ASCII; values are strings. */
export type Headers = Readonly<Record<string, string>>;

/** A message received on a core subscription. */
export interface Message {
  /** The concrete subject it was published to. */
  readonly subject: string;
  /** The payload. Receivers must treat it as read-only: it may be shared. */
  readonly data: Uint8Array;
  readonly headers: Headers;
  /** Where to send an answer, when the sender used `request`. */
  readonly reply?: string;
}

/** Handles a core message. Errors and rejections are caught and reported, never thrown into the bus. */
export type MessageHandler = (message: Message) => void | Promise<void>;

/** Options of `Transport.publish`. */
export interface PublishOptions {
  readonly headers?: Headers;
  /** A subject the receiver should answer on. */
  readonly reply?: string;
}

/** Options of `Transport.subscribe`. */
export interface SubscribeOptions {
  /**
   * Queue group: among all subscriptions of the same pattern and group,
   * each message goes to exactly one member.
   */
  readonly queue?: string;
}

/** Options of `Transport.request`. */
export interface RequestOptions {
  /** Fails with `TimeoutError` when no reply arrives within this time. */
  readonly timeoutMs: number;
  readonly headers?: Headers;
}

/** A live core subscription. */
export interface Subscription {
  readonly pattern: string;
  readonly queue?: string;
  /** Stops delivery. Idempotent. Messages already handed to the handler are not recalled. */
  unsubscribe(): void;
}

/** The declaration of a durable work queue. */
export interface QueueConfig {
  /** Unique name within the transport: letters, digits, `_` and `-`. */
  readonly name: string;
  /** A subject pattern; every message enqueued to a matching subject is stored in this queue. */
  readonly subjects: string;
  /** How long a consumer may hold a message without acking, extending, or settling it. */
  readonly ackWaitMs: number;
  /** Deliveries after which an unacked message is dead-lettered instead of redelivered. */
  readonly maxDeliver: number;
  /**
   * Where exhausted or terminated messages are enqueued (durably), with the
   * reason in headers (see `DeadLetterHeaders`). A queue must exist for it.
   */
  readonly deadLetterSubject: string;
  /** Upper bound of messages held; `enqueue` beyond it fails with `QueueFullError`. */
  readonly maxPending?: number;
}

/** Headers set on a dead-lettered message. */
export const DeadLetterHeaders = Object.freeze({
  reason: "conclave-dead-reason",
  queue: "conclave-dead-queue",
  subject: "conclave-original-subject",
  deliveries: "conclave-deliveries",
  at: "conclave-dead-at",
  msgId: "conclave-original-msg-id",
} as const);

/** Options of `Transport.enqueue`. */
export interface EnqueueOptions {
  /**
   * Deduplication key (the envelope id). A second enqueue of the same id
   * within the transport's dedup window stores nothing and reports `duplicate`.
   */
  readonly msgId: string;
  readonly headers?: Headers;
}

/** What `Transport.enqueue` reports once the broker has the message. */
export interface EnqueueResult {
  /** True when the message was dropped as a duplicate of an earlier enqueue. */
  readonly duplicate: boolean;
  /**
   * Where the broker stored it, for `Transport.holds` (given by transports
   * that implement it; opaque to callers).
   */
  readonly receipt?: string;
}

/** A message leased to one consumer from a durable queue. Settle it exactly once. */
export interface Delivery extends Message {
  readonly queue: string;
  readonly msgId: string;
  /** 1 on the first delivery, 2 on the first redelivery, and so on. */
  readonly deliveryCount: number;
  /** Removes the message for good. Resolves once the removal is durable. A late ack after the lease expired still removes the message if it is still queued. */
  ack(): Promise<void>;
  /**
   * Gives the message back for redelivery after `delayMs` (default 0). When
   * this was the last allowed delivery the message is dead-lettered with
   * `reason` instead.
   */
  nak(options?: { delayMs?: number; reason?: string }): Promise<void>;
  /** Dead-letters the message now, with a reason; it is never redelivered. */
  term(reason: string): Promise<void>;
  /** Extends the lease by the queue's `ackWaitMs` from now: the handler is alive and still working. */
  working(): void;
}

/** Handles a durable delivery. If it throws or rejects without settling, the delivery is nak'd. */
export type DeliveryHandler = (delivery: Delivery) => void | Promise<void>;

/** Options of `Transport.consume`. */
export interface ConsumeOptions {
  /** Most deliveries held unsettled by this consumer at once (backpressure). */
  readonly maxInFlight: number;
}

/** A consumer attached to a durable queue. */
export interface Consumer {
  readonly queue: string;
  /** Deliveries currently leased and unsettled. */
  readonly inFlight: number;
  /** Stops taking new deliveries and resolves when every leased one is settled. Idempotent. */
  drain(): Promise<void>;
  /** Stops at once; unsettled deliveries go back to the queue for others. Idempotent. */
  close(): Promise<void>;
}

/** One durable queue as `Transport.queues` reports it. */
export interface QueueInfo {
  readonly name: string;
  /** Messages stored and not yet acked (including those in flight). */
  readonly pending: number;
  /** Messages currently leased to a consumer. */
  readonly inFlight: number;
  readonly consumers: number;
}

/** What an adapter can promise; the conformance suite skips a scenario only with a reason. */
export interface TransportFeatures {
  /** Durable queues survive a restart of the process (and of the broker). */
  readonly durableAcrossRestart: boolean;
  /** A delivery's lease is released as soon as its consumer closes, not only at the ack deadline. */
  readonly releasesOnClose: boolean;
  /**
   * Senders keep each task they send until a completion (or dead letter)
   * recorded in the swarm's store settles it, and send again what the broker
   * no longer holds (`holds`): set where the broker may lose a message it
   * acknowledged. Only for queues whose consumers all record their
   * completions in that store. Default false.
   */
  readonly watchSent?: boolean;
}

/**
 * A connection to a message bus.
 *
 * Contract:
 * - Subjects are validated; a bad one throws `InvalidSubjectError` synchronously.
 * - After `close()` every call throws `ClosedError`; `close()` and `drain()` are idempotent.
 * - `drain()` stops intake, lets in-flight deliveries settle, flushes, then closes.
 * - `closed()` resolves when the connection ends: with an `Error` if it ended by failure.
 *
 * @example
 * ```ts
 * const bus = await createMemoryTransport();
 * bus.subscribe("demo.event.>", (m) => console.log(m.subject));
 * bus.publish("demo.event.hello", new TextEncoder().encode("{}"));
 * await bus.close();
 * ```
 */
export interface Transport {
  /** `"memory"`, `"nats"` or `"amqp"`. */
  readonly kind: string;
  readonly features: TransportFeatures;
  /**
   * The largest message, headers included, the broker accepts, when it says
   * (NATS: the server's `max_payload`); undefined when it sets no limit a
   * conclave envelope could reach. A node keeps its envelopes under it.
   */
  readonly maxMessageBytes?: number | undefined;

  /** Fire-and-forget fan-out to every matching subscription (one per queue group). */
  publish(subject: string, data: Uint8Array, options?: PublishOptions): void;
  subscribe(pattern: string, handler: MessageHandler, options?: SubscribeOptions): Subscription;
  /**
   * Sends a message and waits for the first reply. Fails with `TimeoutError`,
   * or `NoRespondersError` when the adapter can tell nobody listens.
   */
  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Message>;

  /** Declares a durable queue, or updates its settings. Idempotent. */
  ensureQueue(config: QueueConfig): Promise<void>;
  /**
   * Stores a message durably in every queue whose subjects match. Resolves once
   * it is durable. Throws `UnroutableError` when no queue matches. Do not
   * change `data` after the call: adapters send or keep it without copying
   * (the NATS adapter writes it at the end of the current event-loop turn).
   */
  enqueue(subject: string, data: Uint8Array, options: EnqueueOptions): Promise<EnqueueResult>;
  /**
   * Whether the broker still holds the message an enqueue returned `receipt`
   * for, under `msgId`: true while it is stored (queued or leased), false
   * once it is gone (acked, or lost) with no dead letter of its queue left
   * unrecorded, undefined when the broker cannot tell now (among which:
   * gone while dead letters wait to be recorded, as it may be one of them). Implemented by transports whose broker may lose
   * a message after acknowledging it (NATS JetStream across partitions);
   * the node's outbox then sends again what the broker no longer holds and
   * no completion or dead letter settled.
   */
  holds?(receipt: string, msgId: string): Promise<boolean | undefined>;
  /** Attaches a consumer to a declared queue. Several consumers share its messages. */
  consume(queue: string, handler: DeliveryHandler, options: ConsumeOptions): Consumer;
  queueInfo(queue: string): Promise<QueueInfo>;

  drain(): Promise<void>;
  close(): Promise<void>;
  closed(): Promise<Error | undefined>;
}
