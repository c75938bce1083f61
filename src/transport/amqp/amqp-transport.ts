import type { Channel, ChannelModel, ConfirmChannel } from "amqplib";
import { type Clock, systemClock } from "../../core/clock.js";
import {
  ClosedError,
  ConfigError,
  QueueFullError,
  TransportError,
  toError,
  UnroutableError,
} from "../../errors/index.js";
import { createErrorReporter } from "../failures.js";
import type {
  ConsumeOptions,
  Consumer,
  DeliveryHandler,
  EnqueueOptions,
  EnqueueResult,
  Message,
  MessageHandler,
  PublishOptions,
  QueueConfig,
  QueueInfo,
  RequestOptions,
  SubscribeOptions,
  Subscription,
  Transport,
  TransportFeatures,
} from "../port.js";
import { fullQueueError, QUEUE_NAME, validateConsumeOptions } from "../queue-config.js";
import { assertPattern, assertSubject } from "../subject.js";
import { AmqpConsumer, type ConsumerHost } from "./amqp-consumer.js";
import { ChannelSlot } from "./channel-slot.js";
import { type AmqpTransportConfig, type ConnectionSettings, resolveSettings } from "./config.js";
import { ConfirmPublisher } from "./confirm-publisher.js";
import { closeModel, openConnection } from "./connection.js";
import { createWindowDedupStore, type DedupStore } from "./dedup.js";
import { DelayedMessages } from "./delayed-messages.js";
import { mapAmqpError, replyCode } from "./errors.js";
import { writeHeaders } from "./headers.js";
import { QueueDeclarations } from "./queue-declarations.js";
import { RequestManager } from "./requests.js";
import { SubscriptionManager } from "./subscriptions.js";
import { assertRoutingKey, bindingKey, replyTarget } from "./topology.js";
import { coalesceFrameWrites } from "./write-coalescing.js";

const FEATURES: TransportFeatures = Object.freeze({
  durableAcrossRestart: true,
  releasesOnClose: true,
});

/**
 * A `Transport` on RabbitMQ (3.10 or later): core messaging on a topic
 * exchange, durable work queues on quorum queues with publisher confirms.
 * The driver (`amqplib`) is imported only when this is called.
 *
 * How the port maps onto RabbitMQ:
 * - Subjects are routing keys on one durable topic exchange; `*` stays `*`
 *   and `>` becomes `*.#` (one or more tokens, exactly as `>`).
 * - `subscribe` binds an exclusive auto-delete queue; a queue group shares
 *   one auto-delete queue per (group, pattern). `request` uses direct
 *   reply-to and a mandatory publish, so "nobody listens" is
 *   `NoRespondersError`.
 * - `ensureQueue` declares a quorum queue bound with the queue's pattern
 *   (`maxPending` → `x-max-length` with `reject-publish`) and stores its
 *   settings in the broker, so a consumer on any connection can use them.
 * - `enqueue` is a confirmed, persistent, mandatory publish: no bound queue →
 *   `UnroutableError`, a full queue's nack → `QueueFullError`.
 *   Deduplication goes through `config.dedup` (RabbitMQ has none).
 * - Ack deadlines, delivery counts, retry delays and dead-lettering are done
 *   by the adapter (see `AmqpConsumer`); a consumer's unacked messages go
 *   back to the queue as soon as its channel or connection closes.
 *
 * Known limits: quorum queues apply `x-max-length` a little late (a burst of
 * concurrent enqueues can overshoot `maxPending`, sequential ones by one);
 * `queueInfo().pending` counts messages ready in the broker plus those this
 * connection holds unacked or put in a delay queue (AMQP reports a queue's
 * ready messages only), not those other connections hold or delay (a
 * node's transport is one connection: exact for a single node); a
 * dead-letter queue must be declared on the same connection before the queues
 * that use it (AMQP cannot list bindings); settling a delivery after its ack
 * deadline passed is ignored (it was already given back).
 *
 * @example
 * ```ts
 * const bus = await createAmqpTransport({ url: "amqp://guest:guest@127.0.0.1:5672" });
 * await bus.ensureQueue({ name: "app-dlq", subjects: "app.dlq.>", ackWaitMs: 30_000, maxDeliver: 1000, deadLetterSubject: "app.dlq.dlq" });
 * await bus.ensureQueue({ name: "app-work", subjects: "app.task.>", ackWaitMs: 30_000, maxDeliver: 5, deadLetterSubject: "app.dlq.work" });
 * bus.consume("app-work", async (d) => { await handle(d.data); await d.ack(); }, { maxInFlight: 8 });
 * await bus.enqueue("app.task.build", bytes, { msgId: envelope.id });
 * ```
 */
