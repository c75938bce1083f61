import { StoreError } from "../errors/index.js";

/**
 * Node's codes for a connection that could not be made or was lost: the
 * store's server is down, restarting or cut off, not refusing the operation.
 */
const CONNECTION_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
]);

/**
 * Postgres SQLSTATEs of the same kind: class 08 (connection exception),
 * the server shutting down or starting up (57P01–57P03), and a new
 * connection refused because too many are open (53300: the server's
 * `max_connections` or the role's limit), which frees up as other
 * clients disconnect.
 */
const SQLSTATE_UNREACHABLE = /^(08[0-9A-Z]{3}|57P0[1-3]|53300)$/;

/** pg's own words for a lost connection, which carry no code. */
const DRIVER_MESSAGES =
  /Connection terminated|connection error and is not queryable|timeout exceeded when trying to connect/i;

/**
 * True when `error` is a {@link StoreError} whose cause is a connection
 * failure (ECONNRESET, ECONNREFUSED, a Postgres connection exception or
 * shutdown, a connection refused for too many connections, …): the store could not be reached, so the same call may
 * succeed once it is back. False for everything else, among them a store
 * that answered with an error (a constraint, a full disk) and a closed
 * store (`ClosedError`). The one place that tells the two apart.
 */
export function isStoreUnreachable(error: unknown): boolean {
  let store = false;
  const seen = new Set<unknown>();
  const pending: unknown[] = [error];
  while (pending.length > 0 && seen.size < 16) {
    const e = pending.shift();
    if (!(e instanceof Error) || seen.has(e)) continue;
    seen.add(e);
    if (e instanceof StoreError) store = true;
    else if (store && isConnectionFailure(e)) return true;
    pending.push(e.cause);
    // A connection attempt to several addresses fails with all of their errors.
    if (e instanceof AggregateError) pending.push(...e.errors);
  }
  return false;
}

function isConnectionFailure(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === "string" && (CONNECTION_CODES.has(code) || SQLSTATE_UNREACHABLE.test(code))) {
    return true;
  }
  return DRIVER_MESSAGES.test(error.message);
}
