import type { Message as AmqpMessage, ConfirmChannel, Options } from "amqplib";
import { TransportError } from "../../errors/index.js";
import type { ChannelSlot } from "./channel-slot.js";
import { InternalHeaders } from "./headers.js";

/**
 * What became of a confirmed publish: stored (`routed`), refused because no
 * queue is bound (`returned`: a mandatory message came back), or refused by a
 * queue (`nacked`: a full queue with `reject-publish`, or a broker failure).
 */
export type PublishOutcome = "routed" | "returned" | "nacked";

export interface ConfirmedPublishOptions extends Options.Publish {
  readonly headers: Record<string, string>;
}

/**
 * Publishes on a confirm channel and reports each message's fate. RabbitMQ
 * sends `basic.return` for an unroutable mandatory message before its
 * `basic.ack`, so a return seen by the time the ack arrives belongs to that
 * publish; a per-publish token in the headers ties them together.
 */
export class ConfirmPublisher {
  readonly #returned = new Set<string>();
  readonly #inFlight = new Set<Promise<PublishOutcome>>();
  #next = 0;

  constructor(private readonly slot: ChannelSlot<ConfirmChannel>) {}

  /** Listens for returns on a freshly opened confirm channel (the slot's setup hook). */
  readonly watch = (channel: ConfirmChannel): void => {
    channel.on("return", (message: AmqpMessage) => {
      const token = message.properties.headers?.[InternalHeaders.publish];
      if (typeof token === "string") this.#returned.add(token);
    });
  };

  publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: ConfirmedPublishOptions,
  ): Promise<PublishOutcome> {
    const done = this.#publish(exchange, routingKey, content, options);
    this.#inFlight.add(done);
    const forget = () => this.#inFlight.delete(done);
    done.then(forget, forget);
    return done;
  }

  /** Resolves when every publish started so far has its confirm (or failed). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
  }

  async #publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: ConfirmedPublishOptions,
  ): Promise<PublishOutcome> {
    const channel = await this.slot.get();
    const token = String(++this.#next);
    const headers = { ...options.headers, [InternalHeaders.publish]: token };
    return new Promise<PublishOutcome>((resolve, reject) => {
      try {
        channel.publish(exchange, routingKey, content, { ...options, headers }, (error) => {
          const returned = this.#returned.delete(token);
          if (error == null) resolve(returned ? "returned" : "routed");
          else if (/nack/i.test(String((error as Error).message))) resolve("nacked");
          else {
            reject(
              new TransportError(
                "the channel closed before RabbitMQ confirmed the message; it may or may not be stored",
                { cause: error },
              ),
            );
          }
        });
      } catch (error) {
        this.#returned.delete(token);
        reject(
          new TransportError("could not publish: the channel is closed", {
            cause: error,
          }),
        );
      }
    });
  }
}
