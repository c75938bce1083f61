/** Each error of a cause chain, outermost first (bounded, in case of a loop). */
export function* causeChain(error: unknown): Generator<Error> {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) yield e;
}

/** The node error code of an error (`ECONNREFUSED`, `CERT_HAS_EXPIRED`, ...), when it has a string one. */
export function errorCode(error: Error): string | undefined {
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === "string" ? code : undefined;
}
