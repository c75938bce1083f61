/**
 * What the NATS driver's failures mean in conclave's error classes, and which
 * of them are worth retrying.
 */

import type { Clock } from "../../core/clock.js";
import {
  ClosedError,
  ConclaveError,
  NoRespondersError,
  PermanentError,
  TimeoutError,
  TransportError,
} from "../../errors/index.js";
import { causeChain } from "../cause-chain.js";
import { requestTimeoutError } from "../failures.js";
import { apiCode, type Driver } from "./driver.js";

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
  for (const e of causeChain(error)) {
    if (isDriverError(e, "NoResponders", driver.core.NoRespondersError)) return true;
    if (isDriverError(e, "NoRespondersError", driver.core.NoRespondersError)) return true;
  }
  return false;
}

export function isTimeout(driver: Driver, error: unknown): boolean {
  for (const e of causeChain(error)) {
    if (isDriverError(e, "TimeoutError", driver.core.TimeoutError)) return true;
  }
  return false;
}

export function isClosed(driver: Driver, error: unknown): boolean {
  for (const e of causeChain(error)) {
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
      `${what}: the NATS server did not answer in time; check that it is up and reachable and that its JetStream store has free disk space, or raise apiTimeoutMs`,
      { cause: error },
    );
  }
  const detail = redactUrl(error instanceof Error ? error.message : String(error));
  return new TransportError(`${what} failed on the NATS server: ${detail}`, { cause: error });
}

/**
 * A message (its data and headers together) larger than the NATS server's
 * `max_payload`: the server never takes it, so retrying cannot help. A
 * `PermanentError`.
 */
export class PayloadTooLargeError extends PermanentError {
  override readonly code: string = "E_PAYLOAD_TOO_LARGE";

  constructor(
    what: string,
    readonly size: number,
    readonly limit: number | undefined,
    options?: { cause?: unknown },
  ) {
    const over = limit === undefined ? "over" : `over the ${limit}-byte`;
    super(
      `${what}: the message is ${size} bytes with its headers, ${over} max_payload of the NATS server, which never accepts it (retrying cannot help); store large payloads elsewhere and send a reference, or raise max_payload in the nats-server configuration`,
      options,
    );
  }
}

/** The driver refused a publish larger than the server's `max_payload`. */
export function isMaxPayloadExceeded(error: unknown): boolean {
  for (const e of causeChain(error)) {
    if (!(e instanceof ConclaveError) && /max_payload/i.test(e.message)) return true;
  }
  return false;
}

/** Maps a failed core request to `TimeoutError` / `NoRespondersError`. */
export function mapRequestError(
  driver: Driver,
  error: unknown,
  subject: string,
  timeoutMs: number,
): Error {
  if (isNoResponders(driver, error)) return new NoRespondersError(subject);
  if (isTimeout(driver, error)) return requestTimeoutError(subject, timeoutMs, error);
  return mapError(driver, error, `request on "${subject}"`);
}

/** A server URL with any user and password removed, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/\s]*@/g, "//");
}

/** A driver error's message without anything that could be a credential. */
export function describeCause(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return redactUrl(message);
}

/**
 * JetStream API errors that go away by themselves: insufficient resources /
 * no suitable peers (10005, servers of the cluster down), system temporarily
 * unavailable (10008), cluster cannot handle the request (10009, no leader),
 * stream or consumer offline (10118, 10119).
 */
const TRANSIENT_API_CODES: ReadonlySet<number> = new Set([10005, 10008, 10009, 10118, 10119]);

/** Whether `error` or one of its causes is the JetStream API error `code`. */
export function hasApiCode(driver: Driver, error: unknown, code: number): boolean {
  for (const e of causeChain(error)) if (apiCode(driver, e) === code) return true;
  return false;
}

/**
 * Whether a failed JetStream call may succeed if tried again shortly: the
 * server did not answer in time, or said it is temporarily unable (no
 * leader, peers missing, stream or consumer offline); with
 * `noResponderIsTransient`, also no JetStream responder at all (which, once
 * JetStream was seen working, means a cluster in transition). Walks the
 * causes, since the error may already be mapped.
 */
export function isTransient(
  driver: Driver,
  error: unknown,
  noResponderIsTransient: boolean,
): boolean {
  for (const e of causeChain(error)) {
    if (e instanceof TimeoutError || isTimeout(driver, e)) return true;
    if (noResponderIsTransient && e.name === "JetStreamNotEnabled") return true;
    const code = apiCode(driver, e);
    if (code !== undefined && TRANSIENT_API_CODES.has(code)) return true;
  }
  return false;
}

/** Backoff between attempts of a call JetStream could not answer yet: 250 ms, doubling to 2 s. */
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 2_000;

/** How `retryWhileUnavailable` decides and reports. */
export interface UnavailableRetry {
  readonly clock: Clock;
  /** How long to keep trying, in ms from the first attempt. */
  readonly budgetMs: number;
  /** Whether a failure may go away by itself (else it is thrown at once). */
  retryable(error: unknown): boolean;
  /** Told once, at the first retry, so that a wait is not silent. */
  onFirstRetry(error: unknown): void;
  /** The error to throw when the budget is spent. */
  gaveUp(error: unknown, attempts: number, elapsedMs: number): Error;
  /** Runs after each wait (e.g. to stop when the transport closed meanwhile). */
  afterWait?(): void;
}

/**
 * Runs `call` until it succeeds, retrying the failures that go away by
 * themselves (a cluster electing a leader, a server restarting) with backoff
 * until the budget is spent.
 */
export async function retryWhileUnavailable<T>(
  call: () => Promise<T>,
  policy: UnavailableRetry,
): Promise<T> {
  const startedAt = policy.clock.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!policy.retryable(error)) throw error;
      const elapsed = policy.clock.now() - startedAt;
      const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (attempt - 1));
      if (elapsed + delay > policy.budgetMs) throw policy.gaveUp(error, attempt, elapsed);
      if (attempt === 1) policy.onFirstRetry(error);
      await new Promise<void>((resolve) => policy.clock.setTimer(resolve, delay));
      policy.afterWait?.();
    }
  }
}
