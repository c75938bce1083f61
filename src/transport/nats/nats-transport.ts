import { type Clock, systemClock } from "../../core/clock.js";
import { ClosedError, ConfigError, TransportError } from "../../errors/index.js";
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
import { QUEUE_NAME, validateConsumeOptions } from "../queue-config.js";
import { redriveMsgId } from "../settlement.js";
import { assertSubject } from "../subject.js";
import { NatsDefaults, type NatsTransportConfig, validateTransportConfig } from "./config.js";
import { type NatsSession, openSession } from "./connection.js";
import { IdleQueueWatch } from "./consumer-health.js";
import { CoreMessaging } from "./core-messaging.js";
import type { NatsConnection } from "./driver.js";
import { describeCause } from "./errors.js";
import { type ConsumerHost, NatsConsumer } from "./nats-consumer.js";
import { OwedDeadLetters } from "./owed-dead-letters.js";
import { DurablePublisher, fromNatsReceipt } from "./publisher.js";
import { ReleasedDeliveries } from "./released-deliveries.js";
import { ReplyInbox } from "./reply-inbox.js";
import {
  ReplicationUnsafeError,
  replicationProblem,
  SyncNotStrictError,
  syncProblem,
} from "./sync-check.js";
import { NatsTopology } from "./topology.js";

