/**
 * The errors of the interop surfaces (the A2A gateway, the MCP bridge): what
 * an outside caller did wrong, or what the swarm refused them. Each maps to
 * one HTTP status and one protocol error, so a caller learns the same thing
 * whichever protocol it speaks.
 *
 * Kept in their own file (like `llm.ts`): `index.ts` is what they extend.
 */
import { ConclaveError, PermanentError } from "./index.js";

/** The request carried no credentials, or ones the gateway does not know (HTTP 401). */
export class UnauthorizedCallerError extends ConclaveError {
  readonly status = 401;
  constructor(reason: "missing" | "wrong") {
    super(
      "E_UNAUTHORIZED",
      reason === "missing"
        ? "no credentials: send Authorization: Bearer <token> with a token from the swarm file's gateway.tokens"
        : "the bearer token is not one of the swarm file's gateway.tokens; check the token the gateway was started with",
    );
  }
}

/** The request body is larger than `gateway.maxBodyBytes` (HTTP 413). */
export class RequestTooLargeError extends ConclaveError {
  readonly status = 413;
  constructor(readonly limit: number) {
    super(
      "E_REQUEST_TOO_LARGE",
      `the request body exceeds ${limit} bytes; send less, or raise gateway.maxBodyBytes in the swarm file`,
    );
  }
}

/** The caller sent more requests than `gateway.ratePerMinute` allows (HTTP 429). */
export class RateLimitedError extends ConclaveError {
  readonly status = 429;
  constructor(
    readonly caller: string,
    /** When the caller may try again, in seconds. */
    readonly retryAfterSeconds: number,
  ) {
    super(
      "E_RATE_LIMITED",
      `caller "${caller}" sent more requests than gateway.ratePerMinute allows; retry in ${retryAfterSeconds} s`,
    );
  }
}

/** The caller asked for a role or task the gateway does not offer (HTTP 404). */
export class NotExposedError extends ConclaveError {
  readonly status = 404;
  constructor(
    readonly asked: string,
    readonly offered: readonly string[],
  ) {
    super(
      "E_NOT_EXPOSED",
      `"${asked}" is not offered to outside callers; offered: ${offered.join(", ") || "nothing"} (gateway.expose in the swarm file)`,
    );
  }
}

/** A privileged task asked from outside was not approved by the swarm's council (HTTP 403). */
export class ActionNotApprovedError extends ConclaveError {
  readonly status = 403;
  constructor(
    readonly action: string,
    readonly outcome: string,
    readonly decision: string,
  ) {
    super(
      "E_NOT_APPROVED",
      `privileged action "${action}" was not run: the swarm's vote ended ${outcome} (decision ${decision}); see conclave audit`,
    );
  }
}

/** A request body that cannot be used: not JSON, or not the object the route takes (HTTP 400). */
export class InvalidRequestError extends ConclaveError {
  readonly status = 400;
  constructor(message: string) {
    super("E_INVALID_REQUEST", message);
  }
}

/**
 * A remote A2A agent serving a role could not be reached or failed to answer
 * (a network error, an HTTP 5xx, a timeout, an internal error). Retryable:
 * the task is redelivered with backoff, and dead-lettered after the role's
 * `maxDeliver` attempts.
 */
export class RemoteAgentUnavailableError extends ConclaveError {
  constructor(
    readonly url: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      "E_REMOTE_UNAVAILABLE",
      `the remote A2A agent at ${url} did not answer: ${reason}; a transient failure (check that the agent is up, or raise remote.timeoutMs)`,
      options,
    );
  }
}

/**
 * A remote A2A agent serving a role refused or failed the task itself (a
 * failed, rejected or canceled A2A task, a JSON-RPC error, or credentials it
 * does not accept). Permanent: asking again would get the same answer.
 */
export class RemoteAgentRefusedError extends PermanentError {
  override readonly code: string = "E_REMOTE_REFUSED";
  constructor(
    readonly url: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`the remote A2A agent at ${url} refused the task: ${reason}`, options);
  }
}
