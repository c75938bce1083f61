/**
 * The embedded broker's deduplication window on disk (src/transport/memory/
 * broker.ts, journal.ts): ids whose window passed leave the journal, a
 * restarted broker remembers only the ids still inside their window, and
 * the journal's prune runs a quarter window apart (it reads the whole
 * table; run every 1,024 enqueues it took most of a long busy run's CPU).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import Database from "better-sqlite3";
import { ManualClock } from "../../src/core/clock.js";
import { MemoryBroker } from "../../src/transport/memory/broker.js";

const WINDOW = 1000;
const data = new TextEncoder().encode("x");

describe("the embedded broker's dedup window in its journal", () => {
  let dir: string;
  let journalPath: string;
  let clock: ManualClock;
  let broker: MemoryBroker;
  const open = () => {
    broker = new MemoryBroker({ journalPath, clock, dedupWindowMs: WINDOW });
    broker.ensureQueue({
      name: "dlq",
      subjects: "d.dlq.>",
      ackWaitMs: 30_000,
      maxDeliver: 5,
      deadLetterSubject: "d.dlq.dlq",
    });
    broker.ensureQueue({
      name: "work",
      subjects: "d.task.>",
      ackWaitMs: 30_000,
      maxDeliver: 5,
      deadLetterSubject: "d.dlq.work",
    });
  };
  /** The ids the journal file holds in its dedup table. */
  const onDisk = (): string[] => {
    const db = new Database(journalPath, { readonly: true });
    try {
      return (
        db.prepare("select msg_id from conclave_dedup order by msg_id").all() as {
          msg_id: string;
        }[]
      ).map((r) => r.msg_id);
    } finally {
      db.close();
    }
  };
  /** Enough enqueues to reach the broker's prune check (every 1,024). */
  const burst = async (prefix: string) => {
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 1024; i++) sends.push(broker.enqueue("d.task.w.x", data, `${prefix}${i}`));
    await Promise.all(sends);
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "conclave-dedup-"));
    journalPath = join(dir, "journal.db");
    clock = new ManualClock(1_000_000);
    open();
  });
  afterEach(() => {
    broker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("ids past their window leave the journal; a restarted broker remembers only live ones", async () => {
    await broker.enqueue("d.task.w.x", data, "old");
    clock.advance(WINDOW + 1);
    await broker.enqueue("d.task.w.x", data, "live");
    await burst("a");
    assert.equal(onDisk().includes("old"), false, "pruned");
    assert.equal(onDisk().includes("live"), true);

    broker.close();
    open();
    assert.deepEqual(await broker.enqueue("d.task.w.x", data, "live"), { duplicate: true });
    assert.deepEqual(await broker.enqueue("d.task.w.x", data, "old"), { duplicate: false });
  });

  test("the journal is pruned a quarter window apart, not on every 1,024 enqueues", async () => {
    await burst("a"); // the first prune
    clock.advance(WINDOW + 1); // every "a" id has left its window
    await burst("b");
    assert.equal(onDisk().filter((id) => id.startsWith("a")).length, 0, "pruned once due");
    clock.advance(WINDOW / 8);
    await burst("c"); // the "b" ids are still live: nothing to see, and no prune due
    clock.advance(WINDOW); // the "b" ids have left their window; a prune is due
    await burst("d");
    assert.equal(onDisk().filter((id) => id.startsWith("b")).length, 0);
    clock.advance(WINDOW / 8); // the "c" ids have left too, but the last prune was just now
    await burst("e");
    assert.equal(
      onDisk().filter((id) => id.startsWith("c")).length,
      1024,
      "kept until a quarter window after the last prune",
    );
    clock.advance(WINDOW / 4);
    await burst("f");
    assert.equal(onDisk().filter((id) => id.startsWith("c")).length, 0);
  });
});
