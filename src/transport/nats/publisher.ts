import { isDiskFull } from "../../core/disk-full.js";
import {
  NoRespondersError,
  ReplicationPendingError,
  StoreFullError,
  TransportError,
  UnroutableError,
} from "../../errors/index.js";
import type { EnqueueResult, Headers } from "../port.js";
import { encodedHeadersSize } from "./dead-letter-size.js";
import { ApiCode, type Driver, type Msg } from "./driver.js";
import { isMaxPayloadExceeded, mapError, PayloadTooLargeError } from "./errors.js";
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
  readonly #declaredQueueOf: (subject: string) => string | undefined;
  readonly #maxPayload: () => number | undefined;

  constructor(
    driver: Driver,
    replies: ReplyInbox,
    apiTimeoutMs: number,
    queueFull: (subject: string) => Promise<Error>,
    /** The queue this connection declared that takes a subject, if any. */
    declaredQueueOf: (subject: string) => string | undefined = () => undefined,
    /** The server's `max_payload`, once connected. */
    maxPayload: () => number | undefined = () => undefined,
  ) {
    this.#driver = driver;
    this.#replies = replies;
    this.#apiTimeoutMs = apiTimeoutMs;
    this.#queueFull = queueFull;
    this.#declaredQueueOf = declaredQueueOf;
    this.#maxPayload = maxPayload;
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
      if (error instanceof NoRespondersError) throw await this.#nobodyTook(subject, what);
      if (isMaxPayloadExceeded(error)) {
        const size = data.byteLength + encodedHeadersSize({ ...headers, "Nats-Msg-Id": msgId });
        throw new PayloadTooLargeError(what, size, this.#maxPayload(), { cause: error });
      }
      throw mapError(this.#driver, error, what);
    }
    const ack = parsePubAck(answer.data);
    if (ack.ok && ack.seq === 0) {
      // A clustered stream's leader records a message id when it proposes the
      // message to its replicas, with sequence 0 until the proposal commits;
      // a repeat arriving meanwhile is answered "duplicate" with sequence 0.
      // Nothing is stored yet: if the leader loses its place (a partition),
      // the proposal is dropped and so is the message (chaos
      // nats-r3-partition lost tasks this way). Not stored, so not done.
      throw new ReplicationPendingError(
        `${what}: the NATS server is still replicating an earlier publish of this message id (it answered "duplicate" with sequence 0), so the message is not stored yet and may still be lost; retry: a later answer gives its sequence, or stores it anew`,
      );
    }
    if (ack.ok) return { duplicate: ack.duplicate, receipt: natsReceipt(ack.stream, ack.seq) };
    if (ack.code === ApiCode.storeFailed) {
      if (/maximum messages/i.test(ack.description)) throw await this.#queueFull(subject);
      // nats-server 2.10+ refuses a write its store cannot make; 2.9 stops answering instead.
      if (isDiskFull(new Error(ack.description))) {
        throw new StoreFullError(what, `the NATS server's JetStream store (${ack.description})`);
      }
    }
    throw new TransportError(
      `${what} failed on the NATS server: ${ack.description} (JetStream error ${ack.code})`,
    );
  }

  /**
   * Nothing took a publish: either no stream takes the subject, or the one
   * that does has no leader now (in a cluster only a stream's leader listens
   * on its subjects: an election under way, or too few of its replicas'
   * servers up). A queue this connection declared is known to exist;
   * otherwise JetStream's API says which stream takes the subject (a server
   * just back from a pause may answer from a stale view, hence declared
   * queues first).
   */
  async #nobodyTook(subject: string, what: string): Promise<Error> {
    const declared = this.#declaredQueueOf(subject);
    const streams = declared === undefined ? await this.#streamsTaking(subject) : [declared];
    if (streams?.length === 0) return new UnroutableError(subject);
    const queue = streams?.[0] === undefined ? "" : ` queue "${streams[0]}"`;
    return new TransportError(
      streams === undefined
        ? `${what}: no stream answered and JetStream's API did not answer either: the NATS cluster has no leader (an election under way, or fewer than a majority of its servers up); retry, and check that most of its servers run`
        : `${what}: the${queue} exists but its stream has no leader on the NATS cluster (an election under way, or fewer than a majority of its replicas' servers up); retry, and check that most of its servers run`,
    );
  }

  /** The streams JetStream says take `subject`; undefined when its API does not answer (no quorum). */
  async #streamsTaking(subject: string): Promise<readonly string[] | undefined> {
    try {
      const answer = await this.#replies.request(
        "$JS.API.STREAM.NAMES",
        new TextEncoder().encode(JSON.stringify({ subject })),
        undefined,
        this.#apiTimeoutMs,
        `looking up the queue of "${subject}"`,
      );
      const parsed = JSON.parse(replyDecoder.decode(answer.data)) as { streams?: unknown };
      if (!Array.isArray(parsed.streams) && parsed.streams !== null) return undefined;
      return (parsed.streams ?? []).filter((s): s is string => typeof s === "string");
    } catch {
      // No answer either: the cluster's metadata has no leader.
      return undefined;
    }
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

/** The receipt of a stored message (`Transport.holds`): `<sequence>:<stream>`. */
export function natsReceipt(stream: string, seq: number): string {
  return `${seq}:${stream}`;
}

/** The stream and sequence a receipt names, or undefined for one this transport did not give. */
export function fromNatsReceipt(receipt: string): { stream: string; seq: number } | undefined {
  const colon = receipt.indexOf(":");
  const seq = Number(receipt.slice(0, colon));
  const stream = receipt.slice(colon + 1);
  if (colon < 1 || !Number.isSafeInteger(seq) || seq < 1 || stream === "") return undefined;
  return { stream, seq };
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
