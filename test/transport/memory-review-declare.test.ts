/**
 * A queue declaration that fails (its dead letters would go nowhere) must
 * leave nothing behind: the embedded broker used to register the queue in
 * memory before checking, so enqueues to its subjects were accepted and
 * acknowledged while the queue was never journaled, and a restart dropped
 * every one of them without a word.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, UnroutableError } from "../../src/errors/index.js";
import { MemoryBroker } from "../../src/transport/memory/broker.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import { until } from "../helpers/until.js";

const work = {
  name: "work",
  subjects: "app.task.>",
  ackWaitMs: 30_000,
  maxDeliver: 3,
  deadLetterSubject: "app.dlq.work",
};
const dlq = {
  name: "dlq",
  subjects: "app.dlq.>",
  ackWaitMs: 30_000,
  maxDeliver: 1,
  deadLetterSubject: "app.dlq.dlq",
};

test("memory: an ensureQueue refused for an unroutable dead-letter subject declares no queue", async () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-review-declare-"));
  const journalPath = join(dir, "journal.db");
  try {
    const broker = new MemoryBroker({ journalPath });
    const bus = createMemoryTransport({ broker });
    await assert.rejects(bus.ensureQueue(work), ConfigError);
    await assert.rejects(
      bus.enqueue("app.task.a", new Uint8Array([1]), { msgId: "m1" }),
      UnroutableError,
      "no queue takes the subject: the declaration failed",
    );
    assert.throws(() => bus.consume("work", () => undefined, { maxInFlight: 1 }), ConfigError);
    await bus.close();
    broker.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("memory: an ensureQueue update refused for an unroutable dead-letter subject keeps the old settings", async () => {
  const bus = createMemoryTransport();
  await bus.ensureQueue(dlq);
  await bus.ensureQueue(work);
  await assert.rejects(
    bus.ensureQueue({ ...work, subjects: "app.job.>", deadLetterSubject: "app.nowhere.work" }),
    ConfigError,
  );
  const r = await bus.enqueue("app.task.a", new Uint8Array([1]), { msgId: "m1" });
  assert.equal(r.duplicate, false, "the queue still takes its old subjects");
  await assert.rejects(
    bus.enqueue("app.job.a", new Uint8Array([1]), { msgId: "m2" }),
    UnroutableError,
  );
  // Its dead letters still go to the old subject: term lands in dlq.
  const dead: string[] = [];
  bus.consume(
    "dlq",
    async (d) => {
      dead.push(d.subject);
      await d.ack();
    },
    { maxInFlight: 1 },
  );
  bus.consume("work", (d) => d.term("no"), { maxInFlight: 1 });
  await until(() => dead.length > 0, 5_000, "the dead letter");
  assert.deepEqual(dead, ["app.dlq.work"]);
  await bus.close();
});

test("memory: a message dead-lettered after its dead-letter queue moved to other subjects is kept, not dropped", async () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-review-declare-"));
  const journalPath = join(dir, "journal.db");
  try {
    const errors: Error[] = [];
    let broker = new MemoryBroker({ journalPath, onError: (e) => errors.push(e) });
    let bus = createMemoryTransport({ broker });
    await bus.ensureQueue(dlq);
    await bus.ensureQueue(work);
    // dlq moves away from app.dlq.>: work's dead letters (app.dlq.work) have nowhere to go.
    await bus.ensureQueue({ ...dlq, subjects: "ops.dlq.>", deadLetterSubject: "ops.dlq.dlq" });
    await bus.enqueue("app.task.a", new Uint8Array([1]), { msgId: "m1" });
    let terms = 0;
    bus.consume(
      "work",
      async (d) => {
        terms++;
        await d.term("no");
      },
      { maxInFlight: 1 },
    );
    await until(() => terms > 0, 5_000, "the term");
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(terms, 1);
    assert.equal((await bus.queueInfo("work")).pending, 1, "the message is kept");
    assert.ok(
      errors.some((e) => e instanceof ConfigError && /app\.dlq\.work/.test(e.message)),
      "the unroutable dead letter is reported",
    );
    await bus.close();
    broker.close();

    // Restarted with the dead-letter queue back on its subjects: it lands there.
    broker = new MemoryBroker({ journalPath });
    bus = createMemoryTransport({ broker });
    await bus.ensureQueue(dlq);
    await bus.ensureQueue(work);
    const dead: string[] = [];
    bus.consume(
      "dlq",
      async (d) => {
        dead.push(d.headers["conclave-original-msg-id"] ?? "");
        await d.ack();
      },
      { maxInFlight: 1 },
    );
    bus.consume("work", (d) => d.term("no"), { maxInFlight: 1 });
    await until(() => dead.length > 0, 5_000, "the dead letter");
    assert.deepEqual(dead, ["m1"]);
    await bus.close();
    broker.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
