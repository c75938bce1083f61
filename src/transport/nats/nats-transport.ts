import { type Clock, systemClock } from "../../core/clock.js";
import {
  ClosedError,
  ConfigError,
  NoRespondersError,
  QueueFullError,
  TimeoutError,
  TlsHandshakeError,
  TransportError,
  toError,
  UnroutableError,
} from "../../errors/index.js";
import type {
  ConsumeOptions,
  Consumer,
  DeliveryHandler,
  EnqueueOptions,
  EnqueueResult,
  Headers,
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
import { validateQueueConfig } from "../queue-config.js";
import { assertPattern, assertSubject, subjectMatches } from "../subject.js";
import { UNTRUSTED_SERVER_CODES } from "../tls-errors.js";
import {
  ApiCode,
  apiCode,
  type Driver,
  fromNatsHeaders,
  isTimeout,
  type JetStreamClient,
  type JetStreamManager,
  loadDriver,
  type Msg,
  mapError,
  mapRequestError,
  type NatsConnection,
  type Subscription as NatsSubscription,
  type PullConsumer,
  parsePubAck,
  redactUrl,
  toNatsHeaders,
} from "./driver.js";
import { type ConsumerHost, NatsConsumer, type QueueSettings } from "./nats-consumer.js";
import { ReplyInbox } from "./reply-inbox.js";
import { diagnoseNatsTls } from "./tls-diagnosis.js";

/** TLS material: each field is PEM text or the path of a PEM file. */
export interface NatsTlsConfig {
  /** Certificate authority that signed the server's certificate. */
  readonly ca?: string;
  /** Client certificate, for servers that verify clients (mutual TLS). */
  readonly cert?: string;
  /** The client certificate's private key. */
  readonly key?: string;
}

export interface NatsTransportConfig {
  /** One server URL or several of one cluster: `nats://host:4222`, `tls://host:4222`. */
  readonly servers: string | readonly string[];
  /** Connection name shown by the server's monitoring. Default `"conclave"`. */
  readonly name?: string;
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
  /** Connect over TLS. An empty object requires TLS with the system's trusted CAs. */
  readonly tls?: NatsTlsConfig;
  /** How long JetStream remembers a `msgId` to drop a duplicate enqueue. Default 2 minutes. */
  readonly dedupWindowMs?: number;
  /**
   * Where queue streams keep messages. Default `"file"` (survives a server
   * restart). Applies when a queue's stream is created; JetStream cannot
   * change it later.
   */
  readonly storage?: "file" | "memory";
  /** Copies of each queue stream in a JetStream cluster (1, 3 or 5). Default 1. */
  readonly replicas?: number;
  /** Pause between reconnect attempts. Reconnection never gives up. Default 2000 ms. */
  readonly reconnectTimeWaitMs?: number;
  /** How long to wait for the server to answer a JetStream call (enqueue, ack, ...). Default 5000 ms. */
  readonly apiTimeoutMs?: number;
  /** How long the first connection may take. Default 10 000 ms. */
  readonly connectTimeoutMs?: number;
  /**
   * How long `ensureQueue` (and the connection's first JetStream call) keeps
   * trying while JetStream cannot answer yet (a cluster electing a leader, a
   * server restarting, too few servers up for the replicas): timeouts and
   * "temporarily unavailable" answers are retried with backoff (250 ms,
   * doubling to 2 s) until this much time has passed. Default 30 000 ms; 0
   * fails at the first timeout.
   */
  readonly ensureQueueRetryMs?: number;
  readonly clock?: Clock;
  /** Called with failures nobody awaits (a throwing handler, a pull that failed). Default: a process warning. */
  readonly onError?: (error: Error) => void;
}

const FEATURES: TransportFeatures = Object.freeze({
  durableAcrossRestart: true,
  // JetStream takes a lease back only when its ack deadline passes.
  releasesOnClose: false,
});

/** Name of the durable pull consumer created on each queue's stream. */
const DURABLE = "conclave";
const SETTINGS_PREFIX = "conclave queue settings: ";
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,128}$/;
const QUEUE_GROUP = /^[A-Za-z0-9_\-.:$]{1,128}$/;
const EMPTY_HEADERS: Headers = Object.freeze({});
/** The body of a JetStream ack. */
const ACK = new TextEncoder().encode("+ACK");
/** Backoff between attempts of a declaration JetStream could not answer yet. */
const DECLARE_RETRY_MIN_MS = 250;
const DECLARE_RETRY_MAX_MS = 2_000;
const DEFAULT_DECLARE_RETRY_MS = 30_000;
/**
 * JetStream API errors that go away by themselves: insufficient resources /
 * no suitable peers (10005, servers of the cluster down), system temporarily
 * unavailable (10008), cluster cannot handle the request (10009, no leader),
 * stream or consumer offline (10118, 10119).
 */
const TRANSIENT_API_CODES: ReadonlySet<number> = new Set([10005, 10008, 10009, 10118, 10119]);