const FEATURES: TransportFeatures = Object.freeze({
  durableAcrossRestart: true,
  // JetStream takes a lease back only when its ack deadline passes.
  releasesOnClose: false,
});

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
 * - A dead letter the server refuses (its queue full or gone) is tried again
 *   while the message stays leased; then a copy owing it is parked at the
 *   tail of the message's queue (`conclave-nats-dead-reason`, ...), or, if
 *   that is refused too, the message is given back and remembered here as
 *   owing it. Either way its handler does not run again (see
 *   `dead-letter-move.ts`, and `owed-dead-letters.ts` for what a crash costs).
 * - A closed consumer's unsettled messages come back after their ack
 *   deadline, not at once (`features.releasesOnClose` is false).
 * - The connection reconnects forever; pulls resume once it is back.
 *
 * Durability: with `storage: "file"` an acknowledged enqueue is in the
 * server's files and survives a crash of the server process. To also survive
 * a power loss, make the server fsync every write: `jetstream { sync_interval:
 * always }` in nats-server.conf (nats-server 2.10+; by default it syncs every
 * two minutes), or run replicas: 3 on a cluster. With `syncEveryWrite` the
 * transport reports a server too old for that setting (see
 * docs/RELIABILITY.md, "Durability settings"). nats-server 2.9 writes
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
  return new NatsTransport(await openSession(config, servers), config);
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
  readonly features: TransportFeatures;

  get maxMessageBytes(): number | undefined {
    return this.#nc.info?.max_payload;
  }
  readonly #nc: NatsConnection;
  readonly #clock: Clock;
  readonly #report: (error: Error) => void;
  readonly #core: CoreMessaging;
  readonly #topology: NatsTopology;
  readonly #publisher: DurablePublisher;
  readonly #consumers = new Set<NatsConsumer>();
  readonly #host: ConsumerHost;
  /** Where the answers to enqueues and acks arrive. */
  readonly #replies: ReplyInbox;
  #draining = false;
  #closed = false;
  #shutdown: Promise<void> | undefined;
  readonly #closedPromise: Promise<Error | undefined>;

  constructor(session: NatsSession, config: NatsTransportConfig) {
    const { driver, nc } = session;
    this.features = Object.freeze({
      ...FEATURES,
      watchSent: config.watchSent ?? (config.replicas ?? 1) > 1,
    });
    this.#nc = nc;
    this.#clock = config.clock ?? systemClock;
    this.#report = createErrorReporter(config.onError, "nats transport");
    this.#core = new CoreMessaging(driver, nc, this.#report);
    this.#topology = new NatsTopology({
      ...session,
      clock: this.#clock,
      dedupWindowMs: config.dedupWindowMs ?? NatsDefaults.dedupWindowMs,
      storage: config.storage ?? "file",
      replicas: config.replicas ?? 1,
      ensureQueueRetryMs: config.ensureQueueRetryMs ?? NatsDefaults.ensureQueueRetryMs,
      report: this.#report,
      isClosed: () => this.#closed,
    });
    this.#replies = new ReplyInbox(driver, nc, this.#clock);
    this.#publisher = new DurablePublisher(
      driver,
      this.#replies,
      config.apiTimeoutMs ?? NatsDefaults.apiTimeoutMs,
      (subject) => this.#topology.queueFull(subject),
      (subject) => this.#topology.declaredQueueOf(subject),
      () => nc.info?.max_payload,
    );
    if (config.syncEveryWrite) this.#checkSync(nc, config.replicas ?? 1);
    if ((config.replicas ?? 1) > 1) this.#checkReplication(nc);
    this.#closedPromise = nc.closed().then((error) => {
      const ended = this.#closed ? undefined : error;
      this.#markClosed();
      if (!ended) return undefined;
      return new TransportError(`the connection to NATS ended: ${describeCause(ended)}`, {
        cause: ended,
      });
    });
    const topology = this.#topology;
    // Only a replicated queue can have a consumer reading a stale copy of its stream.
    const idleQueues =
      (config.replicas ?? 1) > 1
        ? new IdleQueueWatch({
            clock: this.#clock,
            positions: (queue) => topology.positions(queue),
            moveConsumerLeader: (queue) => topology.moveConsumerLeader(queue),
            requeueStranded: (queue, upTo) => this.#requeueStranded(queue, upTo),
            report: this.#report,
            isOpen: () => !this.#closed && !this.#draining,
          })
        : undefined;
    this.#host = {
      driver,
      clock: this.#clock,
      settings: (queue) => topology.settings(queue),
      cachedSettings: (queue) => topology.cachedSettings(queue),
      pullConsumer: (settings) => topology.pullConsumer(settings),
      idle: (queue) => idleQueues?.idle(queue),
      publishDeadLetter: async (subject, data, msgId, headers) => {
        await this.#publisher.publish(subject, data, msgId, headers);
      },
      completeDeadLetter: (stream, seq, msgId) =>
        topology.removeStored(stream, seq, msgId, "removing the original of a dead letter"),
      confirmAck: (reply, queue) => this.#publisher.confirmAck(reply, queue),
      flush: () => this.#nc.flush(),
      report: this.#report,
      detached: (consumer) => this.#consumers.delete(consumer),
      isClosed: () => this.#nc.isClosed(),
      released: new ReleasedDeliveries(),
      owed: new OwedDeadLetters(),
      maxPayload: () => this.#nc.info?.max_payload,
    };
  }

  // ---- core messaging -------------------------------------------------------

  publish(subject: string, data: Uint8Array, options?: PublishOptions): void {
    this.#open();
    this.#core.publish(subject, data, options);
  }

  subscribe(pattern: string, handler: MessageHandler, options?: SubscribeOptions): Subscription {
    this.#open();
    if (this.#draining) throw new ClosedError("the NATS transport (draining)");
    return this.#core.subscribe(pattern, handler, options);
  }

  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Message> {
    this.#open();
    return this.#core.request(subject, data, options);
  }

  // ---- durable queues -------------------------------------------------------

  async ensureQueue(config: QueueConfig): Promise<void> {
    this.#open();
    await this.#topology.ensureQueue(config);
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
    return this.#publisher.publish(subject, data, options.msgId, options.headers);
  }

  async holds(receipt: string, msgId: string): Promise<boolean | undefined> {
    this.#open();
    const at = fromNatsReceipt(receipt);
    if (at === undefined) {
      throw new ConfigError(
        `"${receipt}" is not a receipt of a NATS enqueue (<sequence>:<stream>)`,
      );
    }
    return this.#topology.holds(at.stream, at.seq, msgId);
  }

  consume(queue: string, handler: DeliveryHandler, options: ConsumeOptions): Consumer {
    this.#open();
    if (this.#draining) throw new ClosedError("the NATS transport (draining)");
    if (!QUEUE_NAME.test(queue)) {
      throw new ConfigError(`queue name "${queue}" must be 1-128 letters, digits, '_' or '-'`);
    }
    validateConsumeOptions(options);
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
    let attached = 0;
    for (const c of this.#consumers) if (c.queue === queue) attached++;
    return this.#topology.queueInfo(queue, attached);
  }

  /** Deletes the queue's stream; false when there was none. */
  async deleteQueue(queue: string): Promise<boolean> {
    this.#open();
    return this.#topology.deleteQueue(queue);
  }

  // ---- lifecycle ------------------------------------------------------------

  drain(): Promise<void> {
    if (this.#closed) return this.#shutdown ?? Promise.resolve();
    if (this.#shutdown) return this.#shutdown;
    this.#draining = true;
    this.#shutdown = (async () => {
      this.#core.unsubscribeAll();
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
      this.#core.unsubscribeAll();
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

  /**
   * Puts a stream's stranded messages (up to sequence `upTo`) back on their
   * queue as new messages, then removes the stranded copies: enqueued first,
   * so a failure in between leaves a repeat, never a loss. (A dead letter's
   * original that could not be removed is put back too: its task runs once
   * more, and a second dead letter of it is recorded under the same id.)
   */
  async #requeueStranded(queue: string, upTo: number): Promise<number> {
    let moved = 0;
    for await (const m of this.#topology.storedUpTo(queue, upTo)) {
      await this.#publisher.publish(m.subject, m.data, redriveMsgId(m.msgId, m.seq), m.headers);
      await this.#topology.removeStored(queue, m.seq, m.msgId, "removing a stranded message");
      moved++;
    }
    return moved;
  }

  /** Reports a server that cannot fsync every write although the swarm asked for it. */
  #checkSync(nc: NatsConnection, replicas: number): void {
    const problem = syncProblem(nc.info?.version, replicas);
    if (problem !== undefined) this.#report(new SyncNotStrictError(problem));
  }

  /** Reports a server too old to keep replicated queues' messages through a partition. */
  #checkReplication(nc: NatsConnection): void {
    const problem = replicationProblem(nc.info?.version);
    if (problem !== undefined) this.#report(new ReplicationUnsafeError(problem));
  }

  /** The connection ended (by us or by failure): refuse further calls, stop consumers. */
  #markClosed(): void {
    this.#closed = true;
    this.#replies.close();
    this.#core.forgetAll();
    for (const consumer of this.#consumers) void consumer.close();
  }

  #open(): void {
    if (this.#closed) throw new ClosedError("the NATS transport");
  }
}
