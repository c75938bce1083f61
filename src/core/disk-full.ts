/**
 * True when `error`, or an error it was caused by, says the disk is full:
 * the system's ENOSPC, or SQLite's SQLITE_FULL ("database or disk is
 * full"). The one place that recognises a full disk, for the store and the
 * embedded transport's queue journal alike.
 */
export function isDiskFull(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOSPC" || code === "SQLITE_FULL") return true;
    if (/database or disk is full|no space left on device/i.test(e.message)) return true;
  }
  return false;
}
