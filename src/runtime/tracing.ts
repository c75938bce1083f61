/**
 * OpenTelemetry traces through `@opentelemetry/api`: the one place spans are
 * started and the W3C trace context is read from and written to envelope
 * headers.
 *
 * - A task is a `send` span (PRODUCER) where it is built and a `process`
 *   span (CONSUMER) where it is handled, the latter a child of the former
 *   through the envelope's `traceparent` header: one trace follows a task
 *   and everything it causes across every process it crosses.
 * - A model call is a `chat <model>` span (CLIENT, GenAI conventions).
 * - A consensus round is a `send` span on the proposer (it lasts until the
 *   decision) and a `process` span on each voting node.
 *
 * Nothing here needs an SDK: without one registered the API hands out
 * non-recording spans, and the helpers below skip every attribute and
 * allocation they can. A process without an SDK still passes on a trace
 * context it received, so a trace is not cut by a node that does not export.
 *
 * The header codec is in `trace-context.ts`.
 */
import {
  type Attributes,
  type Context,
  context,
  createContextKey,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { ConclaveError } from "../errors/index.js";
import type { ModelPool, ModelStepRequest, ModelStepResult } from "../llm/model-pool.js";
import type { Envelope } from "../wire/envelope.js";
import { names, remoteContext, TRACEPARENT_HEADER, writeTraceHeaders } from "./trace-context.js";

/** The instrumentation scope of every conclave span. */
export const TRACER_NAME = "conclave";

// Resolved lazily by the API's proxy: an SDK registered after this module
// loaded (a `--import` preload runs first anyway) still receives the spans.
const tracer = trace.getTracer(TRACER_NAME);

let enabled = true;

/**
 * Turns conclave's tracing off or on in this process. Off, no span is
 * started and no trace header written, not even through the no-op API: only
 * for measuring what the API costs (`observability.overhead` in bench/).
 */
export function setTracingEnabled(on: boolean): void {
  enabled = on;
}

// ---- the context of a handled task ---------------------------------------------

/**
 * The spans of the envelopes being handled (their `process` spans), by
 * envelope: everything a handler builds names its task as `parent`, so the
 * span is found without threading a context through every call.
 */
const handling = new WeakMap<Envelope, Handled>();

/**
 * The context a message caused by `parent` continues: its handling span;
 * for a parent not handled here (a task an auctioneer forwards to the
 * winner), the context its own headers carry; else the active one.
 */
function contextOf(parent: Envelope | undefined): Context {
  if (parent === undefined) return context.active();
  const handled = handling.get(parent);
  if (handled !== undefined) return handled.context();
  return parent.headers?.[TRACEPARENT_HEADER] === undefined
    ? context.active()
    : remoteContext(parent.headers);
}

// Whether a context manager is registered (an SDK's async-hooks one):
// without one, entering a span's context would be work for nothing.
const PROBE = ROOT_CONTEXT.setValue(createContextKey("conclave.tracing.probe"), true);
const probeIsActive = () => context.active() === PROBE;
const contextManaged = () => context.with(PROBE, probeIsActive);

// ---- messaging --------------------------------------------------------------------

/** The `messaging.system` of a transport kind (the conventions call RabbitMQ by name). */
export function messagingSystem(transportKind: string): string {
  return transportKind === "amqp" ? "rabbitmq" : transportKind;
}

/** A message being built: the trace headers it must carry, and its `send` span to close. */
export interface OutgoingTrace {
  /** `traceparent` / `tracestate` to put in the envelope before it is signed; undefined when none. */
  readonly headers: Readonly<Record<string, string>> | undefined;
  /** The envelope is built: records its id and ends the send span. */
  sent(messageId: string): void;
  /** Building it failed: ends the send span with the error. */
  failed(error: unknown): void;
}

const NO_TRACE: OutgoingTrace = { headers: undefined, sent() {}, failed() {} };

/**
 * Starts tracing a message caused by `parent` (or by the active context). A
 * durable task gets a `send` span whose context the headers carry; a
 * fan-out event (at most once, and often many per task) carries its
 * parent's context without a span of its own.
 */
export function traceOutgoing(
  transportKind: string,
  mode: "enqueue" | "publish",
  subject: string,
  parent: Envelope | undefined,
): OutgoingTrace {
  if (!enabled) return NO_TRACE;
  const parentContext = contextOf(parent);
  if (mode === "publish") {
    const spanContext = trace.getSpanContext(parentContext);
    if (spanContext === undefined || !names(spanContext)) return NO_TRACE;
    const headers: Record<string, string> = {};
    writeTraceHeaders(headers, spanContext);
    return { headers, sent() {}, failed() {} };
  }
  const span = tracer.startSpan(`send ${subject}`, { kind: SpanKind.PRODUCER }, parentContext);
  const spanContext = span.spanContext();
  const recording = span.isRecording();
  if (!recording && !names(spanContext)) return NO_TRACE;
  if (recording) span.setAttributes(messagingAttributes(transportKind, subject, "send"));
  const headers: Record<string, string> = {};
  writeTraceHeaders(headers, spanContext);
  return new Sending(span, headers, recording);
}

/** A message's `send` span, open while its envelope is built. */
class Sending implements OutgoingTrace {
  readonly #span: Span;
  readonly #recording: boolean;
  readonly headers: Readonly<Record<string, string>>;

  constructor(span: Span, headers: Readonly<Record<string, string>>, recording: boolean) {
    this.#span = span;
    this.headers = headers;
    this.#recording = recording;
  }

  sent(messageId: string): void {
    if (this.#recording) this.#span.setAttribute("messaging.message.id", messageId);
    this.#span.end();
  }

  failed(error: unknown): void {
    failSpan(this.#span, error);
    this.#span.end();
  }
}

function messagingAttributes(
  transportKind: string,
  subject: string,
  operation: "send" | "process",
): Attributes {
  return {
    "messaging.system": messagingSystem(transportKind),
    "messaging.destination.name": subject,
    "messaging.operation.type": operation,
    "messaging.operation.name": operation,
  };
}

/** Marks a span as failed by `error` (its type in `error.type`, the exception as an event). */
function failSpan(span: Span, error: unknown): void {
  if (!span.isRecording()) return;
  const e = error instanceof Error ? error : new Error(String(error));
  span.recordException(e);
  span.setAttribute("error.type", e instanceof ConclaveError ? e.code : e.name);
  span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
}

/** The `process` span of a handled message. */
export interface ProcessSpan {
  /** Runs `fn` with this span as the active context (for users' spans and instrumentations). */
  run<T>(fn: () => T): T;
  /** Sets an attribute (only when recording). */
  set(key: string, value: string | number | boolean): void;
  /** Marks the handling as failed. */
  fail(error: unknown): void;
  end(): void;
}

const NO_SPAN: ProcessSpan = {
  run: (fn) => fn(),
  set() {},
  fail() {},
  end() {},
};

/** Who handles a message, for its `process` span. */
export interface ProcessTarget {
  readonly transportKind: string;
  readonly subject: string;
  /** The agent handling it (`conclave.agent.id`). */
  readonly agent?: string;
  /** The consumer group: the role's queue (`messaging.consumer.group.name`). */
  readonly group?: string;
  /** The delivery attempt, from 1. */
  readonly attempt?: number;
}

/**
 * Starts the `process` span of a received envelope, a child of the context
 * its headers carry. Messages `envelope` causes while it is handled
 * (`parent: envelope`) become children of this span.
 */
export function startProcessSpan(envelope: Envelope, target: ProcessTarget): ProcessSpan {
  if (!enabled) return NO_SPAN;
  const parentContext = remoteContext(envelope.headers);
  const span = tracer.startSpan(
    `process ${target.subject}`,
    { kind: SpanKind.CONSUMER },
    parentContext,
  );
  const recording = span.isRecording();
  // No SDK and no incoming trace: nothing to pass on, nothing to record.
  if (!recording && parentContext === ROOT_CONTEXT) return NO_SPAN;
  if (recording) {
    const attributes = messagingAttributes(target.transportKind, target.subject, "process");
    attributes["messaging.message.id"] = envelope.id;
    if (target.group !== undefined) attributes["messaging.consumer.group.name"] = target.group;
    if (target.agent !== undefined) attributes["conclave.agent.id"] = target.agent;
    if (target.attempt !== undefined) attributes["conclave.delivery.attempt"] = target.attempt;
    span.setAttributes(attributes);
  }
  const handled = new Handled(envelope, span, parentContext, recording);
  handling.set(envelope, handled);
  return handled;
}

/** A `process` span; its context is made only when something needs it. */
class Handled implements ProcessSpan {
  readonly #envelope: Envelope;
  readonly #span: Span;
  readonly #parent: Context;
  readonly #recording: boolean;
  #context: Context | undefined;

  constructor(envelope: Envelope, span: Span, parent: Context, recording: boolean) {
    this.#envelope = envelope;
    this.#span = span;
    this.#parent = parent;
    this.#recording = recording;
  }

  context(): Context {
    this.#context ??= trace.setSpan(this.#parent, this.#span);
    return this.#context;
  }

  run<T>(fn: () => T): T {
    return contextManaged() ? context.with(this.context(), fn) : fn();
  }

  set(key: string, value: string | number | boolean): void {
    if (this.#recording) this.#span.setAttribute(key, value);
  }

  fail(error: unknown): void {
    failSpan(this.#span, error);
  }

  end(): void {
    handling.delete(this.#envelope);
    this.#span.end();
  }
}

// ---- consensus ----------------------------------------------------------------------

/** The proposer's span of a consensus round: from the proposal to the decision. */
export interface RoundSpan {
  /** Trace headers for the proposal's envelope; undefined when none. */
  readonly headers: Readonly<Record<string, string>> | undefined;
  /** Ends the span when `decision` settles, with its outcome. */
  settle(decision: Promise<{ readonly outcome: string }>): void;
}

const NO_ROUND: RoundSpan = { headers: undefined, settle() {} };

/** What a round's span records. */
export interface RoundInfo {
  readonly transportKind: string;
  readonly subject: string;
  readonly proposal: string;
  readonly action: string;
  readonly protocol: string;
  readonly voters: number;
  /** The task the proposal is made for, if any: the round joins its trace. */
  readonly parent?: Envelope | undefined;
}

/** Starts the `send` span of a consensus round on the proposing node. */
export function startRoundSpan(info: RoundInfo): RoundSpan {
  if (!enabled) return NO_ROUND;
  const span = tracer.startSpan(
    `send ${info.subject}`,
    { kind: SpanKind.PRODUCER },
    contextOf(info.parent),
  );
  const spanContext = span.spanContext();
  const recording = span.isRecording();
  if (!recording && !names(spanContext)) return NO_ROUND;
  if (recording) {
    const attributes = messagingAttributes(info.transportKind, info.subject, "send");
    attributes["messaging.message.id"] = info.proposal;
    attributes["conclave.consensus.action"] = info.action;
    attributes["conclave.consensus.protocol"] = info.protocol;
    attributes["conclave.consensus.voters"] = info.voters;
    span.setAttributes(attributes);
  }
  const headers: Record<string, string> = {};
  writeTraceHeaders(headers, spanContext);
  return {
    headers,
    settle(decision) {
      decision.then(
        (decided) => {
          if (recording) span.setAttribute("conclave.consensus.outcome", decided.outcome);
          span.end();
        },
        (error: unknown) => {
          failSpan(span, error);
          span.end();
        },
      );
    },
  };
}

// ---- model calls ----------------------------------------------------------------------

/** The `gen_ai.provider.name` of a configured provider. */
function providerName(provider: string): string {
  // An OpenAI-compatible server speaks OpenAI's API; its own name is unknown here.
  return provider === "openai-compatible" ? "openai" : provider;
}

/**
 * `pool` with a `chat <model>` span (GenAI conventions) around every model
 * call made for the task `parent`. A replayed call is not sent, so it has
 * no span.
 */
export function tracedModels(pool: ModelPool, parent: Envelope): ModelPool {
  if (!enabled) return pool;
  return {
    get priceVersion() {
      return pool.priceVersion;
    },
    has: (name) => pool.has(name),
    chain: (name) => pool.chain(name),
    maxCost: (name, inputTokens, maxOutputTokens) =>
      pool.maxCost(name, inputTokens, maxOutputTokens),
    breakerState: (name) => pool.breakerState(name),
    call: (request) => tracedCall(pool, request, contextOf(parent)),
  };
}

async function tracedCall(
  pool: ModelPool,
  request: ModelStepRequest,
  parentContext: Context,
): Promise<ModelStepResult> {
  const first = pool.chain(request.model)[0];
  const modelId = first?.modelId ?? request.model;
  const span = tracer.startSpan(`chat ${modelId}`, { kind: SpanKind.CLIENT }, parentContext);
  const recording = span.isRecording();
  if (recording) {
    const attributes: Attributes = {
      "gen_ai.operation.name": "chat",
      "gen_ai.request.model": modelId,
      "gen_ai.request.max_tokens": request.maxOutputTokens,
      "conclave.llm.model": request.model,
    };
    if (first !== undefined) attributes["gen_ai.provider.name"] = providerName(first.provider);
    if (request.temperature !== undefined)
      attributes["gen_ai.request.temperature"] = request.temperature;
    if (first?.baseURL !== undefined) {
      const url = URL.canParse(first.baseURL) ? new URL(first.baseURL) : undefined;
      if (url !== undefined) {
        attributes["server.address"] = url.hostname;
        if (url.port !== "") attributes["server.port"] = Number(url.port);
      }
    }
    span.setAttributes(attributes);
  }
  try {
    const result = await context.with(trace.setSpan(parentContext, span), () => pool.call(request));
    if (recording) {
      span.setAttributes({
        "gen_ai.response.model": result.modelId,
        "gen_ai.response.finish_reasons": [result.finishReason],
        "gen_ai.usage.input_tokens": result.usage.inputTokens,
        "gen_ai.usage.output_tokens": result.usage.outputTokens,
        "conclave.llm.answered_by": result.model,
        "conclave.llm.cost": result.cost,
      });
    }
    return result;
  } catch (error) {
    failSpan(span, error);
    throw error;
  } finally {
    span.end();
  }
}

// ---- export at exit ---------------------------------------------------------------------

/**
 * Flushes the spans the registered SDK still buffers (its `forceFlush`),
 * waiting at most `timeoutMs`; nothing without an SDK. For a process that
 * is about to exit (the CLI calls it last): a batch processor would
 * otherwise lose the spans of the last seconds.
 */
export async function flushTraces(timeoutMs = 1000): Promise<void> {
  const registered = trace.getTracerProvider() as { getDelegate?: () => unknown };
  const provider = (registered.getDelegate?.() ?? registered) as {
    forceFlush?: () => Promise<void>;
  };
  if (typeof provider.forceFlush !== "function") return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    provider.forceFlush().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}
