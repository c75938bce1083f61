import { TimeoutError } from "../errors/index.js";

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
