/**
 * The errors of LLM agents: models that cannot be reached or configured,
 * answers that cannot be used, tools, and the step journal. Failures that a
 * retry of the task cannot cure (the provider refused the request, the answer
 * breaks its schema, a replay took another path) are `PermanentError`s, so the
 * task goes to the dead-letter queue with the reason instead of being retried.
 *
 * Kept in their own file (re-exported by `src/llm`) rather than in
 * `index.ts`, which they extend: a re-export there would be an import cycle.
 */
import { ConclaveError, ConfigError, PermanentError, TimeoutError } from "./index.js";

/**
 * A model's `${VAR}` references name variables that are not set: the model
 * cannot be started. Raised when a node starts, before any task runs.
 */
export class ModelNotConfiguredError extends ConfigError {
  override readonly code: string = "E_MODEL_NOT_CONFIGURED";

  constructor(
    /** The model entries that cannot start. */
    readonly models: readonly string[],
    /** Every variable to set, sorted. */
    readonly variables: readonly string[],
  ) {
    super(
      `model ${models.map((m) => `"${m}"`).join(", ")} cannot start: set ${variables.join(", ")} in the environment (e.g. export ${variables[0]}=…)`,
      variables.map((variable) => ({
        path: "models",
        message: `environment variable ${variable} is not set`,
      })),
    );
  }
}

/** Why one model of a fallback chain was not used. */
export interface ModelFailure {
  readonly model: string;
  /** `circuit-open`, `retries-exhausted`, `timeout`, or `retry-after-too-long`. */
  readonly reason: "circuit-open" | "retries-exhausted" | "timeout" | "retry-after-too-long";
  /** The last error from the provider, when there was one. */
  readonly detail?: string;
  readonly statusCode?: number;
}

/**
 * No model of a fallback chain answered: each one's breaker was open, its
 * retries ran out (429, 5xx, network errors), or it timed out. Transient:
 * the task is retried later; `retryAfterMs`, when set, is the shortest wait a
 * provider asked for.
 */
export class ModelUnavailableError extends ConclaveError {
  constructor(
    readonly model: string,
    readonly failures: readonly ModelFailure[],
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(
      "E_MODEL_UNAVAILABLE",
      `model "${model}" is unavailable (${failures.map((f) => `${f.model}: ${f.reason}${f.detail === undefined ? "" : ` — ${f.detail}`}`).join("; ")}); a transient failure: check the provider's status, or add a fallback model`,
      options,
    );
  }
}

/** One model call took longer than the model's `timeoutMs` and was aborted. */
export class ModelTimeoutError extends TimeoutError {
  override readonly code: string = "E_MODEL_TIMEOUT";

  constructor(
    readonly model: string,
    readonly timeoutMs: number,
  ) {
    super(
      `model "${model}" did not answer within ${timeoutMs} ms; raise timeoutMs, lower maxOutputTokens, or add a fallback model`,
    );
  }
}

/**
 * The provider refused the request itself (400, 401, 403, 404, 422…):
 * a wrong key, an unknown model id, a request the model cannot take.
 * Retrying cannot help.
 */
export class ModelRequestError extends PermanentError {
  override readonly code: string = "E_MODEL_REQUEST";

  constructor(
    readonly model: string,
    readonly statusCode: number | undefined,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      `model "${model}" refused the request${statusCode === undefined ? "" : ` (HTTP ${statusCode})`}: ${detail}; check the model's key, model id and baseURL`,
      options,
    );
  }
}

/**
 * The model's answer cannot be used: a malformed response body, a final
 * answer that is not valid JSON or breaks the output schema (after the
 * repair attempt), tool arguments that are not JSON, or tool calls where
 * only an answer was allowed.
 */
export class ModelResponseError extends PermanentError {
  override readonly code: string = "E_MODEL_RESPONSE";

  constructor(
    readonly model: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`model "${model}" gave an unusable answer: ${reason}`, options);
  }
}

