import type { Channel, GetMessage } from "amqplib";
import type { Clock } from "../../core/clock.js";
import { ConfigError, TransportError } from "../../errors/index.js";
import type { QueueConfig } from "../port.js";
import { ChannelSlot } from "./channel-slot.js";
import type { ConfirmPublisher } from "./confirm-publisher.js";
import { mapAmqpError, replyCode } from "./errors.js";
import { InternalHeaders } from "./headers.js";
import {
  assertDeadLetterRoutable,
  decodeStoredConfig,
  encodeStoredConfig,
  normalise,
  sameConfig,
  validateQueueConfig,
} from "./queue-config.js";
import {
  bindingKey,
  CONFIG_QUEUE_ARGUMENTS,
  configQueueName,
  DELAY_QUEUE_ARGUMENTS,
  delayBucket,
  delayExchangeName,
  delayQueueName,
  workQueueArguments,
} from "./topology.js";

/** What the declarations need from the transport around them. */
export interface DeclarationsHost {
  readonly exchange: string;
  readonly clock: Clock;
  readonly publisher: ConfirmPublisher;
  openChannel(): Promise<Channel>;
  /** Throws `ClosedError` once the transport is closed. */
  assertOpen(): void;
}

/** Resolves after `ms` on the given clock. */
function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(resolve, ms));
}

/** Attempts to read a queue's stored settings while other readers hold them. */
const CONFIG_READ_ATTEMPTS = 20;

/**
 * The topology a connection declares, on its own admin channel: the
 * exchange, work queues with their settings stored in the broker (so a
 * consumer on any connection can read them), and delay queues. Keeps the
 * settings of every queue declared or read on this connection.
 */
export class QueueDeclarations {
  readonly #host: DeclarationsHost;
  readonly #exchange: string;
  readonly #admin: ChannelSlot<Channel>;
  readonly #configs = new Map<string, QueueConfig>();
  readonly #loading = new Map<string, Promise<QueueConfig>>();
  readonly #delayRoutes = new Map<number, Promise<void>>();
  #adminChain: Promise<unknown> = Promise.resolve();

  constructor(host: DeclarationsHost) {
    this.#host = host;
    this.#exchange = host.exchange;
    // The admin channel's errors always reach the operation that caused them.
    this.#admin = new ChannelSlot(() => host.openChannel());
  }

