import {
  EnvelopeTooLargeError,
  InvalidSubjectError,
  PermanentError,
  TimeoutError,
} from "../errors/index.js";

/**
 * Where an adapter sends failures nobody awaits (a throwing handler, a lost
 * connection, a settlement that failed behind a lease): the `onError` hook
 * of its configuration, or else a process warning. A hook that throws is
 * ignored: it must not take the transport down.
 */
export function createErrorReporter(
  onError: ((error: Error) => void) | undefined,
  who: string,
): (error: Error) => void {
  const hook =
    onError ?? ((error: Error) => process.emitWarning(`conclave ${who}: ${error.message}`));
  return (error) => {
    try {
      hook(error);
    } catch {
      // A failing error hook must not take the transport down.
    }
  };
}

/** A request that got no reply in time, worded the same on every adapter. */
export function requestTimeoutError(
  subject: string,
  timeoutMs: number,
  cause?: unknown,
): TimeoutError {
  return new TimeoutError(
    `no reply on "${subject}" within ${timeoutMs} ms; the responder is slow or gone — raise timeoutMs or check it`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Whether a send failed for a reason that sending the same message again
 * cannot fix: the bus refused this message itself (a subject it does not
 * accept, a `PermanentError` such as NATS's `PayloadTooLargeError`, an
 * envelope over the size limit) rather than failing for a while (a lost
 * connection, a full queue, a cluster electing a leader, no queue declared
 * yet for the subject). A sender gives such a message up (the outbox
 * dead-letters it) instead of retrying it for ever.
 *
 * @example
 * ```ts
 * try { await bus.enqueue(subject, data, { msgId }); }
 * catch (error) { if (refusedForGood(error)) giveUp(error); else retryLater(); }
 * ```
 */
export function refusedForGood(error: unknown): boolean {
  return (
    error instanceof PermanentError ||
    error instanceof InvalidSubjectError ||
    error instanceof EnvelopeTooLargeError
  );
}
