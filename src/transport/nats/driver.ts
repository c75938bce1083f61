/**
 * The slice of the nats.js v3 driver the adapter uses, loaded on demand so
 * that importing conclave never loads it. Only types are imported statically
 * (erased at compile time); the modules themselves come from `loadDriver()`.
 */
import type * as JetStreamModule from "@nats-io/jetstream";
import type * as CoreModule from "@nats-io/transport-node";
import { ConfigError } from "../../errors/index.js";

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
  /**
   * A stream could not store a message; the description says why: "maximum
   * messages exceeded" (the queue is full) or, from nats-server 2.10, the
   * store's write error ("no space left on device").
   */
  storeFailed: 10077,
  noMessageFound: 10037,
} as const);

/** The JetStream API error code of `error`, if it is one. */
export function apiCode(driver: Driver, error: unknown): number | undefined {
  return error instanceof driver.jetstream.JetStreamApiError ? error.code : undefined;
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
