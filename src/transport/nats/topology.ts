import type { Clock } from "../../core/clock.js";
import {
  ClosedError,
  ConfigError,
  QueueFullError,
  TimeoutError,
  TransportError,
} from "../../errors/index.js";
import type { Headers, QueueConfig, QueueInfo } from "../port.js";
import {
  deadLetterRoutedLocally,
  fullQueueError,
  QUEUE_NAME,
  unroutableDeadLetterError,
  validateQueueConfig,
} from "../queue-config.js";
import { subjectMatches } from "../subject.js";
import type { QueuePositions } from "./consumer-health.js";
import {
  ApiCode,
  apiCode,
  type Driver,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
  type PullConsumer,
} from "./driver.js";
import {
  describeCause,
  hasApiCode,
  isTransient,
  mapError,
  retryWhileUnavailable,
} from "./errors.js";
import { fromNatsHeaders, natsMsgId } from "./headers.js";
import {
  DURABLE,
  describeSettings,
  parseSettings,
  type QueueSettings,
  settingsOf,
} from "./queue-settings.js";

/** What the topology needs from the transport around it. */
export interface TopologyConfig {
  readonly driver: Driver;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /** For the JetStream API requests the manager has no call for (a consumer leader step-down). */
  readonly nc: NatsConnection;
  readonly clock: Clock;
  readonly dedupWindowMs: number;
  readonly storage: "file" | "memory";
  readonly replicas: number;
  readonly ensureQueueRetryMs: number;
  report(error: Error): void;
  /** True once the transport is closed: a declaration in progress stops retrying. */
  isClosed(): boolean;
}

/**
 * The durable queues on the server: each one JetStream work-queue stream
 * with one durable pull consumer (see `createNatsTransport` for the
 * mapping). Declares them, reads the settings of queues other nodes
 * declared, and answers what the transport asks about them.
 */
export class NatsTopology {
  readonly #driver: Driver;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #config: TopologyConfig;
  /** Queues declared through this transport, by name. */
  readonly #declared = new Map<string, QueueConfig>();
  /** Settings of every queue this transport has declared or consumed. */
  readonly #settings = new Map<string, QueueSettings>();

  constructor(config: TopologyConfig) {
    this.#config = config;
    this.#driver = config.driver;
    this.#js = config.js;
    this.#jsm = config.jsm;
  }

