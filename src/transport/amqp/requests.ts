import { randomBytes } from "node:crypto";
import type { Message as AmqpMessage, Channel, ConsumeMessage } from "amqplib";
import type { Clock } from "../../core/clock.js";
import { NoRespondersError, TransportError } from "../../errors/index.js";
import { requestTimeoutError } from "../failures.js";
import type { Headers, Message } from "../port.js";
import { ChannelSlot } from "./channel-slot.js";
import { mapAmqpError } from "./errors.js";
import { readHeaders, writeHeaders } from "./headers.js";
import { replySubject } from "./topology.js";

const DIRECT_REPLY_TO = "amq.rabbitmq.reply-to";

interface PendingRequest {
  readonly subject: string;
  readonly resolve: (message: Message) => void;
  readonly reject: (error: Error) => void;
  readonly cancelTimer: () => void;
}

/**
 * Request/reply over RabbitMQ's direct reply-to: one channel consumes
 * `amq.rabbitmq.reply-to` (no queue is declared) and publishes every request
 * with `mandatory`, so a request no queue takes comes back as `basic.return`,
 * which becomes `NoRespondersError`. Replies are matched by correlation id.
 */
export class RequestManager {
  readonly #pending = new Map<string, PendingRequest>();
  readonly #slot: ChannelSlot<Channel>;

  constructor(
    private readonly host: {
      readonly exchange: string;
      readonly clock: Clock;
      openChannel(): Promise<Channel>;
      report(error: Error): void;
    },
  ) {
    this.#slot = new ChannelSlot(host.openChannel, {
      setup: async (channel) => {
        channel.on("return", (message: AmqpMessage) => this.#returned(message));
        await channel.consume(DIRECT_REPLY_TO, (message) => this.#reply(message), {
          noAck: true,
        });
      },
      onError: (error) => host.report(mapAmqpError(error, "waiting for replies")),
      onClose: () =>
        this.failAll(
          new TransportError("the reply channel closed before the reply came; send again"),
        ),
    });
  }

  request(
    subject: string,
    content: Buffer,
    timeoutMs: number,
    headers: Headers | undefined,
    /** Sends only after this settles (subscriptions still being set up). */
    after?: Promise<void>,
  ): Promise<Message> {
    const id = randomBytes(12).toString("base64url");
    return new Promise<Message>((resolve, reject) => {
      const cancelTimer = this.host.clock.setTimer(() => {
        if (!this.#pending.delete(id)) return;
        reject(requestTimeoutError(subject, timeoutMs));
      }, timeoutMs);
      this.#pending.set(id, { subject, resolve, reject, cancelTimer });
      Promise.resolve(after)
        .then(() => this.#slot.get())
        .then(
          (channel) => {
            if (!this.#pending.has(id)) return;
            try {
              channel.publish(this.host.exchange, subject, content, {
                headers: writeHeaders(headers),
                replyTo: DIRECT_REPLY_TO,
                correlationId: id,
                mandatory: true,
              });
            } catch (error) {
              this.#settle(id)?.reject(mapAmqpError(error, `sending a request on "${subject}"`));
            }
          },
          (error: unknown) => {
            this.#settle(id)?.reject(mapAmqpError(error, `sending a request on "${subject}"`));
          },
        );
    });
  }

  failAll(error: Error): void {
    for (const id of [...this.#pending.keys()]) this.#settle(id)?.reject(error);
  }

  async dispose(error: Error): Promise<void> {
    this.failAll(error);
    await this.#slot.dispose();
  }

  #settle(id: string): PendingRequest | undefined {
    const pending = this.#pending.get(id);
    if (!pending) return undefined;
    this.#pending.delete(id);
    pending.cancelTimer();
    return pending;
  }

  #reply(message: ConsumeMessage | null): void {
    if (message === null) return;
    const id = message.properties.correlationId;
    if (typeof id !== "string") return;
    const pending = this.#settle(id);
    if (!pending) return; // late, after a timeout
    pending.resolve({
      subject: replySubject(message.fields.routingKey, id) ?? pending.subject,
      data: message.content,
      headers: readHeaders(message.properties.headers as Record<string, unknown> | undefined),
    });
  }

  #returned(message: AmqpMessage): void {
    const id = message.properties.correlationId;
    if (typeof id !== "string") return;
    const pending = this.#settle(id);
    pending?.reject(new NoRespondersError(pending.subject));
  }
}
