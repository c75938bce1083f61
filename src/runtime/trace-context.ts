/**
 * The W3C Trace Context (version 00) in envelope headers: `traceparent`
 * and `tracestate`, read and written by conclave itself rather than by the
 * globally registered propagator, because these headers are part of the
 * wire protocol (docs/PROTOCOL.md, "Trace context headers") whatever
 * propagator a user configures.
 */
import {
  type Context,
  createTraceState,
  INVALID_SPANID,
  INVALID_TRACEID,
  ROOT_CONTEXT,
  type SpanContext,
  trace,
} from "@opentelemetry/api";

/** The envelope header carrying the W3C `traceparent`. */
export const TRACEPARENT_HEADER = "traceparent";
/** The envelope header carrying the W3C `tracestate`. */
export const TRACESTATE_HEADER = "tracestate";

// Version 00, what every sender writes: one test, no captures (this runs per task).
const TRACEPARENT_00 = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
// Any version: a later one may add fields after the four of version 00.
const TRACEPARENT_ANY = /^([0-9a-f]{2})-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(-.*)?$/;

/** Parses a `traceparent` value; undefined when it is not a valid one. */
export function parseTraceparent(value: string | undefined): SpanContext | undefined {
  if (value === undefined) return undefined;
  if (!(value.length === 55 && TRACEPARENT_00.test(value))) {
    value = value.trim();
    const match = TRACEPARENT_ANY.exec(value);
    // Version ff is forbidden; version 00 has exactly four fields.
    if (match === null || match[1] === "ff" || (match[1] === "00" && match[2] !== undefined)) {
      return undefined;
    }
  }
  const traceId = value.slice(3, 35);
  const spanId = value.slice(36, 52);
  if (traceId === INVALID_TRACEID || spanId === INVALID_SPANID) return undefined;
  return { traceId, spanId, traceFlags: Number.parseInt(value.slice(53, 55), 16), isRemote: true };
}

/**
 * Whether a span context names a span. Cheaper than the API's
 * `isSpanContextValid` (two regular expressions): every context here comes
 * from an SDK, from {@link parseTraceparent}, or is the API's invalid one.
 */
export function names(spanContext: SpanContext): boolean {
  return spanContext.traceId !== INVALID_TRACEID && spanContext.spanId !== INVALID_SPANID;
}

/** Formats a span context as a `traceparent` value (version 00). */
export function formatTraceparent(spanContext: SpanContext): string {
  const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, "0");
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
}

/**
 * The context a message's headers carry: the sender's span as a remote
 * parent, or the root context when there is none (or it is malformed: a
 * bad header never fails a task).
 */
export function remoteContext(headers: Readonly<Record<string, string>> | undefined): Context {
  const spanContext = parseTraceparent(headers?.[TRACEPARENT_HEADER]);
  if (spanContext === undefined) return ROOT_CONTEXT;
  const state = headers?.[TRACESTATE_HEADER];
  return trace.setSpanContext(
    ROOT_CONTEXT,
    state === undefined || state === ""
      ? spanContext
      : { ...spanContext, traceState: createTraceState(state) },
  );
}

/** Adds `traceparent` (and `tracestate`) for `spanContext` to `headers`; nothing when invalid. */
export function writeTraceHeaders(headers: Record<string, string>, spanContext: SpanContext): void {
  if (!names(spanContext)) return;
  headers[TRACEPARENT_HEADER] = formatTraceparent(spanContext);
  const state = spanContext.traceState?.serialize();
  if (state) headers[TRACESTATE_HEADER] = state;
}
