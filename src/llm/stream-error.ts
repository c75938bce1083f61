/**
 * An error a provider sent inside a 200 SSE stream (`data: {"error":{...}}`:
 * an overload, a server error), which the AI SDK hands over as the plain JSON
 * object it read. Turned into an `Error` that carries the provider's status,
 * code and message, shaped like the SDK's `APICallError` (`statusCode`,
 * `isRetryable`) so the pool judges it as it would the same failure sent as
 * an HTTP status: retried, fallen back and counted by the breaker.
 */
import { ModelStreamError } from "../errors/llm.js";

/**
 * The error to throw for a stream's error part: itself when it is already an
 * `Error`, else a `ModelStreamError` read from the provider's error object
 * (`{ message, type, code }` in OpenAI's format, `{ type, message }` in
 * Anthropic's).
 */
export function streamPartError(value: unknown): unknown {
  if (value instanceof Error) return value;
  const fields: Record<string, unknown> =
    typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
  const message = typeof fields.message === "string" ? fields.message : undefined;
  const detail =
    message ?? (Object.keys(fields).length > 0 ? JSON.stringify(value) : String(value));
  return new ModelStreamError(statusOf(fields), providerCodeOf(fields), detail);
}

/**
 * The HTTP status the providers send with each error type they also name in
 * a stream (Anthropic's `type`, OpenAI's `type` or `code`): an error that
 * names only its type is judged as that status would be.
 */
const STATUS_OF_TYPE: Readonly<Record<string, number>> = {
  invalid_request_error: 400,
  context_length_exceeded: 400,
  authentication_error: 401,
  invalid_api_key: 401,
  permission_error: 403,
  not_found_error: 404,
  model_not_found: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  rate_limit_exceeded: 429,
  api_error: 500,
  server_error: 500,
  overloaded_error: 529,
};

/**
 * A status (100–599) the error names, as a number or digits in `status`,
 * `statusCode` or `code`; else the one its type or code word stands for.
 */
function statusOf(fields: Record<string, unknown>): number | undefined {
  for (const value of [fields.status, fields.statusCode, fields.code]) {
    const status = typeof value === "string" && /^\d{3}$/.test(value) ? Number(value) : value;
    if (typeof status === "number" && Number.isInteger(status) && status >= 100 && status < 600) {
      return status;
    }
  }
  for (const word of [fields.code, fields.type]) {
    if (typeof word === "string" && Object.hasOwn(STATUS_OF_TYPE, word))
      return STATUS_OF_TYPE[word];
  }
  return undefined;
}

/** The provider's code or type when it is a word (`server_error`), not a status. */
function providerCodeOf(fields: Record<string, unknown>): string | undefined {
  const words = [fields.code, fields.type].filter(
    (value): value is string => typeof value === "string" && !/^\d+$/.test(value) && value !== "",
  );
  return words.length === 0 ? undefined : [...new Set(words)].join(", ");
}
