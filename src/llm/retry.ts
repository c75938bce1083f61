/**
 * How a failed model attempt is judged, and how long to wait before the
 * next one. Pure: the error, the attempt number, `now` and a random source
 * in; a verdict and a delay out.
 */
import type { Random } from "../core/random.js";
import { type BackoffPolicy, backoffDelay } from "../delivery/backoff.js";
import { ModelStreamError } from "../errors/llm.js";

/** Backoff between retries of one model call, when the provider names no wait. */
export interface ModelRetryPolicy {
  readonly backoff: BackoffPolicy;
  /**
   * The longest `Retry-After` the loop waits for inside a call; a provider
   * asking for more makes the model unavailable now (fallback, or the task is
   * retried later with that delay) instead of holding the task for minutes.
   */
  readonly maxRetryAfterMs: number;
}

/** Retries of a failed model call: 500 ms doubling up to 20 s, and a server's `Retry-After` up to a minute. */
export const defaultModelRetryPolicy: ModelRetryPolicy = Object.freeze({
  backoff: Object.freeze({ baseMs: 500, maxMs: 20_000, factor: 2, jitter: "equal" as const }),
  maxRetryAfterMs: 60_000,
});

/** What a failed attempt means for the call. */
export type AttemptVerdict =
  /** 429, 408, 409, 5xx, or the network: try again after a delay (or fall back). */
  | { readonly kind: "retry"; readonly statusCode?: number; readonly retryAfterMs?: number }
  /** The provider refused the request itself (other 4xx): retrying cannot help. */
  | { readonly kind: "refused"; readonly statusCode: number }
  /** The provider answered with a body that is not the API's JSON (and not because the connection broke). */
  | { readonly kind: "malformed"; readonly statusCode?: number }
  /** The SDK could not use the answer (tool calls where none were allowed, data it cannot read). */
  | { readonly kind: "unusable"; readonly detail: string }
  /** The SDK would not build the request (a prompt or setting the model cannot take). */
  | { readonly kind: "unsendable"; readonly detail: string }
  /** Anything else: a bug or an unexpected failure, rethrown as it is. */
  | { readonly kind: "unknown" };

/** The fields of the AI SDK's `APICallError` that the verdict reads. */
interface ApiCallErrorLike {
  readonly statusCode?: number;
  readonly isRetryable?: boolean;
  readonly responseHeaders?: Record<string, string>;
  readonly message?: string;
}

// The SDK brands its errors with global symbols, so they are recognised
// without importing the SDK (which is loaded only when a model is called).
const API_CALL_ERROR = Symbol.for("vercel.ai.error.AI_APICallError");
const AI_SDK_ERROR = Symbol.for("vercel.ai.error");
/** SDK errors raised before anything is sent: the request itself is wrong. */
const UNSENDABLE = new Set([
  "AI_InvalidPromptError",
  "AI_InvalidArgumentError",
  "AI_UnsupportedFunctionalityError",
  "AI_InvalidMessageRoleError",
  "AI_MessageConversionError",
]);

/**
 * Error codes of a broken or refused connection (Node's and undici's: the AI
 * SDK's list, plus ECONNABORTED and UND_ERR_CLOSED): the network failed,
 * whatever status came before.
 */
const NETWORK_ERROR_CODES = new Set([
  "ConnectionRefused",
  "ConnectionClosed",
  "FailedToOpenSocket",
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CONNECT_TIMEOUT",
]);

function isApiCallError(error: unknown): error is ApiCallErrorLike {
  return (
    (typeof error === "object" && error !== null && API_CALL_ERROR in error) ||
    error instanceof ModelStreamError
  );
}

/** Whether a network error code appears in the error or its chain of causes. */
function isNetworkFailure(error: unknown): boolean {
  const seen = new Set<unknown>();
  for (let current = error; current instanceof Error && !seen.has(current); ) {
    seen.add(current);
    const { code } = current as { code?: unknown };
    if (typeof code === "string" && NETWORK_ERROR_CODES.has(code)) return true;
    current = current.cause;
  }
  return false;
}

/**
 * Judges an error thrown by one attempt (timeouts and aborts are judged by
 * the caller). A retryable failure (the SDK's `isRetryable`, or a network
 * error code among the causes) is retried whatever its status: a connection
 * that drops in the middle of a 200 is the network failing, not a malformed
 * answer.
 */
export function judgeAttemptError(error: unknown, now: number): AttemptVerdict {
  if (!isApiCallError(error)) {
    if (isNetworkFailure(error)) return { kind: "retry" };
    if (typeof error !== "object" || error === null || !(AI_SDK_ERROR in error)) {
      return { kind: "unknown" };
    }
    const { name, message } = error as { name?: string; message?: string };
    const detail = `${name ?? "AI SDK error"}: ${message ?? ""}`;
    return UNSENDABLE.has(name ?? "")
      ? { kind: "unsendable", detail }
      : { kind: "unusable", detail };
  }
  const status = error.statusCode;
  const succeeded = status !== undefined && status >= 200 && status < 300;
  if (error.isRetryable === true || status === undefined || isNetworkFailure(error)) {
    const retryAfterMs = parseRetryAfter(error.responseHeaders, now);
    return {
      kind: "retry",
      // A 2xx that broke off is a network failure: no status to report.
      ...(status === undefined || succeeded ? {} : { statusCode: status }),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }
  if (succeeded) return { kind: "malformed", statusCode: status };
  return { kind: "refused", statusCode: status };
}

/**
 * The wait a response asks for, in ms: `retry-after-ms` (OpenAI's), else
 * `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3).
 * Undefined when absent or unreadable; never negative.
 */
export function parseRetryAfter(
  headers: Readonly<Record<string, string>> | undefined,
  now: number,
): number | undefined {
  if (headers === undefined) return undefined;
  const header = (name: string) => {
    for (const [key, value] of Object.entries(headers)) {
      if (key.toLowerCase() === name) return value.trim();
    }
    return undefined;
  };
  const ms = header("retry-after-ms");
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms)) return Math.ceil(Number(ms));
  const value = header("retry-after");
  if (value === undefined || value === "") return undefined;
  // RFC 9110 allows whole seconds only; decimal ones are read as meant.
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  // An HTTP date starts with its day's name and holds a time of day;
  // anything else ("-1", "3 ms", "soon 5") is unreadable, not a date, though
  // V8's lenient Date.parse reads "1.5" as a day in 2001.
  if (!/^[A-Za-z]{3}/.test(value) || !/\b\d{2}:\d{2}:\d{2}\b/.test(value)) return undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * The delay before retry number `retry` (1 for the first): the provider's
 * `Retry-After` when it gave one (never less), else exponential backoff with
 * jitter.
 */
export function retryDelay(
  retry: number,
  retryAfterMs: number | undefined,
  policy: ModelRetryPolicy,
  random: Random,
): number {
  return retryAfterMs ?? backoffDelay(retry, policy.backoff, random);
}
