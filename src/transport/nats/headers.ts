import type * as CoreModule from "@nats-io/transport-node";
import { ConfigError } from "../../errors/index.js";
import type { Headers } from "../port.js";
import type { Driver } from "./driver.js";

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
 * A stored message's id: its `Nats-Msg-Id`, or `<stream>:<seq>` for one
 * published without (not by conclave).
 */
export function natsMsgId(
  headers: { get(key: string): string } | undefined,
  stream: string,
  seq: number,
): string {
  return headers?.get("Nats-Msg-Id") || `${stream}:${seq}`;
}
