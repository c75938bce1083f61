/**
 * A lock file that says which process uses a resource for as long as it
 * runs (the embedded broker's journal): created exclusively, holding the
 * process id. A lock whose process still runs refuses a second user; one
 * left by a process that died (kill -9, a power cut) is taken over. The
 * same process may open the resource again (a test that reopens it).
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";

/** Another live process holds the lock: its pid. */
export class LockHeldError extends Error {
  constructor(
    readonly path: string,
    readonly pid: number,
  ) {
    super(`${path} is held by process ${pid}`);
  }
}

/**
 * Takes the lock at `path` for this process; returns its release (which
 * removes the file only while it is still this process's).
 *
 * @throws LockHeldError when a live process other than this one holds it.
 */
export function acquireProcessLock(path: string): () => void {
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx", 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = holderOf(path);
      if (holder === process.pid) return () => {};
      if (holder !== undefined && isAlive(holder)) throw new LockHeldError(path, holder);
      // Left by a process that died, or half written: taken over.
      rmSync(path, { force: true });
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    return () => {
      if (holderOf(path) === process.pid) rmSync(path, { force: true });
    };
  }
  throw new Error(`could not take the lock ${path}: it keeps being replaced`);
}

function holderOf(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, "utf8").trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
