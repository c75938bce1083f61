import { randomUUID } from "node:crypto";
import type { Channel, ConsumeMessage } from "amqplib";
import type { Clock } from "../../core/clock.js";
import { ClosedError, ConfigError, TransportError, toError } from "../../errors/index.js";
import type { Consumer, DeliveryHandler, Headers, QueueConfig } from "../port.js";
import {
  ackDeadlineReason,
  createDelivery,
  DEAD_LETTER_ATTEMPTS_HELD,
  deadLetterHeaders,
  deadLetterMsgId,
  deadLetterRetryPause,
  decideRedelivery,
  invokeHandler,
  isExhausted,
  type SettlingDelivery,
} from "../settlement.js";
import { settleWithin } from "./channel-slot.js";
import type { ConfirmPublisher, PublishOutcome } from "./confirm-publisher.js";
import type { DelayedMessages } from "./delayed-messages.js";
import { mapAmqpError } from "./errors.js";
import {
  deliveryCount,
  InternalHeaders,
  owedDeadLetter,
  readHeaders,
  writeHeaders,
} from "./headers.js";

/** What a consumer needs from the transport around it. */
export interface ConsumerHost {
  readonly clock: Clock;
  readonly exchange: string;
  readonly publisher: ConfirmPublisher;
  /** True while the transport (and its connection) is usable. */
  isOpen(): boolean;
  report(error: Error): void;
  openChannel(): Promise<Channel>;
  /** The queue's settings: cached, or read from the broker; `ConfigError` when it is not declared. */
  queueConfig(queue: string): Promise<QueueConfig>;
  /** The latest settings this transport knows, so an `ensureQueue` update applies at once. */
  knownConfig(queue: string): QueueConfig | undefined;
  /** Delayed retries due within this many ms wait in the consumer, not in a delay queue. */
  readonly inProcessDelayMaxMs: number;
  /** Declares (once) the delay queue for `delayMs`; returns the exchange and bucket header value. */
  delayRoute(delayMs: number): Promise<{ readonly exchange: string; readonly bucket: string }>;
  /** Messages this connection put in delay queues, for `queueInfo`. */
  readonly delayed: DelayedMessages;
  forget(consumer: AmqpConsumer): void;
}

type LeaseState = "held" | "settling" | "done";

interface Lease {
  readonly message: ConsumeMessage;
  readonly channel: Channel;
  readonly subject: string;
  readonly msgId: string;
  readonly headers: Headers;
  readonly count: number;
  state: LeaseState;
  until: number;
  cancelTimer: (() => void) | undefined;
}

/** After the server closed the consumer's channel, how long before it attaches again. */
const REATTACH_MS = 1000;

/**
 * A consumer of one work queue, on its own channel with `prefetch =
 * maxInFlight` and manual acks.
 *
 * RabbitMQ has no per-message ack deadline, so leases are kept here: a
 * delivery unsettled for `ackWaitMs` (not extended by `working()`) is
 * republished with its delivery count and acked, so another consumer gets it;
 * settling it later is ignored. Every ack and nack is guarded, because acking
 * an unknown delivery tag would make RabbitMQ close the channel.
 */
export class AmqpConsumer implements Consumer {
  readonly #leases = new Set<Lease>();
  #config: QueueConfig | undefined;
  #channel: Channel | undefined;
  #channelOpen = false;
  #tag: string | undefined;
  #state: "starting" | "running" | "draining" | "closed" = "starting";
  #busy = 0;
  #idleWaiters: (() => void)[] = [];
  #started: Promise<void>;
  #draining: Promise<void> | undefined;
  #cancelReattach: (() => void) | undefined;

  constructor(
    readonly queue: string,
    private readonly handler: DeliveryHandler,
    private readonly maxInFlight: number,
    private readonly host: ConsumerHost,
  ) {
    this.#started = this.#start();
  }

  /** Deliveries handed to the handler and not yet settled. */
  get inFlight(): number {
    return this.#leases.size;
  }

  /**
   * Messages this consumer holds unacknowledged: its unsettled deliveries,
   * and those settled but still held here (waiting for a short retry delay,
   * or for a refused dead letter to be tried again).
   */
  get unacked(): number {
    return this.#leases.size + this.#busy;
  }

