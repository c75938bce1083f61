/**
 * `conclave up --fresh`: starts a swarm file's run anew by deleting the
 * previous run's state — the SQLite store and the embedded queue journal
 * (with their `-wal` and `-shm` files). Agent keys are kept: they are the
 * agents' identities, pinned by the other nodes, not run state. A Postgres
 * store is never dropped from here.
 */
import { existsSync, rmSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import type { SwarmConfig as SwarmFile } from "../config/schema.js";
import { acquireProcessLock, LockHeldError } from "../core/process-lock.js";
import { ConfigError } from "../errors/index.js";
import { journalPath } from "../runtime/from-config.js";
import { parseStoreUrl } from "../store/open-store.js";

/** The files of a run's state that exist now. */
export function runStateFiles(config: SwarmFile): string[] {
  const store = parseStoreUrl(config.store);
  if (store.kind !== "sqlite") {
    throw new ConfigError(
      `--fresh deletes SQLite stores only, and this swarm's store is ${store.kind}: drop its schema yourself (dropPostgresSchema, or drop schema … cascade) if you mean to, then run without --fresh`,
    );
  }
  const bases = [store.path, ...(config.transport === "memory" ? [journalPath(config)] : [])];
  return bases
    .flatMap((base) => ["", "-wal", "-shm"].map((s) => base + s))
    .filter((f) => existsSync(f));
}

/**
 * Deletes the previous run's state after asking (or at once with `yes`).
 * Refuses without `yes` when nobody can answer (stdin is not a terminal).
 * Returns false when the user said no.
 */
export async function freshStart(config: SwarmFile, yes: boolean): Promise<boolean> {
  const files = runStateFiles(config);
  if (files.length === 0) return true;
  return whileNoProcessRuns(config, () => confirmAndDelete(config, files, yes));
}

/**
 * Runs `remove` (which deletes a run's state) holding the lock of the
 * swarm's queue journal, the one a live process running the swarm holds:
 * the state of a run still going is never deleted under it.
 *
 * @throws ConfigError naming that process, when one holds the lock.
 */
export async function whileNoProcessRuns<T>(
  config: SwarmFile,
  remove: () => T | Promise<T>,
): Promise<T> {
  const lock = `${journalPath(config)}.lock`;
  let release: () => void;
  try {
    release = acquireProcessLock(lock);
  } catch (error) {
    if (error instanceof LockHeldError) {
      throw new ConfigError(
        `another process (pid ${error.pid}) is running ${config.swarm} on ${config.dataDir}: nothing was deleted. Stop it first, or give this run another data dir (--data-dir); if no such process runs, delete ${lock}`,
      );
    }
    // No folder yet: no process can be running there.
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return remove();
    throw error;
  }
  try {
    return await remove();
  } finally {
    release();
  }
}

async function confirmAndDelete(
  config: SwarmFile,
  files: readonly string[],
  yes: boolean,
): Promise<boolean> {
  if (!yes) {
    if (!process.stdin.isTTY) {
      throw new ConfigError(
        `--fresh would delete ${files.join(", ")}; nobody can confirm here (stdin is not a terminal): add --yes`,
      );
    }
    const prompt = createInterface({ input: process.stdin, output: process.stderr });
    const answer = await prompt.question(
      `delete the previous run of ${config.swarm} (${files.join(", ")})? [y/N] `,
    );
    prompt.close();
    if (!/^y(es)?$/i.test(answer.trim())) return false;
  }
  for (const file of files) rmSync(file, { force: true });
  process.stderr.write(`fresh start: deleted ${files.length} file(s) of the previous run\n`);
  return true;
}
