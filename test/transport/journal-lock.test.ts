/**
 * One process per embedded journal: two `conclave up` on one data dir each
 * loaded the journal's unacknowledged messages and ran the same tasks at
 * once. A lock file beside the journal names the process using it; a live
 * other process's lock refuses the open with what to do, a dead one's is
 * taken over, and the same process may reopen it.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { acquireProcessLock, LockHeldError } from "../../src/core/process-lock.js";
import { ConfigError } from "../../src/errors/index.js";
import { Journal } from "../../src/transport/memory/journal.js";

/** The pid of a process that has ended. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
    encoding: "utf8",
  });
  return Number(child.stdout);
}

describe("the embedded journal's process lock", () => {
  test("another live process's lock refuses the journal, naming it and what to do", () => {
    const dir = mkdtempSync(join(tmpdir(), "conclave-journal-lock-"));
    try {
      const path = join(dir, "data", "journal.db");
      const first = new Journal(path);
      assert.equal(readFileSync(`${path}.lock`, "utf8").trim(), String(process.pid));
      first.close();
      assert.equal(existsSync(`${path}.lock`), false, "released on close");
      // The parent process (the test runner) is alive and is not us.
      writeFileSync(`${path}.lock`, `${process.ppid}\n`);
      assert.throws(
        () => new Journal(path),
        (error: Error) => {
          assert.ok(error instanceof ConfigError);
          assert.match(error.message, new RegExp(`another process \\(pid ${process.ppid}\\)`));
          assert.match(
            error.message,
            /another data dir \(--data-dir\); if no such process runs, delete .*journal\.db\.lock/,
          );
          return true;
        },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a lock left by a process that died is taken over; the same process may reopen", () => {
    const dir = mkdtempSync(join(tmpdir(), "conclave-journal-lock-"));
    try {
      const lock = join(dir, "x.lock");
      writeFileSync(lock, `${deadPid()}\n`);
      const release = acquireProcessLock(lock);
      assert.equal(readFileSync(lock, "utf8").trim(), String(process.pid));
      const again = acquireProcessLock(lock);
      again();
      assert.equal(existsSync(lock), true, "a nested acquire does not release the outer one");
      release();
      assert.equal(existsSync(lock), false);
      writeFileSync(lock, "garbage");
      acquireProcessLock(lock)();
      writeFileSync(lock, `${process.ppid}\n`);
      assert.throws(() => acquireProcessLock(lock), LockHeldError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
