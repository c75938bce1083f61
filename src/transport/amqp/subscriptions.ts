import type { Channel, ConsumeMessage } from "amqplib";
import { toError } from "../../errors/index.js";
import type { Message, MessageHandler } from "../port.js";
import { ChannelSlot } from "./channel-slot.js";
import { mapAmqpError } from "./errors.js";
import { readHeaders } from "./headers.js";
import { bindingKey, groupQueueName, replySubject } from "./topology.js";

/** Attempts to set a subscription up when its channel keeps dying under it. */
const MAX_ATTEMPTS = 3;

/** A core subscription as the adapter holds it. */
export interface ActiveSubscription {
  readonly pattern: string;
  readonly group: string | undefined;
  readonly handler: MessageHandler;
  active: boolean;
  consumerTag: string | undefined;
  channel: Channel | undefined;
}

/**
 * Core (at-most-once) subscriptions, all on one channel with `noAck`
 * consumers: a plain subscription gets an exclusive, auto-delete,
 * server-named queue bound with its pattern; a queue group shares one
 * auto-delete queue named from the group and pattern, so RabbitMQ hands each
 * message to one member. If the server closes the channel (e.g. a group queue
 * auto-deleted under a joining member), every live subscription is set up
 * again on a new one.
 */
export class SubscriptionManager {
  readonly #subs = new Set<ActiveSubscription>();
  readonly #settingUp = new Set<Promise<void>>();
  readonly #slot: ChannelSlot<Channel>;

  constructor(
    private readonly host: {
      readonly exchange: string;
      openChannel(): Promise<Channel>;
      isOpen(): boolean;
      report(error: Error): void;
    },
  ) {
    this.#slot = new ChannelSlot(host.openChannel, {
      onError: (error) => host.report(mapAmqpError(error, "serving subscriptions")),
      onClose: (channel) => this.#lost(channel),
    });
  }

  get size(): number {
    return this.#subs.size;
  }

  add(pattern: string, handler: MessageHandler, group: string | undefined): ActiveSubscription {
    const sub: ActiveSubscription = {
      pattern,
      group,
      handler,
      active: true,
      consumerTag: undefined,
      channel: undefined,
    };
    this.#subs.add(sub);
    this.#attach(sub);
    return sub;
  }

  remove(sub: ActiveSubscription): void {
    if (!sub.active) return;
    sub.active = false;
    this.#subs.delete(sub);
    const { channel, consumerTag } = sub;
    sub.channel = undefined;
    sub.consumerTag = undefined;
    // Cancelling the last consumer deletes its auto-delete queue.
    if (channel && consumerTag && channel === this.#slot.current) {
      channel.cancel(consumerTag).catch(() => undefined);
    }
  }

  removeAll(): void {
    for (const sub of [...this.#subs]) this.remove(sub);
  }

  async dispose(): Promise<void> {
    for (const sub of this.#subs) sub.active = false;
    this.#subs.clear();
    await this.#slot.dispose();
  }

  /**
   * Resolves once every subscription started so far is live (or has failed),
   * undefined when none is being set up. Publishes and requests from this
   * connection wait for it, so that, as on NATS, a subscription made before a
   * publish on the same connection sees that publish.
   */
  settling(): Promise<void> | undefined {
    if (this.#settingUp.size === 0) return undefined;
    return Promise.allSettled([...this.#settingUp]).then(() => undefined);
  }

  #attach(sub: ActiveSubscription): void {
    const done = this.#attachWithRetries(sub);
    this.#settingUp.add(done);
    done.finally(() => this.#settingUp.delete(done));
  }

  async #attachWithRetries(sub: ActiveSubscription): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let used: Channel | undefined;
      try {
        await this.#setup(sub, (channel) => {
          used = channel;
        });
        return;
      } catch (error) {
        if (!sub.active || !this.host.isOpen()) return;
        // The channel died under the setup (perhaps by this very error, e.g. a
        // group queue auto-deleted between declare and consume): try again on
        // a new one, a few times.
        if (used !== undefined && used !== this.#slot.current && attempt < MAX_ATTEMPTS) continue;
        this.host.report(mapAmqpError(error, `subscribing to "${sub.pattern}"`));
        return;
      }
    }
  }

  async #setup(sub: ActiveSubscription, using: (channel: Channel) => void): Promise<void> {
    const channel = await this.#slot.get();
    using(channel);
    if (!sub.active) return;
    const queue =
      sub.group === undefined
        ? (await channel.assertQueue("", { exclusive: true, autoDelete: true, durable: false }))
            .queue
        : (
            await channel.assertQueue(groupQueueName(this.host.exchange, sub.group, sub.pattern), {
              exclusive: false,
              autoDelete: true,
              durable: false,
            })
          ).queue;
    await channel.bindQueue(queue, this.host.exchange, bindingKey(sub.pattern));
    const { consumerTag } = await channel.consume(queue, (message) => this.#deliver(sub, message), {
      noAck: true,
    });
    if (!sub.active) {
      channel.cancel(consumerTag).catch(() => undefined);
      return;
    }
    sub.channel = channel;
    sub.consumerTag = consumerTag;
  }

  #deliver(sub: ActiveSubscription, message: ConsumeMessage | null): void {
    if (message === null) {
      // The server cancelled the consumer (its queue was deleted): set it up again.
      if (sub.active && this.host.isOpen()) {
        sub.channel = undefined;
        sub.consumerTag = undefined;
        this.#attach(sub);
      }
      return;
    }
    if (!sub.active) return;
    const reply = replySubject(message.properties.replyTo, message.properties.correlationId);
    const headers = readHeaders(message.properties.headers as Record<string, unknown> | undefined);
    const delivered: Message =
      reply === undefined
        ? { subject: message.fields.routingKey, data: message.content, headers }
        : { subject: message.fields.routingKey, data: message.content, headers, reply };
    // Handlers never run on amqplib's stack, and their failures never reach the channel.
    queueMicrotask(() => {
      if (!sub.active) return;
      try {
        const result = sub.handler(delivered);
        if (result && typeof result.then === "function") {
          result.then(undefined, (error: unknown) => this.host.report(toError(error)));
        }
      } catch (error) {
        this.host.report(toError(error));
      }
    });
  }

  #lost(channel: Channel): void {
    const lost: ActiveSubscription[] = [];
    for (const sub of this.#subs) {
      if (sub.channel === channel) {
        sub.channel = undefined;
        sub.consumerTag = undefined;
        lost.push(sub);
      }
    }
    const affected = lost.length > 0;
    if (!affected || !this.host.isOpen()) return;
    // Only subscriptions that were live on it; those still being set up retry on their own.
    for (const sub of lost) this.#attach(sub);
  }
}
