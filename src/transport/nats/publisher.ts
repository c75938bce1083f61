import { NoRespondersError, TransportError, UnroutableError } from "../../errors/index.js";
import type { EnqueueResult, Headers } from "../port.js";
import { ApiCode, type Driver, type Msg } from "./driver.js";
import { mapError } from "./errors.js";
import { toNatsHeaders } from "./headers.js";
import type { ReplyInbox } from "./reply-inbox.js";

/** The body of a JetStream ack. */
const ACK = new TextEncoder().encode("+ACK");

/**
 * The durable writes: JetStream publishes (enqueues, dead letters) and acks,
 * each waiting for the server's answer through the connection's reply inbox.
 */
export class DurablePublisher {
  readonly #driver: Driver;
  readonly #replies: ReplyInbox;
  readonly #apiTimeoutMs: number;
  readonly #queueFull: (subject: string) => Promise<Error>;

  constructor(
    driver: Driver,
    replies: ReplyInbox,
    apiTimeoutMs: number,
    queueFull: (subject: string) => Promise<Error>,
  ) {
    this.#driver = driver;
    this.#replies = replies;
    this.#apiTimeoutMs = apiTimeoutMs;
    this.#queueFull = queueFull;
  }

  /**
   * Stores a message durably: a JetStream publish deduplicated by `msgId`,
   * resolved once the server answered. Enqueues and dead letters go this way.
   */
  async publish(
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
  async confirmAck(reply: string, queue: string): Promise<void> {
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
}

/** A JetStream publish acknowledgement, or the API error the server answered with. */
export type PubAck =
  | {
      readonly ok: true;
      readonly stream: string;
      readonly seq: number;
      readonly duplicate: boolean;
    }
  | { readonly ok: false; readonly code: number; readonly description: string };

const replyDecoder = new TextDecoder();

/**
 * Reads JetStream's answer to a publish: `{"stream":"s","seq":7}` (with
 * `"duplicate":true` when the `Nats-Msg-Id` was seen within the window), or
 * `{"error":{"code":503,"err_code":10077,"description":"..."}}`.
 */
export function parsePubAck(data: Uint8Array): PubAck {
  let parsed: unknown;
  try {
    parsed = JSON.parse(replyDecoder.decode(data));
  } catch {
    return { ok: false, code: 0, description: "the server's answer to a publish is not JSON" };
  }
  if (parsed !== null && typeof parsed === "object") {
    const answer = parsed as {
      stream?: unknown;
      seq?: unknown;
      duplicate?: unknown;
      error?: { code?: unknown; err_code?: unknown; description?: unknown };
    };
    const error = answer.error;
    if (error !== undefined && error !== null) {
      const code = typeof error.err_code === "number" ? error.err_code : error.code;
      return {
        ok: false,
        code: typeof code === "number" ? code : 0,
        description: typeof error.description === "string" ? error.description : "unknown error",
      };
    }
    if (
      typeof answer.stream === "string" &&
      answer.stream !== "" &&
      typeof answer.seq === "number"
    ) {
      return {
        ok: true,
        stream: answer.stream,
        seq: answer.seq,
        duplicate: answer.duplicate === true,
      };
    }
  }
  return {
    ok: false,
    code: 0,
    description: "the server's answer is not a publish acknowledgement",
  };
}