/**
 * Connects to NATS and returns a `Transport` on it: core NATS for
 * `publish` / `subscribe` / `request`, JetStream for durable queues.
 *
 * Mapping:
 * - Each queue is one work-queue stream named after the queue (subjects
 *   `[config.subjects]`, `duplicate_window` = `dedupWindowMs`, `max_msgs` =
 *   `maxPending` with `discard: new`) with one durable pull consumer named
 *   `conclave` (explicit ack, `ack_wait` = `ackWaitMs`). The consumer's
 *   `max_deliver` is unlimited on the server: the adapter counts deliveries
 *   itself so that it can dead-letter with a reason (JetStream would only
 *   drop the message). JetStream stores a subject in one stream only, so two
 *   queues' subjects may not overlap.
 * - The queue settings JetStream has no field for (`maxDeliver`,
 *   `deadLetterSubject`) are kept in the consumer's description, so a node
 *   can consume a queue another node declared.
 * - `enqueue` is a JetStream publish with `Nats-Msg-Id` = `msgId`.
 * - A dead letter is published (msgId `dlq:<msgId>`) before the original is
 *   terminated, so a crash in between loses nothing; it also carries
 *   `conclave-original-seq`, with which a consumer of the dead letter
 *   finishes removing the original first (there is no atomic move).
 * - A closed consumer's unsettled messages come back after their ack
 *   deadline, not at once (`features.releasesOnClose` is false).
 * - The connection reconnects forever; pulls resume once it is back.
 *
 * Durability: with `storage: "file"` an acknowledged enqueue is in the
 * server's files and survives a crash of the server process. To also survive
 * a power loss, make the server fsync every write: `jetstream { sync_interval:
 * always }` in nats-server.conf (nats-server 2.10+; by default it syncs every
 * two minutes), or run replicas: 3 on a cluster. nats-server 2.9 writes
 * removals (acks) and consumer state a few seconds behind: after a `kill -9`
 * of the server, messages acked in the last seconds are delivered again
 * (at-least-once holds; dedup on the envelope id upstream absorbs it). A
 * graceful server restart loses nothing.
 *
 * The driver (`@nats-io/transport-node`, `@nats-io/jetstream`) is imported on
 * first call, so applications that never use NATS never load it. Credentials
 * never appear in errors or logs.
 *
 * @example
 * ```ts
 * const bus = await createNatsTransport({ servers: "nats://127.0.0.1:4222" });
 * await bus.ensureQueue({ name: "app-dlq", subjects: "app.dlq.>", ackWaitMs: 30_000, maxDeliver: 1_000, deadLetterSubject: "app.dlq.dlq" });
 * await bus.ensureQueue({ name: "app-work", subjects: "app.task.>", ackWaitMs: 30_000, maxDeliver: 5, deadLetterSubject: "app.dlq.work" });
 * bus.consume("app-work", async (d) => { handle(d.data); await d.ack(); }, { maxInFlight: 8 });
 * await bus.enqueue("app.task.build", bytes, { msgId: envelope.id });
 * ```
 */
export async function createNatsTransport(config: NatsTransportConfig): Promise<Transport> {
  const servers = validateTransportConfig(config);
  const driver = await loadDriver();
  const shown = servers.map(redactUrl).join(", ");
  let nc: NatsConnection;
  try {
    nc = await driver.core.connect({
      servers,
      name: config.name ?? "conclave",
      ...(config.user === undefined ? {} : { user: config.user }),
      ...(config.pass === undefined ? {} : { pass: config.pass }),
      ...(config.token === undefined ? {} : { token: config.token }),
      ...(config.tls === undefined ? {} : { tls: tlsOptions(config.tls) }),
      maxReconnectAttempts: -1,
      reconnectTimeWait: config.reconnectTimeWaitMs ?? 2_000,
      timeout: config.connectTimeoutMs ?? 10_000,
      // Without this the driver builds two Errors with stack traces per
      // request (two requests per task): about 30% of client CPU.
      noAsyncTraces: true,
    });
  } catch (error) {
    throw (
      (await tlsFailure(driver, error, servers, config, shown)) ??
      new TransportError(
        `cannot connect to NATS at ${shown}: ${describeCause(error)}; check that the server runs and the URL, credentials and TLS settings`,
        { cause: error },
      )
    );
  }
  const apiTimeoutMs = config.apiTimeoutMs ?? 5_000;
  const clock = config.clock ?? systemClock;
  const retryMs = config.ensureQueueRetryMs ?? DEFAULT_DECLARE_RETRY_MS;
  const startedAt = clock.now();
  let jsm: JetStreamManager | undefined;
  for (let attempt = 1; jsm === undefined; attempt++) {
    try {
      jsm = await driver.jetstream.jetstreamManager(nc, { timeout: apiTimeoutMs });
    } catch (error) {
      // A cluster without a leader yet times out or says "temporarily
      // unavailable" (JetStream switched off answers "not enabled" at
      // once): wait for it as ensureQueue does.
      const elapsed = clock.now() - startedAt;
      const delay = Math.min(DECLARE_RETRY_MAX_MS, DECLARE_RETRY_MIN_MS * 2 ** (attempt - 1));
      const transient = isTransient(driver, error, false);
      if (transient && elapsed + delay <= retryMs) {
        if (attempt === 1) {
          config.onError?.(
            new TransportError(
              `JetStream at ${shown} does not answer yet (${describeCause(error)}); retrying for up to ${retryMs} ms`,
              { cause: error },
            ),
          );
        }
        await new Promise<void>((resolve) => clock.setTimer(resolve, delay));
        continue;
      }
      await nc.close().catch(() => undefined);
      if (transient) {
        throw new TimeoutError(
          `JetStream at ${shown} did not answer in ${elapsed} ms (${attempt} attempts): a cluster may still be electing a leader, or most of its servers are down; check them, or raise ensureQueueRetryMs`,
          { cause: error },
        );
      }
      throw new ConfigError(
        `JetStream is not available on the NATS server at ${shown}: ${describeCause(error)}; start nats-server with -js (or a jetstream {} block in its config)`,
        [],
        { cause: error },
      );
    }
  }
  const js = driver.jetstream.jetstream(nc, { timeout: apiTimeoutMs });
  return new NatsTransport(driver, nc, js, jsm, config);
}

