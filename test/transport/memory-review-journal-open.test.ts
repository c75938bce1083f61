/**
 * Opening the embedded broker's journal on a file that is not a SQLite
 * database (damaged, or another file given by mistake): the error said
 * "check the directory exists and is writable" (both true), hiding the
 * reason. It names the file and says what is wrong with it.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { StoreError } from "../../src/errors/index.js";
import { MemoryBroker } from "../../src/transport/memory/broker.js";

test("memory: a journal file that is not a database is refused with an error saying so", () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-review-open-"));
  const journalPath = join(dir, "journal.db");
  try {
    writeFileSync(journalPath, "not a database: ".repeat(64));
    assert.throws(
      () => new MemoryBroker({ journalPath }),
      (error: unknown) => {
        assert.ok(error instanceof StoreError);
        assert.ok(error.message.includes(journalPath), error.message);
        assert.match(error.message, /not a (SQLite )?database/, error.message);
        assert.doesNotMatch(error.message, /check the directory exists/, error.message);
        return true;
      },
    );
    // The failed open let go of the file: a good journal opens there now.
    rmSync(journalPath);
    const broker = new MemoryBroker({ journalPath });
    broker.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("memory: a journal whose queue record cannot be read fails to open, and opens again once repaired", () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-review-open-"));
  const journalPath = join(dir, "journal.db");
  try {
    new MemoryBroker({ journalPath }).close();
    const raw = new Database(journalPath);
    raw.prepare("insert into conclave_queues values (?, ?)").run("work", "{not json");
    raw.close();
    assert.throws(() => new MemoryBroker({ journalPath }));
    const fix = new Database(journalPath);
    fix.prepare("delete from conclave_queues where name = ?").run("work");
    fix.close();
    // The failed open let go of the journal: this process may open it again.
    const broker = new MemoryBroker({ journalPath });
    broker.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
