/**
 * The slice of the nats.js v3 driver the adapter uses, loaded on demand so
 * that importing conclave never loads it. Only types are imported statically
 * (erased at compile time); the modules themselves come from `loadDriver()`.
 */
import type * as JetStreamModule from "@nats-io/jetstream";
import type * as CoreModule from "@nats-io/transport-node";
import {
  ClosedError,
  ConclaveError,
  ConfigError,
  NoRespondersError,
  TimeoutError,
  TransportError,
} from "../../errors/index.js";
import type { Headers } from "../port.js";

export type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
export type { Msg, MsgHdrs, NatsConnection, Subscription } from "@nats-io/transport-node";
/** The pull consumer handle of the driver (not the port's `Consumer`). */
export type PullConsumer = JetStreamModule.Consumer;
export type FetchIterator = Awaited<ReturnType<PullConsumer["fetch"]>>;

export interface Driver {
  readonly core: typeof CoreModule;
  readonly jetstream: typeof JetStreamModule;
}

let loading: Promise<Driver> | undefined;

/** Imports the driver once, on first use. */
export function loadDriver(): Promise<Driver> {
  loading ??= Promise.all([import("@nats-io/transport-node"), import("@nats-io/jetstream")]).then(
    ([core, jetstream]) => ({ core, jetstream }),
    (error: unknown) => {
      loading = undefined;
      throw new ConfigError(
        "the NATS transport needs the packages @nats-io/transport-node and @nats-io/jetstream; install them",
        [],
        { cause: error },
      );
    },
  );
  return loading;
}

/** JetStream API error codes the adapter reacts to. */
export const ApiCode = Object.freeze({
  consumerNotFound: 10014,
  streamNotFound: 10059,
  streamNameInUse: 10058,
  subjectsOverlap: 10065,
  maximumMessagesExceeded: 10077,
  noMessageFound: 10037,
} as const);

/** The JetStream API error code of `error`, if it is one. */
export function apiCode(driver: Driver, error: unknown): number | undefined {
  return error instanceof driver.jetstream.JetStreamApiError ? error.code : undefined;
}

/** Walks `error` and its causes. */
function* causes(error: unknown): Generator<unknown> {
  let current = error;
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth++) {
    yield current;
    current = current instanceof Error ? current.cause : undefined;
  }
}

/**
 * True when `error` is the driver's error class `name`. By name as well as by
 * class: the driver's packages may each carry their own copy of
 * `@nats-io/nats-core`, whose classes then differ.
 */
function isDriverError(
  error: unknown,
  name: string,
  type: abstract new (...args: never[]) => Error,
): boolean {
  if (error instanceof type) return true;
  return error instanceof Error && !(error instanceof ConclaveError) && error.name === name;
}

export function isNoResponders(driver: Driver, error: unknown): boolean {
  for (const e of causes(error)) {
    if (isDriverError(e, "NoResponders", driver.core.NoRespondersError)) return true;
    if (isDriverError(e, "NoRespondersError", driver.core.NoRespondersError)) return true;
  }
  return false;
}

export function isTimeout(driver: Driver, error: unknown): boolean {
  for (const e of causes(error)) {
    if (isDriverError(e, "TimeoutError", driver.core.TimeoutError)) return true;
  }
  return false;
}

export function isClosed(driver: Driver, error: unknown): boolean {
  for (const e of causes(error)) {
    if (isDriverError(e, "ClosedConnectionError", driver.core.ClosedConnectionError)) return true;
    if (isDriverError(e, "DrainingConnectionError", driver.core.DrainingConnectionError)) {
      return true;
    }
  }
  return false;
}

/**
 * Turns a driver failure into the conclave error of the same meaning, keeping
 * it as `cause`. `what` names the operation for the message.
 */
export function mapError(driver: Driver, error: unknown, what: string): Error {
  if (error instanceof ConclaveError) return error;
  if (isClosed(driver, error)) return new ClosedError("the NATS transport");
  if (isTimeout(driver, error)) {
    return new TimeoutError(
      `${what}: the NATS server did not answer in time; check that it is up and reachable, or raise apiTimeoutMs`,
      { cause: error },
    );
  }
  const detail = redactUrl(error instanceof Error ? error.message : String(error));
  return new TransportError(`${what} failed on the NATS server: ${detail}`, { cause: error });
}

/** Maps a failed core request to `TimeoutError` / `NoRespondersError`. */
export function mapRequestError(
  driver: Driver,
  error: unknown,
  subject: string,
  timeoutMs: number,
): Error {
  if (isNoResponders(driver, error)) return new NoRespondersError(subject);
  if (isTimeout(driver, error)) {
    return new TimeoutError(
      `no reply on "${subject}" within ${timeoutMs} ms; the responder is slow or gone — raise timeoutMs or check it`,
      { cause: error },
    );
  }
  return mapError(driver, error, `request on "${subject}"`);
}

const EMPTY_HEADERS: Headers = Object.freeze({});

/**
 * Driver headers to port headers: keys lowercased, and the `Nats-*` headers
 * the server and client use for their own bookkeeping (`Nats-Msg-Id`,
 * `Nats-Expected-*`, ...) left out: they are transport internals.
 */
export function fromNatsHeaders(headers: CoreModule.MsgHdrs | undefined): Headers {
  if (!headers) return EMPTY_HEADERS;
  const keys = headers.keys();
  if (keys.length === 0) return EMPTY_HEADERS;
  const out: Record<string, string> = {};
  for (const key of keys) {
    const lower = key.toLowerCase();
    if (lower.startsWith("nats-")) continue;
    out[lower] = headers.get(key);
  }
  return out;
}

/** Port headers (plus `extra`) to driver headers; undefined when there are none. */
export function toNatsHeaders(
  driver: Driver,
  headers: Headers | undefined,
  extra?: Headers,
): CoreModule.MsgHdrs | undefined {
  const hasOwn = headers !== undefined && Object.keys(headers).length > 0;
  const hasExtra = extra !== undefined && Object.keys(extra).length > 0;
  if (!hasOwn && !hasExtra) return undefined;
  const out = driver.core.headers();
  try {
    for (const source of [headers, extra]) {
      if (!source) continue;
      for (const [key, value] of Object.entries(source)) out.set(key, value);
    }
  } catch (error) {
    throw new ConfigError(
      `invalid message header: ${error instanceof Error ? error.message : String(error)}; header keys are ASCII tokens and values may not contain line breaks`,
      [],
      { cause: error },
    );
  }
  return out;
}

/**
 * Where a delivered message's ack goes: its reply subject, `$JS.ACK.…`. The
 * driver's message object has it (`JsMsgImpl.reply`) though its `JsMsg`
 * type does not list it; undefined if a driver version hides it, and the
 * caller then acks through the driver.
 */
export function ackSubject(message: JetStreamModule.JsMsg): string | undefined {
  const reply = (message as { reply?: unknown }).reply;
  return typeof reply === "string" && reply.startsWith("$JS.ACK.") ? reply : undefined;
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

/** A server URL with any user and password removed, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/\s]*@/g, "//");
}