/**
 * Deletes a queue's stream (and its consumer and messages) from the server.
 * For test clean-up and operations; resolves false when it did not exist.
 */
export async function deleteNatsQueue(transport: Transport, queue: string): Promise<boolean> {
  if (!(transport instanceof NatsTransport)) {
    throw new ConfigError("deleteNatsQueue() needs a transport made by createNatsTransport()");
  }
  return transport.deleteQueue(queue);
}

class NatsTransport implements Transport {
  readonly kind = "nats";
  readonly features = FEATURES;
  readonly #driver: Driver;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #clock: Clock;
  readonly #onError: (error: Error) => void;
  readonly #dedupWindowMs: number;
  readonly #storage: "file" | "memory";
  readonly #replicas: number;
  readonly #ensureQueueRetryMs: number;
  /** Queues declared through this transport, by name. */
  readonly #declared = new Map<string, QueueConfig>();
  /** Settings of every queue this transport has declared or consumed. */
  readonly #settings = new Map<string, QueueSettings>();
  readonly #subs = new Set<NatsSubscription>();
  readonly #consumers = new Set<NatsConsumer>();
  readonly #host: ConsumerHost;
  /** Where the answers to enqueues and acks arrive. */
  readonly #replies: ReplyInbox;
  readonly #apiTimeoutMs: number;
  #draining = false;
  #closed = false;
  #shutdown: Promise<void> | undefined;
  readonly #closedPromise: Promise<Error | undefined>;

