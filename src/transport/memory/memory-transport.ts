import { ClosedError, ConfigError } from "../../errors/index.js";
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
import { validateConsumeOptions } from "../queue-config.js";
import { type BrokerSubscription, MemoryBroker, type MemoryBrokerConfig } from "./broker.js";
import { QueueConsumer } from "./durable-queue.js";

/** Options of {@link createMemoryTransport}. */
export interface MemoryTransportConfig extends MemoryBrokerConfig {
  /**
   * Share an existing broker (several nodes in one process). When given, the
   * broker outlives this transport; otherwise the transport owns a new one.
   */
  readonly broker?: MemoryBroker;
}

/**
 * The in-process transport: the embedded default. Core messaging is
 * at-most-once fan-out on microtasks; durable queues are journaled in SQLite
 * (when `journalPath` is set) so a restart resumes every unacked message.
 *
 * @example
 * ```ts
 * const bus = createMemoryTransport({ journalPath: ".conclave/journal.db" });
 * await bus.ensureQueue({ name: "dlq", subjects: "app.dlq.>", ackWaitMs: 30_000, maxDeliver: 1, deadLetterSubject: "app.dlq.dlq" });
 * await bus.ensureQueue({ name: "work", subjects: "app.task.>", ackWaitMs: 30_000, maxDeliver: 5, deadLetterSubject: "app.dlq.work" });
 * bus.consume("work", async (d) => { handle(d.data); await d.ack(); }, { maxInFlight: 8 });
 * await bus.enqueue("app.task.build", bytes, { msgId: envelope.id });
 * ```
 */
export function createMemoryTransport(config: MemoryTransportConfig = {}): MemoryTransport {
  return new MemoryTransport(config);
}

const FEATURES: TransportFeatures = Object.freeze({
  durableAcrossRestart: true,
  releasesOnClose: true,
});

/**
 * A transport inside one process: queues journaled in SQLite (when given a
 * path) so they survive a restart. For tests, the demo and single-process
 * swarms; made by {@link createMemoryTransport}.
 */
export class MemoryTransport implements Transport {
  readonly kind = "memory";
  readonly features: TransportFeatures;
  readonly broker: MemoryBroker;
  readonly #ownsBroker: boolean;
  readonly #subs = new Set<BrokerSubscription>();
  readonly #consumers = new Set<MemoryConsumer>();
  /** Fails a pending request at once (on close). */
  readonly #requests = new Set<(error: Error) => void>();
  #closed = false;
  #resolveClosed!: (value: Error | undefined) => void;
  readonly #closedPromise = new Promise<Error | undefined>((resolve) => {
    this.#resolveClosed = resolve;
  });

  constructor(config: MemoryTransportConfig = {}) {
    this.#ownsBroker = config.broker === undefined;
    this.broker = config.broker ?? new MemoryBroker(config);
    this.features = { ...FEATURES, durableAcrossRestart: this.broker.journal !== undefined };
  }

  publish(subject: string, data: Uint8Array, options?: PublishOptions): void {
    this.#open();
    this.broker.publish(subject, data, options?.headers, options?.reply);
  }

  subscribe(pattern: string, handler: MessageHandler, options?: SubscribeOptions): Subscription {
    this.#open();
    const sub = this.broker.subscribe(pattern, handler, options?.queue);
    this.#subs.add(sub);
    return {
      pattern,
      ...(options?.queue === undefined ? {} : { queue: options.queue }),
      unsubscribe: () => {
        this.#subs.delete(sub);
        this.broker.unsubscribe(sub);
      },
    };
  }

  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Message> {
    this.#open();
    let abort: ((error: Error) => void) | undefined;
    const reply = this.broker.request(subject, data, options.timeoutMs, options.headers, (a) => {
      abort = a;
    });
    if (abort === undefined) return reply;
    const pending = abort;
    this.#requests.add(pending);
    const settled = () => this.#requests.delete(pending);
    reply.then(settled, settled);
    return reply;
  }

  async ensureQueue(config: QueueConfig): Promise<void> {
    this.#open();
    this.broker.ensureQueue(config);
  }

  enqueue(subject: string, data: Uint8Array, options: EnqueueOptions): Promise<EnqueueResult> {
    this.#open();
    if (typeof options?.msgId !== "string" || options.msgId.length === 0) {
      // Else every enqueue without an id after the first is dropped as its duplicate.
      return Promise.reject(
        new ConfigError("enqueue(): msgId must be a non-empty string (the envelope id)"),
      );
    }
    return this.broker.enqueue(subject, data, options.msgId, options.headers);
  }

  consume(queue: string, handler: DeliveryHandler, options: ConsumeOptions): Consumer {
    this.#open();
    const state = this.broker.queue(queue);
    if (!state) {
      throw new ConfigError(`queue "${queue}" is not declared; call ensureQueue() first`);
    }
    validateConsumeOptions(options);
    const consumer = new MemoryConsumer(
      new QueueConsumer(state, handler, options.maxInFlight),
      () => this.#consumers.delete(consumer),
    );
    this.#consumers.add(consumer);
    state.attach(consumer.inner);
    return consumer;
  }

  async queueInfo(queue: string): Promise<QueueInfo> {
    this.#open();
    const state = this.broker.queue(queue);
    if (!state) throw new ConfigError(`queue "${queue}" is not declared`);
    return state.info();
  }

  async drain(): Promise<void> {
    if (this.#closed) return;
    for (const sub of this.#subs) this.broker.unsubscribe(sub);
    this.#subs.clear();
    await Promise.all([...this.#consumers].map((c) => c.drain()));
    await this.broker.journal?.flush();
    await this.close();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const sub of this.#subs) this.broker.unsubscribe(sub);
    this.#subs.clear();
    for (const abort of [...this.#requests]) abort(new ClosedError("the memory transport"));
    this.#requests.clear();
    await Promise.all([...this.#consumers].map((c) => c.close()));
    if (this.#ownsBroker) this.broker.close();
    this.#resolveClosed(undefined);
  }

  closed(): Promise<Error | undefined> {
    return this.#closedPromise;
  }

  #open(): void {
    if (this.#closed || this.broker.closed) throw new ClosedError("the memory transport");
  }
}

class MemoryConsumer implements Consumer {
  #done = false;

  constructor(
    readonly inner: QueueConsumer,
    private readonly forget: () => void,
  ) {}

  get queue(): string {
    return this.inner.queue.name;
  }

  get inFlight(): number {
    return this.inner.inFlight;
  }

  async drain(): Promise<void> {
    this.inner.accepting = false;
    await this.inner.idle();
    this.#detach(false);
  }

  async close(): Promise<void> {
    this.#detach(true);
  }

  #detach(release: boolean): void {
    if (this.#done) return;
    this.#done = true;
    this.inner.queue.detach(this.inner, release);
    this.forget();
  }
}