export async function createAmqpTransport(config: AmqpTransportConfig): Promise<Transport> {
  const settings = resolveSettings(config);
  const model = await openConnection(settings, config.tls);
  coalesceFrameWrites(model);
  const transport = new AmqpTransport(model, settings, config);
  try {
    await transport.init();
  } catch (error) {
    await transport.close().catch(() => undefined);
    throw mapAmqpError(error, `declaring exchange "${settings.exchange}"`);
  }
  return transport;
}

class AmqpTransport implements Transport, ConsumerHost {
  readonly kind = "amqp";
  readonly features = FEATURES;
  readonly exchange: string;
  readonly clock: Clock;
  readonly publisher: ConfirmPublisher;
  readonly inProcessDelayMaxMs: number;
  readonly delayed: DelayedMessages;
  readonly #model: ChannelModel;
  readonly #settings: ConnectionSettings;
  readonly #dedup: DedupStore;
  readonly #dedupWindowMs: number;
  readonly report: (error: Error) => void;
  readonly #declarations: QueueDeclarations;
  readonly #core: ChannelSlot<Channel>;
  readonly #confirm: ChannelSlot<ConfirmChannel>;
  readonly #subs: SubscriptionManager;
  readonly #requests: RequestManager;
  readonly #consumers = new Set<AmqpConsumer>();
  #publishing: Promise<void> | undefined;
  #state: "open" | "closed" = "open";
  #draining: Promise<void> | undefined;
  #resolveClosed!: (value: Error | undefined) => void;
  readonly #closedPromise = new Promise<Error | undefined>((resolve) => {
    this.#resolveClosed = resolve;
  });

  constructor(model: ChannelModel, settings: ConnectionSettings, config: AmqpTransportConfig) {
    this.#model = model;
    this.#settings = settings;
    this.exchange = settings.exchange;
    this.clock = config.clock ?? systemClock;
    this.#dedup = config.dedup ?? createWindowDedupStore(this.clock);
    this.#dedupWindowMs = config.dedupWindowMs ?? 120_000;
    this.inProcessDelayMaxMs = config.inProcessDelayMaxMs ?? 1_000;
    this.delayed = new DelayedMessages(this.clock);
    this.report = createErrorReporter(config.onError, "amqp transport");
    const openChannel = () => this.#model.createChannel();
    this.#core = new ChannelSlot(openChannel, {
      onError: (error) => this.report(mapAmqpError(error, "publishing")),
    });
    this.#confirm = new ChannelSlot(() => this.#model.createConfirmChannel(), {
      setup: (channel) => this.publisher.watch(channel),
      onError: (error) => this.report(mapAmqpError(error, "publishing durable messages")),
    });
    this.publisher = new ConfirmPublisher(this.#confirm);
    this.#declarations = new QueueDeclarations({
      exchange: this.exchange,
      clock: this.clock,
      publisher: this.publisher,
      openChannel,
      assertOpen: () => this.#open(),
    });
    this.#subs = new SubscriptionManager({
      exchange: this.exchange,
      openChannel,
      isOpen: () => this.isOpen(),
      report: (error) => this.report(error),
    });
    this.#requests = new RequestManager({
      exchange: this.exchange,
      clock: this.clock,
      openChannel,
      report: (error) => this.report(error),
    });
    model.on("error", (error: Error) => this.#lost(error));
    model.on("close", (error?: Error) => this.#lost(error));
    model.on("blocked", (reason: unknown) => {
      this.report(
        new TransportError(
          `RabbitMQ at ${this.#settings.endpoint} blocked publishing (${String(reason)}): it is short of memory or disk`,
        ),
      );
    });
  }

  async init(): Promise<void> {
    await Promise.all([this.#core.get(), this.#confirm.get()]);
    await this.#declarations.declareExchange();
  }

  // ---- core messaging --------------------------------------------------------

  publish(subject: string, data: Uint8Array, options?: PublishOptions): void {
    this.#open();
    assertSubject(subject);
    assertRoutingKey(subject);
    const content = toBuffer(data);
    const headers = writeHeaders(options?.headers);
    const properties: {
      headers: Record<string, string>;
      replyTo?: string;
      correlationId?: string;
    } = options?.reply === undefined ? { headers } : { headers, replyTo: options.reply };
    // A reply to a request goes to the requester's direct reply-to address.
    const target = replyTarget(subject);
    let exchange = this.exchange;
    let routingKey = subject;
    if (target) {
      exchange = "";
      routingKey = target.routingKey;
      if (target.correlationId !== undefined) properties.correlationId = target.correlationId;
    }
    const send = (channel: Channel) => {
      try {
        channel.publish(exchange, routingKey, content, properties);
      } catch (error) {
        this.report(mapAmqpError(error, `publishing on "${subject}"`));
      }
    };
    const channel = this.#core.current;
    const barrier = this.#subs.settling();
    if (channel && !barrier && !this.#publishing) {
      send(channel);
      return;
    }
    // Behind subscriptions still being set up on this connection (and behind
    // earlier publishes that wait), so that order and visibility hold.
    const next = Promise.all([this.#publishing, barrier])
      .then(() => this.#core.get())
      .then(send, (error: unknown) => {
        if (this.isOpen()) this.report(mapAmqpError(error, `publishing on "${subject}"`));
      });
    this.#publishing = next;
    void next.finally(() => {
      if (this.#publishing === next) this.#publishing = undefined;
    });
  }

  subscribe(pattern: string, handler: MessageHandler, options?: SubscribeOptions): Subscription {
    this.#open();
    assertPattern(pattern);
    assertRoutingKey(pattern, bindingKey(pattern));
    const sub = this.#subs.add(pattern, handler, options?.queue);
    return {
      pattern,
      ...(options?.queue === undefined ? {} : { queue: options.queue }),
      unsubscribe: () => this.#subs.remove(sub),
    };
  }

  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Message> {
    this.#open();
    assertSubject(subject);
    assertRoutingKey(subject);
    const barrier = this.#subs.settling();
    return this.#requests.request(
      subject,
      toBuffer(data),
      options.timeoutMs,
      options.headers,
      barrier,
    );
  }

  // ---- durable queues --------------------------------------------------------

  async ensureQueue(config: QueueConfig): Promise<void> {
    this.#open();
    await this.#declarations.ensureQueue(config);
  }

  async enqueue(
    subject: string,
    data: Uint8Array,
    options: EnqueueOptions,
  ): Promise<EnqueueResult> {
    this.#open();
    assertSubject(subject);
    assertRoutingKey(subject);
    const msgId = options.msgId;
    if (typeof msgId !== "string" || msgId.length === 0 || Buffer.byteLength(msgId) > 250) {
      throw new ConfigError("enqueue(): msgId must be a string of 1-250 bytes (the envelope id)");
    }
    if (!(await this.#dedup.claim(msgId, this.#dedupWindowMs))) return { duplicate: true };
    let outcome: Awaited<ReturnType<ConfirmPublisher["publish"]>>;
    try {
      outcome = await this.publisher.publish(this.exchange, subject, toBuffer(data), {
        headers: writeHeaders(options.headers),
        persistent: true,
        mandatory: true,
        messageId: msgId,
      });
    } catch (error) {
      await this.#release(msgId);
      throw mapAmqpError(error, `enqueueing on "${subject}"`);
    }
    if (outcome === "routed") {
      await this.#confirmed(msgId);
      return { duplicate: false };
    }
    await this.#release(msgId);
    if (outcome === "returned") throw new UnroutableError(subject);
    throw this.#queueFull(subject);
  }

  consume(queue: string, handler: DeliveryHandler, options: ConsumeOptions): Consumer {
    this.#open();
    if (!QUEUE_NAME.test(queue)) {
      throw new ConfigError(`queue "${queue}" is not declared; call ensureQueue() first`);
    }
    validateConsumeOptions(options);
    const consumer = new AmqpConsumer(queue, handler, options.maxInFlight, this);
    this.#consumers.add(consumer);
    return consumer;
  }

  async queueInfo(queue: string): Promise<QueueInfo> {
    this.#open();
    if (!QUEUE_NAME.test(queue)) throw new ConfigError(`queue "${queue}" is not declared`);
    let ready: { messageCount: number; consumerCount: number };
    try {
      ready = await this.#declarations.run((channel) => channel.checkQueue(queue));
    } catch (error) {
      if (error instanceof ConfigError && replyCode(error.cause) === 404) {
        throw new ConfigError(`queue "${queue}" is not declared`, [], { cause: error.cause });
      }
      throw error;
    }
    let held = 0;
    for (const consumer of this.#consumers) if (consumer.queue === queue) held += consumer.unacked;
    return {
      name: queue,
      // AMQP reports ready messages only; add what this connection holds
      // unacked and what it put in delay queues.
      pending: ready.messageCount + held + this.delayed.count(queue),
      inFlight: held,
      consumers: ready.consumerCount,
    };
  }

  // ---- lifecycle -------------------------------------------------------------

  drain(): Promise<void> {
    if (this.#state === "closed") return this.#draining ?? Promise.resolve();
    this.#draining ??= (async () => {
      this.#subs.removeAll();
      await Promise.all([...this.#consumers].map((consumer) => consumer.drain()));
      await this.publisher.settled();
      await this.close();
    })();
    return this.#draining;
  }

  async close(): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "closed";
    await Promise.all([...this.#consumers].map((consumer) => consumer.close()));
    await this.#requests.dispose(new ClosedError("the amqp transport"));
    await this.#subs.dispose();
    await Promise.all([
      this.#core.dispose(),
      this.#confirm.dispose(),
      this.#declarations.dispose(),
    ]);
    await closeModel(this.#model);
    this.#resolveClosed(undefined);
  }

  closed(): Promise<Error | undefined> {
    return this.#closedPromise;
  }

  // ---- ConsumerHost ----------------------------------------------------------

  isOpen(): boolean {
    return this.#state === "open";
  }

  openChannel(): Promise<Channel> {
    return this.#model.createChannel();
  }

  knownConfig(queue: string): QueueConfig | undefined {
    return this.#declarations.knownConfig(queue);
  }

  queueConfig(queue: string): Promise<QueueConfig> {
    return this.#declarations.queueConfig(queue);
  }

  delayRoute(delayMs: number): Promise<{ exchange: string; bucket: string }> {
    return this.#declarations.delayRoute(delayMs);
  }

  forget(consumer: AmqpConsumer): void {
    this.#consumers.delete(consumer);
  }

  // ---- internals -------------------------------------------------------------

  #open(): void {
    if (this.#state === "closed") throw new ClosedError("the amqp transport");
  }

  async #confirmed(msgId: string): Promise<void> {
    try {
      await this.#dedup.confirm?.(msgId);
    } catch (error) {
      // The message is on the broker; a failed record only lets a later
      // duplicate through.
      this.report(toError(error));
    }
  }

  async #release(msgId: string): Promise<void> {
    try {
      await this.#dedup.release?.(msgId);
    } catch (error) {
      this.report(toError(error));
    }
  }

  /** The error for a nacked enqueue: the full queue, as far as this connection can tell. */
  #queueFull(subject: string): QueueFullError {
    return (
      fullQueueError(this.#declarations.configs(), subject) ??
      new QueueFullError(`(a queue taking "${subject}")`, 0)
    );
  }

  #lost(error?: Error): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    const lost = new TransportError(
      `lost the connection to RabbitMQ at ${this.#settings.endpoint}${error ? `: ${error.message}` : ""}; create a new transport`,
      { cause: error },
    );
    for (const consumer of this.#consumers) consumer.abandon();
    this.#consumers.clear();
    this.#requests.failAll(lost);
    void this.#requests.dispose(lost);
    void this.#subs.dispose();
    void this.#core.dispose();
    void this.#confirm.dispose();
    void this.#declarations.dispose();
    this.report(lost);
    this.#resolveClosed(lost);
  }
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