  constructor(
    driver: Driver,
    nc: NatsConnection,
    js: JetStreamClient,
    jsm: JetStreamManager,
    config: NatsTransportConfig,
  ) {
    this.#driver = driver;
    this.#nc = nc;
    this.#js = js;
    this.#jsm = jsm;
    this.#clock = config.clock ?? systemClock;
    this.#onError =
      config.onError ??
      ((error) => process.emitWarning(`conclave nats transport: ${error.message}`));
    this.#dedupWindowMs = config.dedupWindowMs ?? 120_000;
    this.#storage = config.storage ?? "file";
    this.#replicas = config.replicas ?? 1;
    this.#ensureQueueRetryMs = config.ensureQueueRetryMs ?? DEFAULT_DECLARE_RETRY_MS;
    this.#apiTimeoutMs = config.apiTimeoutMs ?? 5_000;
    this.#replies = new ReplyInbox(driver, nc, this.#clock);
    this.#closedPromise = nc.closed().then((error) => {
      const ended = this.#closed ? undefined : error;
      this.#markClosed();
      if (!ended) return undefined;
      return new TransportError(`the connection to NATS ended: ${describeCause(ended)}`, {
        cause: ended,
      });
    });
    this.#host = {
      driver,
      clock: this.#clock,
      settings: (queue) => this.#queueSettings(queue),
      cachedSettings: (queue) => this.#settings.get(queue),
      pullConsumer: (settings) => this.#pullConsumer(settings),
      publishDeadLetter: async (subject, data, msgId, headers) => {
        await this.#publishDurable(subject, data, msgId, headers);
      },
      completeDeadLetter: (stream, seq, msgId) => this.#completeDeadLetter(stream, seq, msgId),
      confirmAck: (reply, queue) => this.#confirmAck(reply, queue),
      flush: () => this.#nc.flush(),
      report: (error) => this.#report(error),
      detached: (consumer) => this.#consumers.delete(consumer),
      isClosed: () => this.#nc.isClosed(),
    };
  }

  // ---- core messaging -------------------------------------------------------

  publish(subject: string, data: Uint8Array, options?: PublishOptions): void {
    this.#open();
    assertSubject(subject);
    if (options?.reply !== undefined) assertSubject(options.reply);
    const headers = toNatsHeaders(this.#driver, options?.headers);
    try {
      this.#nc.publish(subject, data, {
        ...(headers === undefined ? {} : { headers }),
        ...(options?.reply === undefined ? {} : { reply: options.reply }),
      });
    } catch (error) {
      throw mapError(this.#driver, error, `publish to "${subject}"`);
    }
  }

  subscribe(pattern: string, handler: MessageHandler, options?: SubscribeOptions): Subscription {
    this.#open();
    if (this.#draining) throw new ClosedError("the NATS transport (draining)");
    assertPattern(pattern);
    const queue = options?.queue;
    if (queue !== undefined && !QUEUE_GROUP.test(queue)) {
      throw new ConfigError(
        `queue group "${queue}" must be 1-128 letters, digits, '_', '-', '.', ':' or '$'`,
      );
    }
    let sub: NatsSubscription;
    try {
      sub = this.#nc.subscribe(pattern, {
        ...(queue === undefined ? {} : { queue }),
        callback: (error, msg) => {
          if (error) {
            this.#report(mapError(this.#driver, error, `subscription to "${pattern}"`));
            return;
          }
          this.#dispatch(handler, msg);
        },
      });
    } catch (error) {
      throw mapError(this.#driver, error, `subscribe to "${pattern}"`);
    }
    this.#subs.add(sub);
    return {
      pattern,
      ...(queue === undefined ? {} : { queue }),
      unsubscribe: () => {
        if (!this.#subs.delete(sub)) return;
        try {
          sub.unsubscribe();
        } catch {
          // Already gone with the connection.
        }
      },
    };
  }

  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Message> {
    this.#open();
    assertSubject(subject);
    const timeoutMs = options.timeoutMs;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new ConfigError("request(): timeoutMs must be a positive number of milliseconds");
    }
    const headers = toNatsHeaders(this.#driver, options.headers);
    return this.#nc
      .request(subject, data, {
        timeout: Math.ceil(timeoutMs),
        ...(headers === undefined ? {} : { headers }),
      })
      .then(
        (reply) => toMessage(reply),
        (error: unknown) => {
          throw mapRequestError(this.#driver, error, subject, timeoutMs);
        },
      );
  }

  #dispatch(handler: MessageHandler, msg: Msg): void {
    try {
      const result = handler(toMessage(msg));
      if (result && typeof result.then === "function") {
        result.then(undefined, (e: unknown) => this.#report(toError(e)));
      }
    } catch (e) {
      this.#report(toError(e));
    }
  }

  // ---- durable queues -------------------------------------------------------

  async ensureQueue(config: QueueConfig): Promise<void> {
    this.#open();
    validateQueueConfig(config);
    const startedAt = this.#clock.now();
    for (let attempt = 1; ; attempt++) {
      let streamDeclared = false;
      try {
        await this.#checkDeadLetterRoute(config);
        await this.#ensureStream(config);
        streamDeclared = true;
        await this.#ensureConsumer(config);
        break;
      } catch (error) {
        // The stream was declared a moment ago: a consumer call that cannot
        // find it reached a server that has not applied it yet (a cluster
        // still settling its leaders). Declaring again settles it, or
        // recreates a stream someone deleted meanwhile.
        const notVisibleYet =
          streamDeclared && hasApiCode(this.#driver, error, ApiCode.streamNotFound);
        if (this.#closed || !(notVisibleYet || isTransient(this.#driver, error, true))) {
          throw error;
        }
        const elapsed = this.#clock.now() - startedAt;
        const delay = Math.min(DECLARE_RETRY_MAX_MS, DECLARE_RETRY_MIN_MS * 2 ** (attempt - 1));
        if (elapsed + delay > this.#ensureQueueRetryMs) {
          throw this.#declareGaveUp(config, error, attempt, elapsed);
        }
        if (attempt === 1) {
          this.#report(
            new TransportError(
              `ensureQueue("${config.name}"): JetStream cannot answer yet (${describeCause(error)}); retrying for up to ${this.#ensureQueueRetryMs} ms`,
              { cause: error },
            ),
          );
        }
        await new Promise<void>((resolve) => this.#clock.setTimer(resolve, delay));
        this.#open();
      }
    }
    this.#declared.set(config.name, config);
    this.#settings.set(config.name, settingsOf(config));
  }

  async enqueue(
    subject: string,
    data: Uint8Array,
    options: EnqueueOptions,
  ): Promise<EnqueueResult> {
    this.#open();
    assertSubject(subject);
    if (typeof options?.msgId !== "string" || options.msgId.length === 0) {
      throw new ConfigError("enqueue(): msgId must be a non-empty string (the envelope id)");
    }
    return this.#publishDurable(subject, data, options.msgId, options.headers);
  }

  consume(queue: string, handler: DeliveryHandler, options: ConsumeOptions): Consumer {
    this.#open();
    if (this.#draining) throw new ClosedError("the NATS transport (draining)");
    if (!QUEUE_NAME.test(queue)) {
      throw new ConfigError(`queue name "${queue}" must be 1-128 letters, digits, '_' or '-'`);
    }
    if (!Number.isInteger(options.maxInFlight) || options.maxInFlight < 1) {
      throw new ConfigError("consume(): maxInFlight must be an integer of at least 1");
    }
    // A queue declared by another node is looked up on the server; until it
    // exists the consumer reports that through onError and keeps retrying.
    const consumer = new NatsConsumer(queue, handler, options.maxInFlight, this.#host);
    this.#consumers.add(consumer);
    return consumer;
  }

  /**
   * `pending` is the stream's message count and `inFlight` the consumer's
   * `num_ack_pending`, both across every node. `consumers` counts only the
   * consumers attached through this transport: JetStream does not tell which
   * clients are pulling from a durable consumer.
   */
  async queueInfo(queue: string): Promise<QueueInfo> {
    this.#open();
    if (!QUEUE_NAME.test(queue)) throw new ConfigError(`queue "${queue}" is not declared`);
    try {
      const [stream, consumer] = await Promise.all([
        this.#jsm.streams.info(queue),
        this.#jsm.consumers.info(queue, DURABLE),
      ]);
      let attached = 0;
      for (const c of this.#consumers) if (c.queue === queue) attached++;
      return {
        name: queue,
        pending: stream.state.messages,
        inFlight: consumer.num_ack_pending,
        consumers: attached,
      };
    } catch (error) {
      if (this.#isMissing(error)) throw new ConfigError(`queue "${queue}" is not declared`);
      throw mapError(this.#driver, error, `queueInfo("${queue}")`);
    }
  }

  /** Deletes the queue's stream; false when there was none. */
  async deleteQueue(queue: string): Promise<boolean> {
    this.#open();
    if (!QUEUE_NAME.test(queue)) return false;
    this.#declared.delete(queue);
    this.#settings.delete(queue);
    try {
      return await this.#jsm.streams.delete(queue);
    } catch (error) {
      if (this.#isMissing(error)) return false;
      throw mapError(this.#driver, error, `deleting queue "${queue}"`);
    }
  }

  async #publishDurable(
    subject: string,
    data: Uint8Array,
    msgId: string,
    headers: Headers | undefined,
  ): Promise<EnqueueResult> {
    const what = `enqueue to "${subject}"`;
    const natsHeaders = toNatsHeaders(this.#driver, headers, { "Nats-Msg-Id": msgId });
    let answer: Msg;
    try {
      answer = await this.#replies.request(subject, data, natsHeaders, this.#apiTimeoutMs, what);
    } catch (error) {
      // No stream takes the subject: nothing subscribes to it.
      if (error instanceof NoRespondersError) throw new UnroutableError(subject);
      throw mapError(this.#driver, error, what);
    }
    const ack = parsePubAck(answer.data);
    if (ack.ok) return { duplicate: ack.duplicate };
    if (ack.code === ApiCode.maximumMessagesExceeded) throw await this.#queueFull(subject);
    throw new TransportError(
      `${what} failed on the NATS server: ${ack.description} (JetStream error ${ack.code})`,
    );
  }

  /** Acks a leased message and resolves once the server confirms it (what the driver's `ackAck` does). */
  async #confirmAck(reply: string, queue: string): Promise<void> {
    const what = `acking a delivery of queue "${queue}"`;
    try {
      await this.#replies.request(reply, ACK, undefined, this.#apiTimeoutMs, what);
    } catch (error) {
      if (error instanceof NoRespondersError) {
        throw new TransportError(
          `${what}: nothing on the NATS server takes the ack; the queue or its consumer was deleted while the message was leased`,
        );
      }
      throw mapError(this.#driver, error, what);
    }
  }

  async #queueFull(subject: string): Promise<Error> {
    for (const config of this.#declared.values()) {
      if (subjectMatches(config.subjects, subject) && config.maxPending !== undefined) {
        return new QueueFullError(config.name, config.maxPending);
      }
    }
    try {
      const stream = await this.#jsm.streams.find(subject);
      const info = await this.#jsm.streams.info(stream);
      return new QueueFullError(stream, info.config.max_msgs);
    } catch {
      return new QueueFullError(subject, -1);
    }
  }

  /** The dead-letter subject must land in some queue: this one, or one on the server. */
  async #checkDeadLetterRoute(config: QueueConfig): Promise<void> {
    const subject = config.deadLetterSubject;
    if (subjectMatches(config.subjects, subject)) return;
    for (const other of this.#declared.values()) {
      if (other.name !== config.name && subjectMatches(other.subjects, subject)) return;
    }
    try {
      await this.#jsm.streams.find(subject);
      return;
    } catch (error) {
      if (!this.#isMissing(error)) {
        throw mapError(this.#driver, error, `ensureQueue("${config.name}")`);
      }
    }
    throw new ConfigError(
      `queue "${config.name}" dead-letters to "${subject}", which no queue takes; declare the dead-letter queue first`,
    );
  }

  async #ensureStream(config: QueueConfig): Promise<void> {
    const { RetentionPolicy, DiscardPolicy, StorageType } = this.#driver.jetstream;
    const { nanos } = this.#driver.core;
    const wanted = {
      subjects: [config.subjects],
      max_msgs: config.maxPending ?? -1,
      discard: config.maxPending === undefined ? DiscardPolicy.Old : DiscardPolicy.New,
      duplicate_window: nanos(this.#dedupWindowMs),
      num_replicas: this.#replicas,
    };
    const what = `ensureQueue("${config.name}")`;
    for (let attempt = 0; attempt < 2; attempt++) {
      let current: Awaited<ReturnType<JetStreamManager["streams"]["info"]>> | undefined;
      try {
        current = await this.#jsm.streams.info(config.name);
      } catch (error) {
        if (apiCode(this.#driver, error) !== ApiCode.streamNotFound) {
          throw mapError(this.#driver, error, what);
        }
      }
      try {
        if (!current) {
          await this.#jsm.streams.add({
            name: config.name,
            description: `conclave durable queue "${config.name}"`,
            retention: RetentionPolicy.Workqueue,
            storage: this.#storage === "memory" ? StorageType.Memory : StorageType.File,
            ...wanted,
          });
          return;
        }
        const c = current.config;
        const same =
          c.subjects?.length === 1 &&
          c.subjects[0] === config.subjects &&
          c.max_msgs === wanted.max_msgs &&
          c.discard === wanted.discard &&
          c.duplicate_window === wanted.duplicate_window &&
          c.num_replicas === wanted.num_replicas;
        if (c.retention !== RetentionPolicy.Workqueue) {
          throw new ConfigError(
            `a stream named "${config.name}" exists on the NATS server but is not a work queue (retention ${c.retention}); pick another queue name or delete that stream`,
          );
        }
        if (!same) await this.#jsm.streams.update(config.name, wanted);
        return;
      } catch (error) {
        const code = apiCode(this.#driver, error);
        // Another node created it between our info and add: look again.
        if (code === ApiCode.streamNameInUse && attempt === 0) continue;
        throw this.#streamError(config, error, what);
      }
    }
  }

  #declareGaveUp(config: QueueConfig, error: unknown, attempts: number, elapsed: number): Error {
    const message = `ensureQueue("${config.name}"): JetStream did not accept the queue in ${elapsed} ms (${attempts} attempts; last: ${describeCause(error)}); a cluster may still be electing a leader or have fewer than ${this.#replicas} servers up: check that most of its servers run, or raise ensureQueueRetryMs`;
    return error instanceof TimeoutError
      ? new TimeoutError(message, { cause: error })
      : new TransportError(message, { cause: error });
  }

  #streamError(config: QueueConfig, error: unknown, what: string): Error {
    if (error instanceof ConfigError) return error;
    const code = apiCode(this.#driver, error);
    const detail = describeCause(error);
    if (code === ApiCode.subjectsOverlap) {
      return new ConfigError(
        `queue "${config.name}": its subjects "${config.subjects}" overlap those of another stream on the NATS server (${detail}); JetStream stores each subject in one stream only, so give each queue disjoint subjects`,
        [],
        { cause: error },
      );
    }
    if (code !== undefined) {
      return new ConfigError(`queue "${config.name}": the NATS server refused it: ${detail}`, [], {
        cause: error,
      });
    }
    return mapError(this.#driver, error, what);
  }

  async #ensureConsumer(config: QueueConfig): Promise<void> {
    const { AckPolicy, DeliverPolicy, ReplayPolicy } = this.#driver.jetstream;
    const { nanos } = this.#driver.core;
    const description = describeSettings(config);
    const wanted = {
      description,
      ack_wait: nanos(config.ackWaitMs),
      // Unlimited on the server: the adapter enforces maxDeliver so that it
      // can dead-letter with a reason.
      max_deliver: -1,
      // Backpressure is per attached consumer (maxInFlight), not per queue.
      max_ack_pending: -1,
      filter_subject: config.subjects,
    };
    const what = `ensureQueue("${config.name}")`;
    let current: Awaited<ReturnType<JetStreamManager["consumers"]["info"]>> | undefined;
    try {
      current = await this.#jsm.consumers.info(config.name, DURABLE);
    } catch (error) {
      if (apiCode(this.#driver, error) !== ApiCode.consumerNotFound) {
        throw mapError(this.#driver, error, what);
      }
    }
    try {
      if (!current) {
        await this.#jsm.consumers.add(config.name, {
          durable_name: DURABLE,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          replay_policy: ReplayPolicy.Instant,
          ...wanted,
        });
        return;
      }
      const c = current.config;
      const same =
        c.description === wanted.description &&
        c.ack_wait === wanted.ack_wait &&
        c.max_deliver === wanted.max_deliver &&
        c.max_ack_pending === wanted.max_ack_pending &&
        c.filter_subject === wanted.filter_subject;
      if (!same) await this.#jsm.consumers.update(config.name, DURABLE, wanted);
    } catch (error) {
      throw this.#streamError(config, error, what);
    }
  }

  async #queueSettings(queue: string): Promise<QueueSettings> {
    const known = this.#settings.get(queue);
    if (known) return known;
    let description: string | undefined;
    let ackWaitNanos: number;
    try {
      const info = await this.#jsm.consumers.info(queue, DURABLE);
      description = info.config.description;
      ackWaitNanos = info.config.ack_wait ?? 30_000_000_000;
    } catch (error) {
      if (this.#isMissing(error)) {
        throw new ConfigError(
          `queue "${queue}" is not declared on the NATS server; call ensureQueue() first`,
        );
      }
      throw error;
    }
    const parsed = parseSettings(description);
    if (!parsed) {
      throw new ConfigError(
        `the stream "${queue}" on the NATS server was not declared by conclave; declare the queue with ensureQueue()`,
      );
    }
    const settings: QueueSettings = {
      name: queue,
      stream: queue,
      durable: DURABLE,
      ackWaitMs: Math.round(ackWaitNanos / 1_000_000),
      maxDeliver: parsed.maxDeliver,
      deadLetterSubject: parsed.deadLetterSubject,
    };
    // A local ensureQueue that ran meanwhile wins.
    const raced = this.#settings.get(queue);
    if (raced) return raced;
    this.#settings.set(queue, settings);
    return settings;
  }

  /** Removes a dead letter's original if it is still stored (and still the same message). */
  async #completeDeadLetter(stream: string, seq: number, msgId: string): Promise<void> {
    if (!QUEUE_NAME.test(stream)) return;
    try {
      const stored = await this.#jsm.streams.getMessage(stream, { seq });
      if (!stored) return;
      const storedId = stored.header?.get("Nats-Msg-Id") || `${stream}:${seq}`;
      if (storedId !== msgId) return;
      await this.#jsm.streams.deleteMessage(stream, seq, false);
    } catch (error) {
      if (this.#isMissing(error) || apiCode(this.#driver, error) === ApiCode.noMessageFound) return;
      this.#report(mapError(this.#driver, error, `removing the original of a dead letter`));
    }
  }

  #pullConsumer(settings: QueueSettings): Promise<PullConsumer> {
    return this.#js.consumers.get(settings.stream, settings.durable);
  }

  #isMissing(error: unknown): boolean {
    const code = apiCode(this.#driver, error);
    if (code === ApiCode.streamNotFound || code === ApiCode.consumerNotFound) return true;
    return (
      error instanceof Error && /no stream matches subject|stream not found/i.test(error.message)
    );
  }

  // ---- lifecycle ------------------------------------------------------------

  drain(): Promise<void> {
    if (this.#closed) return this.#shutdown ?? Promise.resolve();
    if (this.#shutdown) return this.#shutdown;
    this.#draining = true;
    this.#shutdown = (async () => {
      this.#unsubscribeAll();
      await Promise.all([...this.#consumers].map((c) => c.drain()));
      this.#closed = true;
      try {
        await this.#nc.drain();
      } catch {
        // Already closed (the connection died meanwhile): nothing left to flush.
      }
      await this.#nc.close().catch(() => undefined);
      await this.#closedPromise;
    })();
    return this.#shutdown;
  }

  close(): Promise<void> {
    if (this.#closed) return this.#shutdown ?? Promise.resolve();
    this.#closed = true;
    const previous = this.#shutdown;
    this.#shutdown = (async () => {
      this.#unsubscribeAll();
      await Promise.all([...this.#consumers].map((c) => c.close()));
      await this.#nc.close().catch(() => undefined);
      await this.#closedPromise;
      await previous;
    })();
    return this.#shutdown;
  }

  closed(): Promise<Error | undefined> {
    return this.#closedPromise;
  }

  #unsubscribeAll(): void {
    for (const sub of this.#subs) {
      try {
        sub.unsubscribe();
      } catch {
        // Gone with the connection.
      }
    }
    this.#subs.clear();
  }

  /** The connection ended (by us or by failure): refuse further calls, stop consumers. */
  #markClosed(): void {
    this.#closed = true;
    this.#replies.close();
    this.#subs.clear();
    for (const consumer of this.#consumers) void consumer.close();
  }

  #open(): void {
    if (this.#closed) throw new ClosedError("the NATS transport");
  }

  #report(error: Error): void {
    try {
      this.#onError(error);
    } catch {
      // A failing error hook must not take the transport down.
    }
  }
}

// ---- helpers ----------------------------------------------------------------

function toMessage(msg: Msg): Message {
  const headers = msg.headers ? fromNatsHeaders(msg.headers) : EMPTY_HEADERS;
  return msg.reply
    ? { subject: msg.subject, data: msg.data, headers, reply: msg.reply }
    : { subject: msg.subject, data: msg.data, headers };
}

function settingsOf(config: QueueConfig): QueueSettings {
  return {
    name: config.name,
    stream: config.name,
    durable: DURABLE,
    ackWaitMs: config.ackWaitMs,
    maxDeliver: config.maxDeliver,
    deadLetterSubject: config.deadLetterSubject,
  };
}

/**
 * The settings JetStream has no field for travel in the consumer's
 * description, so that a node consuming a queue another node declared knows
 * them.
 */
function describeSettings(config: QueueConfig): string {
  return (
    SETTINGS_PREFIX +
    JSON.stringify({ maxDeliver: config.maxDeliver, deadLetterSubject: config.deadLetterSubject })
  );
}

function parseSettings(
  description: string | undefined,
): { maxDeliver: number; deadLetterSubject: string } | undefined {
  if (!description?.startsWith(SETTINGS_PREFIX)) return undefined;
  try {
    const value = JSON.parse(description.slice(SETTINGS_PREFIX.length)) as {
      maxDeliver?: unknown;
      deadLetterSubject?: unknown;
    };
    if (typeof value.maxDeliver !== "number" || typeof value.deadLetterSubject !== "string") {
      return undefined;
    }
    return { maxDeliver: value.maxDeliver, deadLetterSubject: value.deadLetterSubject };
  } catch {
    return undefined;
  }
}

const SERVER_URL = /^(nats|tls):\/\/[^\s/]+\/?$|^[^\s:/]+:\d+$/;

function validateTransportConfig(config: NatsTransportConfig): string[] {
  const servers = typeof config.servers === "string" ? [config.servers] : [...config.servers];
  if (servers.length === 0) {
    throw new ConfigError("nats transport: servers must list at least one nats:// URL");
  }
  for (const url of servers) {
    if (typeof url !== "string" || !SERVER_URL.test(url)) {
      throw new ConfigError(
        `nats transport: "${redactUrl(String(url))}" is not a NATS server URL; use nats://host:port or tls://host:port`,
      );
    }
  }
  const positive = (value: number | undefined, field: string) => {
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new ConfigError(`nats transport: ${field} must be a positive integer of milliseconds`);
    }
  };
  positive(config.dedupWindowMs, "dedupWindowMs");
  positive(config.reconnectTimeWaitMs, "reconnectTimeWaitMs");
  positive(config.apiTimeoutMs, "apiTimeoutMs");
  positive(config.connectTimeoutMs, "connectTimeoutMs");
  if (
    config.ensureQueueRetryMs !== undefined &&
    (!Number.isInteger(config.ensureQueueRetryMs) || config.ensureQueueRetryMs < 0)
  ) {
    throw new ConfigError(
      "nats transport: ensureQueueRetryMs must be a non-negative integer of milliseconds",
    );
  }
  if (config.storage !== undefined && config.storage !== "file" && config.storage !== "memory") {
    throw new ConfigError('nats transport: storage must be "file" or "memory"');
  }
  if (
    config.replicas !== undefined &&
    (!Number.isInteger(config.replicas) || config.replicas < 1 || config.replicas > 5)
  ) {
    throw new ConfigError("nats transport: replicas must be an integer from 1 to 5");
  }
  return servers;
}

/**
 * Whether a failed JetStream call may succeed if tried again shortly: the
 * server did not answer in time, or said it is temporarily unable (no
 * leader, peers missing, stream or consumer offline); with
 * `noResponderIsTransient`, also no JetStream responder at all (which, once
 * JetStream was seen working, means a cluster in transition). Walks the
 * causes, since the error may already be mapped.
 */
/** Whether `error` or one of its causes is the JetStream API error `code`. */
function hasApiCode(driver: Driver, error: unknown, code: number): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (apiCode(driver, e) === code) return true;
  }
  return false;
}

function isTransient(driver: Driver, error: unknown, noResponderIsTransient: boolean): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof TimeoutError || isTimeout(driver, e)) return true;
    if (noResponderIsTransient && e.name === "JetStreamNotEnabled") return true;
    const code = apiCode(driver, e);
    if (code !== undefined && TRANSIENT_API_CODES.has(code)) return true;
  }
  return false;
}

/**
 * A failed connect explained as a TLS failure, when it is one: this client
 * refused the server's certificate (node says so at once), or the server
 * refused this client's. The latter reaches nats.js only as a connect
 * timeout (it misses the TLS 1.3 alert), so on a timeout with TLS in play
 * the handshake is repeated by hand to learn what the server said.
 */
async function tlsFailure(
  driver: Driver,
  error: unknown,
  servers: readonly string[],
  config: NatsTransportConfig,
  shown: string,
): Promise<TlsHandshakeError | undefined> {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string" && UNTRUSTED_SERVER_CODES.test(code)) {
      return new TlsHandshakeError(
        "server-untrusted",
        `cannot connect to NATS at ${shown}: the TLS handshake failed because this client does not trust the server's certificate (${describeCause(e)}, ${code}); set tls.ca (broker.tls.ca in a swarm file) to the CA that signed it, and check that the certificate names the host you connect to and has not expired`,
        { cause: error },
      );
    }
  }
  const usesTls = config.tls !== undefined || servers.some((url) => url.startsWith("tls://"));
  if (!usesTls || !isTimeout(driver, error)) return undefined;
  for (const url of servers.slice(0, 3)) {
    const endpoint = hostAndPort(url);
    if (!endpoint) continue;
    const found = await diagnoseNatsTls({
      ...endpoint,
      ...(config.tls?.ca === undefined ? {} : { ca: config.tls.ca }),
      ...(config.tls?.cert === undefined ? {} : { cert: config.tls.cert }),
      ...(config.tls?.key === undefined ? {} : { key: config.tls.key }),
      timeoutMs: Math.min(config.connectTimeoutMs ?? 10_000, 5_000),
    });
    if (found.kind === "refused-by-server") {
      const fix =
        config.tls?.cert === undefined
          ? "it requires a client certificate: set tls.cert and tls.key (broker.tls.cert and broker.tls.key in a swarm file) to a certificate signed by a CA the server trusts"
          : "check that tls.cert (broker.tls.cert) was signed by a CA the server trusts (its ca_file), matches tls.key, and has not expired";
      return new TlsHandshakeError(
        "server-refused",
        `cannot connect to NATS at ${shown}: the server refused the TLS handshake (${found.detail}); ${fix}`,
        { cause: error },
      );
    }
    if (found.kind === "server-untrusted") {
      return new TlsHandshakeError(
        "server-untrusted",
        `cannot connect to NATS at ${shown}: the TLS handshake failed because this client does not trust the server's certificate (${found.detail}); set tls.ca (broker.tls.ca in a swarm file) to the CA that signed it`,
        { cause: error },
      );
    }
    if (found.kind !== "unknown") return undefined;
  }
  return undefined;
}

/** Host and port of a server URL (`nats://h:p`, `tls://h:p`, `h:p`). */
function hostAndPort(url: string): { host: string; port: number } | undefined {
  try {
    const parsed = new URL(url.includes("://") ? url : `nats://${url}`);
    const host = parsed.hostname.replace(/^\[|\]$/g, "");
    return { host, port: Number(parsed.port || 4222) };
  } catch {
    return undefined;
  }
}

/** PEM text goes as is; anything else is a file path. */
function tlsOptions(tls: NatsTlsConfig): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (value: string | undefined, inline: string, file: string) => {
    if (value === undefined) return;
    if (value.includes("-----BEGIN")) out[inline] = value;
    else out[file] = value;
  };
  put(tls.ca, "ca", "caFile");
  put(tls.cert, "cert", "certFile");
  put(tls.key, "key", "keyFile");
  return out;
}

/** A driver error's message without anything that could be a credential. */
function describeCause(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return redactUrl(message);
}
