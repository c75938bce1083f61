/**
 * Every 1,024 enqueues the embedded broker drops expired ids from the
 * journal's dedup table, inside `enqueue`, after it had already recorded
 * the new id as seen. When that delete failed (the journal busy or its disk
 * full), the enqueue threw SQLite's raw error, stored nothing, and yet its
 * id stayed in the dedup window: the producer's retry was answered
 * "duplicate" and the message was lost. The prune is housekeeping: its
 * failure is reported, and the enqueue goes on.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { ManualClock } from "../../src/core/clock.js";
import { StoreError } from "../../src/errors/index.js";
import { declareTaskQueues } from "../../src/testkit/conformance/queues.js";
import { MemoryBroker } from "../../src/transport/memory/broker.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";

test("memory: a dedup prune that fails loses no enqueue", { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-review-prune-"));
  const journalPath = join(dir, "journal.db");
  const other = new Database(journalPath);
  try {
    const clock = new ManualClock(1_000_000);
    const errors: Error[] = [];
    const broker = new MemoryBroker({
      journalPath,
      clock,
      dedupWindowMs: 1_000,
      onError: (e) => errors.push(e),
    });
    const bus = createMemoryTransport({ broker });
    const { work } = await declareTaskQueues(bus, "pr");
    await Promise.all(
      Array.from({ length: 1023 }, (_, i) =>
        bus.enqueue("pr.task.x", new Uint8Array([1]), { msgId: `old-${i}` }),
      ),
    );
    clock.advance(5_000); // every id so far left its window: the next prune deletes them
    // Another connection holds the journal's write lock: the prune's delete fails (SQLITE_BUSY).
    other.exec("begin immediate");
    let first: unknown;
    const attempt = bus.enqueue("pr.task.x", new Uint8Array([2]), { msgId: "new" });
    other.exec("rollback");
    try {
      await attempt;
    } catch (error) {
      first = error;
    }
    if (first !== undefined) {
      // The producer retries an enqueue that failed: it must be stored now.
      const retry = await bus.enqueue("pr.task.x", new Uint8Array([2]), { msgId: "new" });
      assert.equal(
        retry.duplicate,
        false,
        `the retry after ${String(first)} is stored, not a duplicate`,
      );
    }
    assert.equal((await bus.queueInfo(work.name)).pending, 1024, "the new message is queued");
    assert.ok(
      errors.some((e) => e instanceof StoreError && /dedup window/.test(e.message)),
      "the failed prune is reported, as a StoreError",
    );
    await bus.close();
    broker.close();
  } finally {
    other.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