  /**
   * Declares the queue's stream and consumer, or updates them. While
   * JetStream cannot answer yet (a cluster electing a leader, a server
   * restarting) it retries with backoff for up to `ensureQueueRetryMs`.
   */
  async ensureQueue(config: QueueConfig): Promise<void> {
    validateQueueConfig(config);
    const retryMs = this.#config.ensureQueueRetryMs;
    let streamDeclared = false;
    await retryWhileUnavailable(
      async () => {
        streamDeclared = false;
        await this.#checkDeadLetterRoute(config);
        await this.#ensureStream(config);
        streamDeclared = true;
        await this.#ensureConsumer(config);
      },
      {
        clock: this.#config.clock,
        budgetMs: retryMs,
        retryable: (error) => {
          // The stream was declared a moment ago: a consumer call that cannot
          // find it reached a server that has not applied it yet (a cluster
          // still settling its leaders). Declaring again settles it, or
          // recreates a stream someone deleted meanwhile.
          const notVisibleYet =
            streamDeclared && hasApiCode(this.#driver, error, ApiCode.streamNotFound);
          if (this.#config.isClosed()) return false;
          return notVisibleYet || isTransient(this.#driver, error, true);
        },
        onFirstRetry: (error) =>
          this.#config.report(
            new TransportError(
              `ensureQueue("${config.name}"): JetStream cannot answer yet (${describeCause(error)}); retrying for up to ${retryMs} ms`,
              { cause: error },
            ),
          ),
        gaveUp: (error, attempts, elapsed) => this.#declareGaveUp(config, error, attempts, elapsed),
        afterWait: () => {
          if (this.#config.isClosed()) throw new ClosedError("the NATS transport");
        },
      },
    );
    this.#declared.set(config.name, config);
    this.#settings.set(config.name, settingsOf(config));
  }

  /** The latest settings known locally (an `ensureQueue` may update them while consuming). */
  cachedSettings(queue: string): QueueSettings | undefined {
    return this.#settings.get(queue);
  }

  /** The queue's settings: from this transport's `ensureQueue`, else read from the server. */
  async settings(queue: string): Promise<QueueSettings> {
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

  /** The driver's handle on the queue's durable pull consumer. */
  pullConsumer(settings: QueueSettings): Promise<PullConsumer> {
    return this.#js.consumers.get(settings.stream, settings.durable);
  }

  /** Removes message `seq` of `stream` if it is still the one with `msgId`; failures are reported. */
  async removeStored(stream: string, seq: number, msgId: string, what: string): Promise<void> {
    if (!QUEUE_NAME.test(stream)) return;
    try {
      const stored = await this.#jsm.streams.getMessage(stream, { seq });
      if (!stored) return;
      if (natsMsgId(stored.header, stream, stored.seq) !== msgId) return;
      await this.#jsm.streams.deleteMessage(stream, seq, false);
    } catch (error) {
      if (this.#isMissing(error) || apiCode(this.#driver, error) === ApiCode.noMessageFound) return;
      this.#config.report(mapError(this.#driver, error, what));
    }
  }

  /**
   * Whether `stream` still holds message `seq` with `msgId`: true while it
   * does; false when the server answers that it has no such message (or no
   * such stream) and the queue's dead-letter queue is empty; undefined when
   * it cannot tell: no answer now (no leader, a timeout), or dead letters
   * not yet recorded, among which the message may be (a message removed
   * from its queue as a dead letter is settled only once it is recorded).
   */
  async holds(stream: string, seq: number, msgId: string): Promise<boolean | undefined> {
    if (!QUEUE_NAME.test(stream)) return false;
    try {
      const stored = await this.#jsm.streams.getMessage(stream, { seq });
      if (stored && natsMsgId(stored.header, stream, stored.seq) === msgId) return true;
    } catch (error) {
      if (this.#isMissing(error)) return false;
      if (apiCode(this.#driver, error) !== ApiCode.noMessageFound) return undefined;
    }
    return (await this.#deadLettersPending(stream)) ? undefined : false;
  }

  /**
   * Whether the dead-letter queue of `queue` has messages its consumer has
   * not settled yet, delivered or not (true when that cannot be read). Not
   * what its stream holds: nats-server 2.9 can leave a stream holding
   * messages its consumer counts as acknowledged (CHAOS.md, Finding 19),
   * and two such dead letters kept every lost task "cannot tell", unsent,
   * for five minutes (chaos nats-r3-partition seed 1003, 2,000 tasks).
   */
  async #deadLettersPending(queue: string): Promise<boolean> {
    try {
      const { deadLetterSubject } = await this.settings(queue);
      const dlq = await this.#jsm.streams.find(deadLetterSubject);
      const consumer = await this.#jsm.consumers.info(dlq, DURABLE);
      return consumer.num_pending + consumer.num_ack_pending > 0;
    } catch {
      return true;
    }
  }

  /**
   * The messages `stream` holds from its first sequence up to `upTo`, read
   * one sequence at a time (a work-queue stream allows no second consumer),
   * at most `limit` sequences looked at.
   */
  async *storedUpTo(stream: string, upTo: number, limit = 100_000): AsyncGenerator<StoredMessage> {
    if (!QUEUE_NAME.test(stream)) return;
    const { state } = await this.#jsm.streams.info(stream);
    const last = Math.min(upTo, state.last_seq, state.first_seq + limit - 1);
    for (let seq = state.first_seq; seq <= last; seq++) {
      let stored: Awaited<ReturnType<JetStreamManager["streams"]["getMessage"]>>;
      try {
        stored = await this.#jsm.streams.getMessage(stream, { seq });
      } catch (error) {
        if (apiCode(this.#driver, error) === ApiCode.noMessageFound) continue;
        throw mapError(this.#driver, error, `reading message ${seq} of queue "${stream}"`);
      }
      if (!stored) continue;
      yield {
        seq,
        subject: stored.subject,
        data: stored.data,
        headers: fromNatsHeaders(stored.header),
        msgId: natsMsgId(stored.header, stream, stored.seq),
      };
    }
  }

  /**
   * `pending` is the stream's message count and `inFlight` the consumer's
   * `num_ack_pending`, both across every node; `attached` is how many
   * consumers this transport has on the queue.
   */
  async queueInfo(queue: string, attached: number): Promise<QueueInfo> {
    if (!QUEUE_NAME.test(queue)) throw new ConfigError(`queue "${queue}" is not declared`);
    try {
      const [stream, consumer] = await Promise.all([
        this.#jsm.streams.info(queue),
        this.#jsm.consumers.info(queue, DURABLE),
      ]);
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

  /** Where the queue's consumer and stream stand (consumer read first), for `consumer-health.ts`. */
  async positions(queue: string): Promise<QueuePositions> {
    const consumer = await this.#jsm.consumers.info(queue, DURABLE);
    const stream = await this.#jsm.streams.info(queue);
    return {
      streamLastSeq: stream.state.last_seq,
      streamMessages: stream.state.messages,
      delivered: consumer.delivered.stream_seq,
      pending: consumer.num_pending,
      ackPending: consumer.num_ack_pending,
    };
  }

  /**
   * Asks the server to hand the queue's consumer to a leader on another
   * replica (`$JS.API.CONSUMER.LEADER.STEPDOWN`); throws with the server's
   * reason when it refuses (a single server has no other replica).
   */
  async moveConsumerLeader(queue: string): Promise<void> {
    const answer = await this.#config.nc.request(
      `$JS.API.CONSUMER.LEADER.STEPDOWN.${queue}.${DURABLE}`,
      undefined,
      { timeout: 5_000 },
    );
    const body = answer.json<{ success?: boolean; error?: { description?: string } }>();
    if (body.success !== true) {
      throw new TransportError(
        `the NATS server did not move the consumer of queue "${queue}": ${body.error?.description ?? "no reason given"}`,
      );
    }
  }

  /** Deletes the queue's stream; false when there was none. */
  async deleteQueue(queue: string): Promise<boolean> {
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

  /** The queue this transport declared that takes `subject`, if any. */
  declaredQueueOf(subject: string): string | undefined {
    for (const config of this.#declared.values()) {
      if (subjectMatches(config.subjects, subject)) return config.name;
    }
    return undefined;
  }

  /** The error for an enqueue the server refused because a queue is full. */
  async queueFull(subject: string): Promise<Error> {
    const known = fullQueueError(this.#declared.values(), subject);
    if (known) return known;
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
    if (deadLetterRoutedLocally(config, this.#declared.values())) return;
    try {
      await this.#jsm.streams.find(config.deadLetterSubject);
      return;
    } catch (error) {
      if (!this.#isMissing(error)) {
        throw mapError(this.#driver, error, `ensureQueue("${config.name}")`);
      }
    }
    throw unroutableDeadLetterError(config);
  }

  async #ensureStream(config: QueueConfig): Promise<void> {
    const { RetentionPolicy, DiscardPolicy, StorageType } = this.#driver.jetstream;
    const { nanos } = this.#driver.core;
    const wanted = {
      subjects: [config.subjects],
      max_msgs: config.maxPending ?? -1,
      discard: config.maxPending === undefined ? DiscardPolicy.Old : DiscardPolicy.New,
      duplicate_window: nanos(this.#config.dedupWindowMs),
      num_replicas: this.#config.replicas,
    };
    const what = `ensureQueue("${config.name}")`;
    for (let attempt = 0; attempt < 2; attempt++) {
      const current = await this.#lookUp(
        () => this.#jsm.streams.info(config.name),
        ApiCode.streamNotFound,
        what,
      );
      try {
        if (!current) {
          await this.#jsm.streams.add({
            name: config.name,
            description: `conclave durable queue "${config.name}"`,
            retention: RetentionPolicy.Workqueue,
            storage: this.#config.storage === "memory" ? StorageType.Memory : StorageType.File,
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
        // nats-server 2.9 may say so as "name in use" or as "subjects
        // overlap" (the other node's stream, of this name, holds them now);
        // a real overlap with another queue fails the second attempt too.
        const raced = code === ApiCode.streamNameInUse || code === ApiCode.subjectsOverlap;
        if (raced && attempt === 0) continue;
        throw this.#streamError(config, error, what);
      }
    }
  }

  #declareGaveUp(config: QueueConfig, error: unknown, attempts: number, elapsed: number): Error {
    const message = `ensureQueue("${config.name}"): JetStream did not accept the queue in ${elapsed} ms (${attempts} attempts; last: ${describeCause(error)}); a cluster may still be electing a leader or have fewer than ${this.#config.replicas} servers up: check that most of its servers run, or raise ensureQueueRetryMs`;
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
    const current = await this.#lookUp(
      () => this.#jsm.consumers.info(config.name, DURABLE),
      ApiCode.consumerNotFound,
      what,
    );
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

  /** What `lookUp` answers, or undefined when the server says `missingCode` (not found). */
  async #lookUp<T>(
    lookUp: () => Promise<T>,
    missingCode: number,
    what: string,
  ): Promise<T | undefined> {
    try {
      return await lookUp();
    } catch (error) {
      if (apiCode(this.#driver, error) === missingCode) return undefined;
      throw mapError(this.#driver, error, what);
    }
  }

  #isMissing(error: unknown): boolean {
    const code = apiCode(this.#driver, error);
    if (code === ApiCode.streamNotFound || code === ApiCode.consumerNotFound) return true;
    return (
      error instanceof Error && /no stream matches subject|stream not found/i.test(error.message)
    );
  }
}

/** A message read back from a stream. */
export interface StoredMessage {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Headers;
  /** Its `Nats-Msg-Id`, or `<stream>:<seq>` when it has none. */
  readonly msgId: string;
}
