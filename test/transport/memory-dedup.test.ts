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
import { declareTaskQueues } from "../../src/testkit/conformance/queues.js";
import { MemoryBroker } from "../../src/transport/memory/broker.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";

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

/**
 * An enqueue whose journal commit fails left nothing durable, so it must not
 * count for deduplication: its id used to stay in the window, and the
 * producer's retry was reported `duplicate` with nothing stored (the message
 * gone after a restart). Another writer holding the journal's database makes
 * the commit fail (SQLITE_BUSY after the busy timeout), as a full disk or an
 * I/O error would.
 */
describe("an enqueue whose journal commit fails", () => {
  let dir: string;
  let journalPath: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "conclave-dedup-fail-"));
    journalPath = join(dir, "journal.db");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Holds the journal's write lock until the returned function is called. */
  const lockJournal = () => {
    const other = new Database(journalPath);
    other.prepare("begin immediate").run();
    return () => {
      other.prepare("rollback").run();
      other.close();
    };
  };
  /** What a transport reopened on the journal (a restart) holds in `queue`. */
  const pendingAfterRestart = async (queue: string) => {
    const bus = createMemoryTransport({ journalPath, onError: () => undefined });
    try {
      return (await bus.queueInfo(queue)).pending;
    } finally {
      await bus.close();
    }
  };

  test("rejects, and the retry of its id is stored, durably", { timeout: 30_000 }, async () => {
    const bus = createMemoryTransport({ journalPath, onError: () => undefined });
    const { work } = await declareTaskQueues(bus, "jf");
    const unlock = lockJournal();
    await assert.rejects(bus.enqueue("jf.task.a", data, { msgId: "m-1" }), {
      name: "StoreError",
    });
    unlock();
    assert.deepEqual(await bus.enqueue("jf.task.a", data, { msgId: "m-1" }), {
      duplicate: false,
    });
    assert.equal((await bus.queueInfo(work.name)).pending, 1, "the failed copy left memory");
    await bus.close();
    assert.equal(await pendingAfterRestart(work.name), 1);
  });

  test("a repeat of its id made meanwhile waits for it, then is stored", {
    timeout: 30_000,
  }, async () => {
    const bus = createMemoryTransport({ journalPath, onError: () => undefined });
    const { work } = await declareTaskQueues(bus, "jf");
    const unlock = lockJournal();
    const first = bus.enqueue("jf.task.a", data, { msgId: "m-2" });
    const repeat = bus.enqueue("jf.task.a", data, { msgId: "m-2" });
    await assert.rejects(first, { name: "StoreError" });
    unlock();
    assert.deepEqual(await repeat, { duplicate: false });
    await bus.close();
    assert.equal(await pendingAfterRestart(work.name), 1);
  });
});