/** The model called a tool it was not offered, or a tool runner has no tool by that name. */
export class UnknownToolError extends PermanentError {
  override readonly code: string = "E_UNKNOWN_TOOL";

  constructor(
    readonly tool: string,
    readonly known: readonly string[],
  ) {
    super(
      `no tool "${tool}" is available (offered: ${known.length === 0 ? "none" : known.join(", ")}); list it in the agent's llm.tools and make sure a role serves it or the agent module exports it`,
    );
  }
}

/** A tool returned more than the limit the loop passes back to a model. */
export class ToolResultTooLargeError extends PermanentError {
  override readonly code: string = "E_TOOL_RESULT_TOO_LARGE";

  constructor(
    readonly tool: string,
    readonly size: number,
    readonly limit: number,
  ) {
    super(
      `tool "${tool}" returned ${size} bytes of JSON, over the ${limit}-byte limit; return a summary or a reference (an id, a URL) instead: the limit of ctx.llm is fixed, a loop built with createLlmClient can raise it with maxToolResultBytes`,
    );
  }
}

/**
 * A handler took another path on replay than its journal records: at
 * `position` it asked for step `actual` where step `expected` was recorded.
 * Replaying further would pair results with the wrong steps, so the task
 * stops; this happens when a handler's code changed while a task was in
 * flight, or when it branches on something other than step results.
 */
export class NonDeterminismError extends PermanentError {
  override readonly code: string = "E_NON_DETERMINISM";

  constructor(
    readonly position: number,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `replay diverged at step ${position}: the journal records "${expected}" but the handler asked for "${actual}"; make the handler deterministic (branch only on step results) or let in-flight tasks finish before changing its code`,
    );
  }
}

/** A step name was used twice in one execution of a task: its results would be confused. */
export class DuplicateStepError extends PermanentError {
  override readonly code: string = "E_DUPLICATE_STEP";

  constructor(readonly step: string) {
    super(
      `step "${step}" was already run in this task; give each step of a task its own name (add an index for loops)`,
    );
  }
}

/** HTTP statuses worth another attempt: timeout, conflict, rate limit (and every 5xx). */
const RETRYABLE_4XX = new Set([408, 409, 429]);

/**
 * A provider reported an error inside a streamed response, before any text
 * went out. Retryable unless it names a 4xx status other than 408, 409 or
 * 429 (then the request itself is wrong). It reaches callers only as the
 * `cause` of a `ModelUnavailableError` or `ModelRequestError`.
 */
export class ModelStreamError extends ConclaveError {
  /** Whether another attempt (or a fallback model) may succeed. */
  readonly isRetryable: boolean;

  constructor(
    /** The status the provider named (its `code` or `status`, when a number). */
    readonly statusCode: number | undefined,
    /** The provider's own error code or type, e.g. `server_error`, `overloaded_error`. */
    readonly providerCode: string | undefined,
    detail: string,
  ) {
    const retryable = isRetryableStatus(statusCode);
    super(
      "E_MODEL_STREAM",
      `the provider reported an error in the stream: ${detail}${describe(statusCode, providerCode)}${retryable ? "; if it persists, check the provider's status or add a fallback model" : ""}`,
    );
    this.isRetryable = retryable;
  }
}

/** Anything but a 4xx other than 408, 409 and 429 may pass on another attempt. */
function isRetryableStatus(statusCode: number | undefined): boolean {
  return (
    statusCode === undefined ||
    statusCode < 400 ||
    statusCode >= 500 ||
    RETRYABLE_4XX.has(statusCode)
  );
}

/** ` (server_error, status 529)`: what the provider named besides its message. */
function describe(statusCode: number | undefined, providerCode: string | undefined): string {
  const named = [providerCode, statusCode === undefined ? undefined : `status ${statusCode}`];
  const parts = named.filter((part): part is string => part !== undefined);
  return parts.length === 0 ? "" : ` (${parts.join(", ")})`;
}
