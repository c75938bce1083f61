/**
 * True when `error`, or an error it was caused by, says the disk is full:
 * the system's ENOSPC, or SQLite's SQLITE_FULL ("database or disk is
 * full"), or a broker's report of either (nats-server 2.10+ answers a
 * publish with its store's "no space left on device"). The one place that
 * recognises a full disk, for the store, the embedded transport's queue
 * journal and the NATS transport alike.
 */
export function isDiskFull(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOSPC" || code === "SQLITE_FULL") return true;
    if (/database or disk is full|no space left on device/i.test(e.message)) return true;
  }
  return false;
}