  drain(): Promise<void> {
    this.#draining ??= this.#drain();
    return this.#draining;
  }

  async close(): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#cancelReattach?.();
    for (const lease of this.#leases) this.#end(lease, "done");
    this.#leases.clear();
    this.host.forget(this);
    // Closing the channel gives every unacked message back to the queue at once.
    await this.#closeChannel();
    this.#notifyIdle(true);
  }

  /** Ends without touching the channel (the connection is gone). */
  abandon(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#cancelReattach?.();
    for (const lease of this.#leases) this.#end(lease, "done");
    this.#leases.clear();
    this.#notifyIdle(true);
  }

  async #drain(): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "draining";
    this.#cancelReattach?.();
    await this.#started;
    const channel = this.#channel;
    const tag = this.#tag;
    if (channel && tag && this.#channelOpen) {
      // Deliveries that arrive before cancel-ok are leased and handled as usual.
      await channel.cancel(tag).catch(() => undefined);
    }
    await this.#idle();
    // close() may have run while we waited.
    if (this.#closed()) return;
    this.#state = "closed";
    this.host.forget(this);
    await this.#closeChannel();
  }

  async #start(): Promise<void> {
    try {
      this.#config = await this.host.queueConfig(this.queue);
      if (this.#state !== "starting") return;
      await this.#attach();
      if (this.#state === "starting") this.#state = "running";
    } catch (error) {
      if (this.#closed()) return; // closed while attaching: the failure is ours
      this.host.report(mapAmqpError(error, `attaching a consumer to queue "${this.queue}"`));
      this.#state = "closed";
      this.host.forget(this);
      await this.#closeChannel();
      this.#notifyIdle(true);
    }
  }

  async #attach(): Promise<void> {
    const channel = await this.host.openChannel();
    this.#channel = channel;
    this.#channelOpen = true;
    channel.on("error", (error: Error) => {
      // While attaching, the failing call reports the same error.
      if (this.#state === "starting") return;
      this.host.report(mapAmqpError(error, `consuming from queue "${this.queue}"`));
    });
    channel.once("close", () => this.#channelClosed(channel));
    if (this.#state === "closed") {
      await this.#closeChannel();
      return;
    }
    await channel.prefetch(this.maxInFlight);
    const { consumerTag } = await channel.consume(
      this.queue,
      (message) => this.#onMessage(channel, message),
      { noAck: false },
    );
    this.#tag = consumerTag;
  }

  #channelClosed(channel: Channel): void {
    if (channel !== this.#channel) return;
    this.#channelOpen = false;
    this.#tag = undefined;
    // RabbitMQ took back everything this channel held: those leases are void.
    for (const lease of this.#leases) this.#end(lease, "done");
    this.#leases.clear();
    this.#notifyIdle();
    if (this.#state === "running" && this.host.isOpen()) {
      // The server closed the channel on its own (an error it reported): attach again.
      this.#cancelReattach = this.host.clock.setTimer(() => {
        this.#cancelReattach = undefined;
        if (this.#state !== "running" || !this.host.isOpen()) return;
        this.#attach().catch((error: unknown) => {
          this.host.report(mapAmqpError(error, `re-attaching to queue "${this.queue}"`));
        });
      }, REATTACH_MS);
    }
  }

  async #closeChannel(): Promise<void> {
    const channel = this.#channel;
    if (!channel || !this.#channelOpen) return;
    this.#channelOpen = false;
    await settleWithin(channel.close());
  }

  #onMessage(channel: Channel, message: ConsumeMessage | null): void {
    if (message === null) {
      // basic.cancel from the server: the queue was deleted.
      if (this.#state === "running" || this.#state === "draining") {
        this.host.report(
          new ConfigError(
            `queue "${this.queue}" was deleted while consumed; declare it again with ensureQueue() and consume again`,
          ),
        );
      }
      this.#tag = undefined;
      this.#state = "closed";
      this.host.forget(this);
      void this.#closeChannel();
      this.#notifyIdle(true);
      return;
    }
    // A message that reaches a closed consumer is left unacked: the channel's
    // close gives it back.
    if (this.#state === "closed" || channel !== this.#channel) return;
    const config = this.#currentConfig();
    const raw = message.properties.headers as Record<string, unknown> | undefined;
    if (raw?.[InternalHeaders.delay] !== undefined && message.properties.messageId) {
      this.host.delayed.back(this.queue, String(message.properties.messageId));
    }
    const subjectHeader = raw?.[InternalHeaders.subject];
    const lease: Lease = {
      message,
      channel,
      subject: typeof subjectHeader === "string" ? subjectHeader : message.fields.routingKey,
      // A raw client may publish without a message id; give it one, so its
      // dead letter cannot collide with another's.
      msgId: message.properties.messageId
        ? String(message.properties.messageId)
        : `anonymous-${randomUUID()}`,
      headers: readHeaders(raw),
      count: deliveryCount(raw, message.fields.redelivered),
      state: "held",
      until: this.host.clock.now() + config.ackWaitMs,
      cancelTimer: undefined,
    };
    const owed = owedDeadLetter(raw);
    if (owed !== undefined) {
      // Its dead letter was refused before: dead-letter it with its own
      // reason and count; its handler does not run again.
      this.#end(lease, "settling");
      void this.#settle(lease, () => this.#deadLetter(lease, owed.reason, owed.deliveries));
      return;
    }
    const delivery = this.#delivery(lease);
    if (isExhausted(lease.count, config.maxDeliver)) {
      // Its last allowed delivery went to a consumer that died: dead-letter
      // it now, without running the handler again.
      void delivery.exhausted("its consumer went away before settling it");
      return;
    }
    this.#leases.add(lease);
    this.#schedule(lease);
    // Never run user code on amqplib's frame-parsing stack: a throw there
    // would close the channel.
    queueMicrotask(() => invokeHandler(this.handler, delivery, this.#report));
  }

  readonly #report = (error: Error): void => this.host.report(error);

  /**
   * The delivery of a lease, settled by the shared rules (`settlement.ts`).
   * Once the lease is no longer held (its deadline passed and the message was
   * republished, or the channel closed), settling it does nothing: the
   * delivery tag is void.
   */
  #delivery(lease: Lease): SettlingDelivery {
    const held = () => lease.state === "held";
    /** Takes the lease out of the unsettled set and runs `operation`, unless it is void. */
    const settle = (operation: () => Promise<void>): Promise<void> => {
      if (!held()) return Promise.resolve();
      this.#end(lease, "settling");
      return this.#settle(lease, operation);
    };
    return createDelivery(
      {
        subject: lease.subject,
        data: lease.message.content,
        headers: lease.headers,
        queue: this.queue,
        msgId: lease.msgId,
        deliveryCount: lease.count,
      },
      {
        leaseHeld: held,
        maxDeliver: () => this.#currentConfig().maxDeliver,
        ack: () => {
          if (!held()) return Promise.resolve();
          this.#end(lease, "done");
          this.#ack(lease);
          this.#notifyIdle();
          return Promise.resolve();
        },
        redeliver: (delayMs) => settle(() => this.#retry(lease, delayMs)),
        deadLetter: (reason, deliveries) =>
          settle(() => this.#deadLetter(lease, reason, deliveries)),
        extendLease: () => {
          lease.until = this.host.clock.now() + this.#currentConfig().ackWaitMs;
        },
      },
    );
  }

  #currentConfig(): QueueConfig {
    const config = this.host.knownConfig(this.queue) ?? this.#config;
    if (!config) throw new ConfigError(`queue "${this.queue}" is not declared`);
    return config;
  }

  // ---- leases -----------------------------------------------------------------

  #schedule(lease: Lease): void {
    const wait = lease.until - this.host.clock.now();
    lease.cancelTimer = this.host.clock.setTimer(() => this.#checkLease(lease), wait);
  }

  #checkLease(lease: Lease): void {
    lease.cancelTimer = undefined;
    if (lease.state !== "held") return;
    if (lease.until > this.host.clock.now()) {
      this.#schedule(lease); // extended by working()
      return;
    }
    const config = this.#currentConfig();
    this.#end(lease, "settling");
    const next = decideRedelivery(lease.count, config.maxDeliver, {
      reason: ackDeadlineReason(config.ackWaitMs),
    });
    void this.#settle(lease, () =>
      next.kind === "dead-letter"
        ? this.#deadLetter(lease, next.reason, next.deliveries)
        : this.#retry(lease, next.delayMs),
    );
  }

  /** Takes a lease out of the unsettled set. */
  #end(lease: Lease, state: LeaseState): void {
    lease.state = state;
    lease.cancelTimer?.();
    lease.cancelTimer = undefined;
    this.#leases.delete(lease);
  }

  /** Runs a settlement (republish, dead-letter) and counts it as work `drain()` waits for. */
  async #settle(lease: Lease, operation: () => Promise<void>): Promise<void> {
    this.#busy++;
    try {
      await operation();
    } catch (error) {
      this.host.report(toError(error));
    } finally {
      lease.state = "done";
      this.#busy--;
      this.#notifyIdle();
    }
  }

