import { ConfigError, toError } from "../../errors/index.js";
import type {
  Headers,
  Message,
  MessageHandler,
  PublishOptions,
  RequestOptions,
  SubscribeOptions,
  Subscription,
} from "../port.js";
import { assertPattern, assertSubject } from "../subject.js";
import type { Driver, Msg, NatsConnection, Subscription as NatsSubscription } from "./driver.js";
import { mapError, mapRequestError } from "./errors.js";
import { fromNatsHeaders, toNatsHeaders } from "./headers.js";

const QUEUE_GROUP = /^[A-Za-z0-9_\-.:$]{1,128}$/;
const EMPTY_HEADERS: Headers = Object.freeze({});

/**
 * Core messaging (`publish`, `subscribe`, `request`): plain NATS, at most
 * once. The transport checks that it is open before each call.
 */
export class CoreMessaging {
  readonly #driver: Driver;
  readonly #nc: NatsConnection;
  readonly #report: (error: Error) => void;
  readonly #subs = new Set<NatsSubscription>();

  constructor(driver: Driver, nc: NatsConnection, report: (error: Error) => void) {
    this.#driver = driver;
    this.#nc = nc;
    this.#report = report;
  }

  publish(subject: string, data: Uint8Array, options?: PublishOptions): void {
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

  /** Ends every subscription (the transport is closing). */
  unsubscribeAll(): void {
    for (const sub of this.#subs) {
      try {
        sub.unsubscribe();
      } catch {
        // Gone with the connection.
      }
    }
    this.#subs.clear();
  }

  /** Forgets every subscription: the connection ended and took them. */
  forgetAll(): void {
    this.#subs.clear();
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
}

function toMessage(msg: Msg): Message {
  const headers = msg.headers ? fromNatsHeaders(msg.headers) : EMPTY_HEADERS;
  return msg.reply
    ? { subject: msg.subject, data: msg.data, headers, reply: msg.reply }
    : { subject: msg.subject, data: msg.data, headers };
}
