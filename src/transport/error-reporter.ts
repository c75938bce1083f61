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