  /** Declares the durable topic exchange every subject is published to. */
  async declareExchange(): Promise<void> {
    await this.run((channel) => channel.assertExchange(this.#exchange, "topic", { durable: true }));
  }

  /** The settings of every queue this connection declared or read. */
  configs(): Iterable<QueueConfig> {
    return this.#configs.values();
  }

  /** Declares a work queue (quorum queue, binding, stored settings), or updates it. */
  async ensureQueue(config: QueueConfig): Promise<void> {
    validateQueueConfig(config);
    const wanted = normalise(config);
    assertDeadLetterRoutable(wanted, this.#configs.values());
    const configQueue = configQueueName(wanted.name);
    const write = await this.run(async (channel) => {
      const declared = await channel.assertQueue(configQueue, {
        durable: true,
        arguments: CONFIG_QUEUE_ARGUMENTS,
      });
      let previous = this.#configs.get(wanted.name);
      if (!previous && declared.messageCount > 0) {
        previous = await this.#readStoredConfig(channel, configQueue);
      }
      try {
        await channel.assertQueue(wanted.name, {
          durable: true,
          arguments: workQueueArguments(wanted.maxPending),
        });
      } catch (error) {
        if (replyCode(error) !== 406) throw error;
        throw new ConfigError(
          `queue "${wanted.name}" already exists in RabbitMQ with other arguments (a different maxPending, or not a quorum queue); RabbitMQ cannot change them in place: delete the queue, or change its limit with a policy`,
          [],
          { cause: error },
        );
      }
      await channel.bindQueue(wanted.name, this.#exchange, bindingKey(wanted.subjects));
      if (previous && previous.subjects !== wanted.subjects) {
        await channel.unbindQueue(wanted.name, this.#exchange, bindingKey(previous.subjects));
      }
      if (previous && sameConfig(previous, wanted)) return false;
      await channel.purgeQueue(configQueue);
      return true;
    }, `declaring queue "${wanted.name}"`);
    if (write) {
      const outcome = await this.#host.publisher.publish(
        "",
        configQueue,
        encodeStoredConfig(wanted, this.#host.clock.now()),
        { headers: {}, persistent: true, mandatory: true },
      );
      if (outcome !== "routed") {
        throw new TransportError(
          `could not store the settings of queue "${wanted.name}" in RabbitMQ (${outcome}); declare it again`,
        );
      }
    }
    this.#configs.set(wanted.name, wanted);
  }

  /** The latest settings this connection knows, so an `ensureQueue` update applies at once. */
  knownConfig(queue: string): QueueConfig | undefined {
    return this.#configs.get(queue);
  }

  /** The queue's settings: known here, or read from the broker; `ConfigError` when it is not declared. */
  queueConfig(queue: string): Promise<QueueConfig> {
    const known = this.#configs.get(queue);
    if (known) return Promise.resolve(known);
    let loading = this.#loading.get(queue);
    if (!loading) {
      loading = this.#loadConfig(queue).finally(() => this.#loading.delete(queue));
      this.#loading.set(queue, loading);
    }
    return loading;
  }

  /** Declares (once) the delay queue for `delayMs`; returns the exchange and bucket header value. */
  async delayRoute(delayMs: number): Promise<{ exchange: string; bucket: string }> {
    const k = delayBucket(delayMs);
    let declared = this.#delayRoutes.get(k);
    if (!declared) {
      const exchange = delayExchangeName(this.#exchange);
      const queue = delayQueueName(this.#exchange, k);
      declared = this.run(async (channel) => {
        await channel.assertExchange(exchange, "headers", { durable: true });
        await channel.assertQueue(queue, { durable: true, arguments: DELAY_QUEUE_ARGUMENTS });
        await channel.bindQueue(queue, exchange, "", {
          "x-match": "all",
          [InternalHeaders.delay]: String(k),
        });
      }, `declaring delay queue "${queue}"`);
      this.#delayRoutes.set(k, declared);
      declared.catch(() => this.#delayRoutes.delete(k));
    }
    await declared;
    return { exchange: delayExchangeName(this.#exchange), bucket: String(k) };
  }

  /**
   * Runs an operation on the admin channel, one at a time: a failing
   * operation makes RabbitMQ close the channel, and must not take others
   * with it. The next operation gets a new channel.
   */
  run<T>(operation: (channel: Channel) => Promise<T>, what = "managing queues"): Promise<T> {
    const run = this.#adminChain.then(async () => {
      this.#host.assertOpen();
      try {
        return await operation(await this.#admin.get());
      } catch (error) {
        throw mapAmqpError(error, what);
      }
    });
    this.#adminChain = run.catch(() => undefined);
    return run;
  }

  async #loadConfig(queue: string): Promise<QueueConfig> {
    const configQueue = configQueueName(queue);
    for (let attempt = 1; attempt <= CONFIG_READ_ATTEMPTS; attempt++) {
      const found = await this.run(async (channel) => {
        try {
          await channel.checkQueue(configQueue);
        } catch (error) {
          if (replyCode(error) === 404) return "missing" as const;
          throw error;
        }
        return (await this.#readStoredConfig(channel, configQueue)) ?? ("busy" as const);
      }, `reading the settings of queue "${queue}"`);
      if (found === "missing") {
        throw new ConfigError(`queue "${queue}" is not declared; call ensureQueue() first`);
      }
      if (found !== "busy") {
        const known = this.#configs.get(queue);
        if (known) return known;
        this.#configs.set(queue, found);
        return found;
      }
      // Another connection holds the settings message for a moment, or a
      // declaration is rewriting it: try again shortly.
      await sleep(this.#host.clock, 10 * attempt);
    }
    throw new ConfigError(
      `queue "${queue}": its stored settings could not be read; declare it again with ensureQueue()`,
    );
  }

  /**
   * Reads the settings message(s) of a queue without consuming them: gets
   * them unacked, then gives them back. With two copies (a racing update),
   * the newest wins.
   */
  async #readStoredConfig(channel: Channel, configQueue: string): Promise<QueueConfig | undefined> {
    const held: GetMessage[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const message = await channel.get(configQueue, { noAck: false });
        if (message === false) break;
        held.push(message);
      }
    } finally {
      for (const message of held) {
        try {
          channel.nack(message, false, true);
        } catch {
          // The channel died: RabbitMQ puts the message back by itself.
        }
      }
    }
    let best: { at: number; config: QueueConfig } | undefined;
    for (const message of held) {
      const stored = decodeStoredConfig(message.content);
      if (stored && (!best || stored.at >= best.at)) best = stored;
    }
    return best?.config;
  }

  dispose(): Promise<void> {
    return this.#admin.dispose();
  }
}