  /**
   * Puts the message back with its count, then acks it: at the tail of its
   * queue at once; after a short delay (up to `inProcessDelayMaxMs`) held
   * here, unacknowledged, then at the tail; after a longer one through a
   * delay queue. A short delay never depends on the broker's dead-lettering
   * (at-least-once dead-lettering out of a quorum queue stopped forwarding
   * after a node was killed: chaos `amqp-cluster-kill`, docs/RELIABILITY.md).
   */
  #retry(lease: Lease, delayMs: number): Promise<void> {
    const { message } = lease;
    const headers = writeHeaders(lease.headers, {
      [InternalHeaders.deliveries]: String(lease.count),
      [InternalHeaders.subject]: lease.subject,
    });
    const properties = { headers, persistent: true, mandatory: true, messageId: lease.msgId };
    return this.#replace(
      lease,
      async () => {
        if (delayMs <= this.host.inProcessDelayMaxMs) {
          if (delayMs > 0) {
            await new Promise<void>((resolve) => this.host.clock.setTimer(resolve, delayMs));
            // Its channel closed meanwhile: the broker has the message back already.
            if (!this.#holds(lease)) throw new ClosedError(`the channel of queue "${this.queue}"`);
          }
          return this.host.publisher.publish("", this.queue, message.content, properties);
        }
        const route = await this.host.delayRoute(delayMs);
        headers[InternalHeaders.delay] = route.bucket;
        const outcome = await this.host.publisher.publish(
          route.exchange,
          this.queue,
          message.content,
          { ...properties, expiration: String(Math.round(delayMs)) },
        );
        if (outcome === "routed") this.host.delayed.add(this.queue, lease.msgId, delayMs);
        return outcome;
      },
      // Could not republish (queue full, channel lost): hand it straight back
      // to RabbitMQ instead, which counts the redelivery in x-delivery-count.
      (why) =>
        `could not put message "${lease.msgId}" back on queue "${this.queue}" (${why}); it was returned to the queue without delay`,
      0,
    );
  }

  /**
   * Publishes the message to the dead-letter subject with the reason, then
   * acks it. A refused dead letter is tried again with backoff while the
   * message stays held here (never handed back as a new delivery, whose
   * count RabbitMQ would keep or reset: on 4.3 basic.nack does not count,
   * and a message at its last delivery ran again for ever); then, or when
   * the consumer stops, the message is parked at the tail of its queue with
   * the reason it still owes (`#park`), and dead-lettered when it comes
   * back. Nothing is lost, the handler does not run again, and the dead
   * letter keeps its reason and count.
   */
  async #deadLetter(lease: Lease, reason: string, deliveries: number): Promise<void> {
    const config = this.#currentConfig();
    const headers = deadLetterHeaders({
      headers: lease.headers,
      reason,
      queue: this.queue,
      subject: lease.subject,
      deliveries,
      at: this.host.clock.now(),
      msgId: lease.msgId,
    });
    for (let attempt = 1; ; attempt++) {
      let outcome: PublishOutcome | Error;
      try {
        outcome = await this.host.publisher.publish(
          this.host.exchange,
          config.deadLetterSubject,
          lease.message.content,
          { headers, persistent: true, mandatory: true, messageId: deadLetterMsgId(lease.msgId) },
        );
      } catch (error) {
        outcome = toError(error);
      }
      if (outcome === "routed") {
        this.#ack(lease);
        return;
      }
      // The channel that held it closed: the broker put the message back itself.
      if (!this.#holds(lease)) return;
      const park = attempt >= DEAD_LETTER_ATTEMPTS_HELD || this.#state !== "running";
      const pause = deadLetterRetryPause(attempt);
      this.host.report(
        new TransportError(
          `could not dead-letter message "${lease.msgId}" from queue "${this.queue}" to "${config.deadLetterSubject}" (${describe(outcome)}); ${park ? "it goes to the tail of its queue and is dead-lettered when it comes back (its handler does not run again)" : `trying again in ${pause} ms`}: check the dead-letter queue (full, or deleted)`,
          outcome instanceof Error ? { cause: outcome } : undefined,
        ),
      );
      if (park) return this.#park(lease, reason, deliveries);
      await new Promise<void>((resolve) => this.host.clock.setTimer(resolve, pause));
      if (!this.#holds(lease)) return;
    }
  }

  /**
   * Puts a message whose dead letter was refused back at the tail of its
   * queue, owing that dead letter (`InternalHeaders.deadReason`), then acks
   * the original. When even that copy is refused, the original goes back to
   * the queue as it is (it then runs again as a redelivery).
   */
  #park(lease: Lease, reason: string, deliveries: number): Promise<void> {
    const headers = writeHeaders(lease.headers, {
      [InternalHeaders.deliveries]: String(lease.count),
      [InternalHeaders.subject]: lease.subject,
      [InternalHeaders.deadReason]: reason,
      [InternalHeaders.deadDeliveries]: String(deliveries),
    });
    return this.#replace(
      lease,
      () =>
        this.host.publisher.publish("", this.queue, lease.message.content, {
          headers,
          persistent: true,
          mandatory: true,
          messageId: lease.msgId,
        }),
      (why) =>
        `could not park message "${lease.msgId}" on queue "${this.queue}" until its dead letter is taken (${why}); it was returned to the queue as it was, and runs again`,
      0,
    );
  }

  /**
   * Publishes a copy of the leased message and, once the broker took it,
   * acks the original. When the copy was refused, reports `failed(why)` and
   * gives the original back to the queue after `pauseMs`.
   */
  async #replace(
    lease: Lease,
    publishCopy: () => Promise<PublishOutcome>,
    failed: (why: string) => string,
    pauseMs: number,
  ): Promise<void> {
    let outcome: PublishOutcome | Error;
    try {
      outcome = await publishCopy();
    } catch (error) {
      outcome = toError(error);
    }
    if (outcome === "routed") {
      this.#ack(lease);
      return;
    }
    // The channel that held it closed: the broker put the message back itself.
    if (!this.#holds(lease)) return;
    this.host.report(
      new TransportError(
        failed(describe(outcome)),
        outcome instanceof Error ? { cause: outcome } : undefined,
      ),
    );
    if (pauseMs > 0) {
      await new Promise<void>((resolve) => this.host.clock.setTimer(resolve, pauseMs));
    }
    this.#requeue(lease);
  }

  /** Whether the lease's delivery tag is still good: its channel is this consumer's, and open. */
  #holds(lease: Lease): boolean {
    return lease.channel === this.#channel && this.#channelOpen;
  }

  #ack(lease: Lease): void {
    if (!this.#holds(lease)) return;
    try {
      lease.channel.ack(lease.message);
    } catch (error) {
      this.host.report(toError(error));
    }
  }

  /**
   * Hands the message back to RabbitMQ as a failed delivery: basic.reject,
   * which counts in `x-delivery-count` (from RabbitMQ 4.3, basic.nack does
   * not, and the message would come back at the same count).
   */
  #requeue(lease: Lease): void {
    if (!this.#holds(lease)) return;
    try {
      lease.channel.reject(lease.message, true);
    } catch (error) {
      this.host.report(toError(error));
    }
  }

  #closed(): boolean {
    return this.#state === "closed";
  }

  // ---- idleness ---------------------------------------------------------------

  #idle(): Promise<void> {
    if (this.#leases.size === 0 && this.#busy === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #notifyIdle(force = false): void {
    if (!force && (this.#leases.size > 0 || this.#busy > 0)) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function describe(outcome: PublishOutcome | Error): string {
  if (outcome instanceof Error) return outcome.message;
  if (outcome === "returned") return "no queue is bound to take it";
  return "the queue refused it (full, or a broker failure)";
}
