/**
 * The `TaskStore` part of the store conformance suite: completions are
 * atomic and idempotent by task id across handles, the outbox keeps what
 * was committed until deleted, effects are counted, and a group commit
 * never lets one bad completion fail its neighbours.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { StoreError } from "../../../errors/index.js";
import type { DeadLetterStore, TaskCompletion, TaskStore } from "../../../store/port.js";
import {
  assertClosedHandleRefuses,
  bytes,
  type Closable,
  describeStorePart,
  id,
  type StorePartOptions,
} from "./backend.js";

/** The part of the store conformance suite for the `TaskStore` (completions, effects and the outbox); see the port's contract. */
export function runTaskStoreConformance(options: StorePartOptions<TaskStore & Closable>): void {
  describeStorePart("task store", options, (fixture) => {
    test("completeTask is atomic and idempotent by task id", async () => {
      const taskId = id();
      const completion = {
        taskId,
        agent: "dev-1",
        at: 1,
        effects: [{ kind: "k", key: "root-1", data: { n: 1 } }],
        outbox: [
          { id: `${taskId}-o`, mode: "enqueue" as const, subject: "s.task.a.b", data: bytes("x") },
        ],
      };
      assert.deepEqual(await fixture.store.completeTask(completion), { duplicate: false });
      assert.deepEqual(await fixture.store.completeTask(completion), { duplicate: true });
      assert.equal(await fixture.store.isCompleted(taskId), true);
      assert.equal(await fixture.store.isCompleted(id()), false);
      const effects = (await fixture.store.effects("k")).filter((e) => e.taskId === taskId);
      assert.equal(effects.length, 1, "the duplicate completion wrote no second effect");
      assert.deepEqual(effects[0]?.data, { n: 1 });
      const outbox = await fixture.store.pendingOutbox({ taskId });
      assert.equal(outbox.length, 1);
      assert.equal(new TextDecoder().decode(outbox[0]?.data), "x");
    });

    test("isCompleted asked many times at once answers each task for itself", async () => {
      // Adapters may answer the checks of one turn together (one read for
      // the burst): each answer must still be its own task's.
      const done = Array.from({ length: 5 }, () => id());
      await Promise.all(
        done.map((taskId) =>
          fixture.store.completeTask({ taskId, agent: "a", at: 1, effects: [], outbox: [] }),
        ),
      );
      const asked = [...done, id(), id()].flatMap((taskId, i) =>
        i % 2 ? [taskId, taskId] : [taskId],
      );
      const answers = await Promise.all(asked.map((taskId) => fixture.store.isCompleted(taskId)));
      assert.deepEqual(
        answers,
        asked.map((taskId) => done.includes(taskId)),
      );
    });

    test("concurrent completions of the same task: exactly one wins", async () => {
      const taskId = id();
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          fixture.store.completeTask({
            taskId,
            agent: "a",
            at: 2,
            effects: [{ kind: "race", key: taskId }],
            outbox: [],
          }),
        ),
      );
      assert.equal(results.filter((r) => !r.duplicate).length, 1);
      const stats = await fixture.store.effectStats("race");
      assert.equal(stats.duplicateKeys, 0);
    });

    test("effectStats counts keys with an effect applied twice", async () => {
      const key = id();
      for (const taskId of [id(), id()]) {
        await fixture.store.completeTask({
          taskId,
          agent: "a",
          at: 3,
          effects: [{ kind: "twice", key }],
          outbox: [],
        });
      }
      const stats = await fixture.store.effectStats("twice");
      assert.equal(stats.keys, 1);
      assert.equal(stats.duplicateKeys, 1);
      const all = await fixture.store.allEffectStats();
      assert.deepEqual(
        all.find((s) => s.kind === "twice"),
        { kind: "twice", keys: 1, duplicateKeys: 1 },
      );
    });

    test("outbox entries stay until deleted, oldest first", async () => {
      const taskId = id();
      const outbox = ["a", "b", "c"].map((n) => ({
        id: `${taskId}-${n}`,
        mode: "publish" as const,
        subject: `s.event.${n}`,
        data: bytes(n),
      }));
      await fixture.store.completeTask({ taskId, agent: "a", at: 4, effects: [], outbox });
      const pending = await fixture.store.pendingOutbox({ taskId });
      assert.deepEqual(
        pending.map((p) => p.subject),
        ["s.event.a", "s.event.b", "s.event.c"],
      );
      await fixture.store.deleteOutbox([`${taskId}-a`, `${taskId}-b`]);
      assert.deepEqual(
        (await fixture.store.pendingOutbox({ taskId })).map((p) => p.id),
        [`${taskId}-c`],
      );
    });

    test("a sent task leaves pendingOutbox for sentOutbox until the completion it names settles it", async () => {
      const taskId = id();
      const [a, b, c] = ["a", "b", "c"].map((n) => `${taskId}-${n}`) as [string, string, string];
      const outbox = [a, b, c].map((oid) => ({
        id: oid,
        mode: "enqueue" as const,
        subject: "s.task.r.t",
        data: bytes(oid),
      }));
      await fixture.store.completeTask({ taskId, agent: "a", at: 4, effects: [], outbox });
      await fixture.store.markOutboxSent([
        { id: a, at: 100, receipt: "7:s" },
        { id: b, at: 50 },
        { id: `${taskId}-gone`, at: 50 },
      ]);
      const ours = async (sentBefore: number) =>
        (await fixture.store.sentOutbox({ sentBefore, limit: 10_000 })).filter(
          (e) => e.taskId === taskId,
        );
      assert.deepEqual(
        (await fixture.store.pendingOutbox({ taskId })).map((e) => e.id),
        [c],
      );
      const sent = await ours(100);
      assert.deepEqual(
        sent.map((e) => [e.id, e.sentAt, e.receipt, e.resends]),
        [
          [b, 50, undefined, 0],
          [a, 100, "7:s", 0],
        ],
      );
      assert.deepEqual(sent[1]?.data, bytes(a));
      assert.equal(sent[1]?.mode, "enqueue");
      assert.deepEqual(
        (await ours(99)).map((e) => e.id),
        [b],
      );
      // Sent again: counted, and behind the others.
      await fixture.store.markOutboxSent([{ id: b, at: 200, receipt: "9:s", resent: true }]);
      assert.deepEqual(
        (await ours(1000)).map((e) => [e.id, e.receipt, e.resends]),
        [
          [a, "7:s", 0],
          [b, "9:s", 1],
        ],
      );
      // Settled by the completion of its delivery, first time or duplicate.
      await fixture.store.completeTask({
        taskId: a,
        agent: "b",
        at: 5,
        effects: [],
        outbox: [],
        settles: [a],
      });
      await fixture.store.completeTask({
        taskId: a,
        agent: "b",
        at: 5,
        effects: [],
        outbox: [],
        // A lineage: ids with no entry are ignored.
        settles: [`${b}-gone`, b, `${b}.redrive.1`],
      });
      assert.deepEqual(await ours(1000), []);
      assert.deepEqual(
        (await fixture.store.pendingOutbox({ taskId })).map((e) => e.id),
        [c],
      );
    });

    test("a dead letter recorded under an outbox entry's id settles it", async (t) => {
      const store = fixture.store as TaskStore & Closable & Partial<DeadLetterStore>;
      if (store.recordDeadLetter === undefined) {
        t.skip("the store keeps no dead letters");
        return;
      }
      const taskId = id();
      const sent = `${taskId}-s`;
      await store.completeTask({
        taskId,
        agent: "a",
        at: 4,
        effects: [],
        outbox: [{ id: sent, mode: "enqueue", subject: "s.task.r.t", data: bytes("x") }],
      });
      await store.markOutboxSent([{ id: sent, at: 10, receipt: "1:s" }]);
      await store.recordDeadLetter({
        id: sent,
        subject: "s.task.r.t",
        reason: "handler threw: boom",
        deliveries: 5,
        at: 11,
        data: "",
      });
      const left = await store.sentOutbox({ sentBefore: 1000, limit: 10_000 });
      assert.equal(
        left.some((e) => e.id === sent),
        false,
      );
    });

    test("a dead letter settles the entries its settles names (a redrive's), first record or not", async (t) => {
      const store = fixture.store as TaskStore & Closable & Partial<DeadLetterStore>;
      if (store.recordDeadLetter === undefined) {
        t.skip("the store keeps no dead letters");
        return;
      }
      const taskId = id();
      const [first, second, other] = [1, 2, 3].map((n) => `${taskId}-x.redrive.${n}`) as [
        string,
        string,
        string,
      ];
      await store.completeTask({
        taskId,
        agent: "a",
        at: 4,
        effects: [],
        outbox: [first, second, other].map((oid) => ({
          id: oid,
          mode: "enqueue" as const,
          subject: "s.task.r.t",
          data: bytes(oid),
        })),
      });
      await store.markOutboxSent([first, second, other].map((oid) => ({ id: oid, at: 10 })));
      const dead = {
        id: `${taskId}-x`,
        subject: "s.task.r.t",
        reason: "handler threw: boom",
        deliveries: 5,
        at: 11,
        data: "",
      };
      await store.recordDeadLetter(dead, { settles: [dead.id, first] });
      // Recorded already: the record is kept as it was, the entry still settled.
      await store.recordDeadLetter({ ...dead, reason: "again" }, { settles: [second] });
      const left = (await store.sentOutbox({ sentBefore: 1000, limit: 10_000 })).filter(
        (e) => e.taskId === taskId,
      );
      assert.deepEqual(
        left.map((e) => e.id),
        [other],
      );
      assert.equal((await store.deadLetter?.(dead.id))?.reason, "handler threw: boom");
    });

    test("close commits the completions already requested", async () => {
      const other = await fixture.reopen();
      const taskIds = [id(), id(), id()];
      const done = taskIds.map((taskId) =>
        other.completeTask({ taskId, agent: "a", at: 7, effects: [], outbox: [] }),
      );
      await other.close();
      assert.deepEqual(
        await Promise.all(done),
        taskIds.map(() => ({ duplicate: false })),
      );
      for (const taskId of taskIds) assert.equal(await fixture.store.isCompleted(taskId), true);
    });

    test("a completion that cannot be stored fails alone, not its batch", async () => {
      const good = id();
      const bad = id();
      const results = await Promise.allSettled([
        fixture.store.completeTask({ taskId: good, agent: "a", at: 8, effects: [], outbox: [] }),
        fixture.store.completeTask({
          taskId: bad,
          agent: "a",
          at: 8,
          effects: [{ kind: "bad", key: bad, data: { n: 1n } }],
          outbox: [],
        }),
      ]);
      assert.deepEqual(results[0], { status: "fulfilled", value: { duplicate: false } });
      assert.equal(results[1]?.status, "rejected");
      assert.ok(results[1]?.status === "rejected" && results[1].reason instanceof StoreError);
      assert.equal(await fixture.store.isCompleted(bad), false);
    });

    test("two separate handles completing the same tasks concurrently apply each exactly once", async () => {
      const other = await fixture.reopen();
      try {
        const kind = `handles-${id()}`;
        const taskIds = Array.from({ length: 200 }, () => id());
        const complete = (s: TaskStore, taskId: string) =>
          s.completeTask({
            taskId,
            agent: s === fixture.store ? "first" : "second",
            at: 9,
            effects: [{ kind, key: taskId }],
            outbox: [
              { id: `${taskId}-o`, mode: "publish", subject: "s.event.x", data: bytes(taskId) },
            ],
          });
        // Opposite orders, several turns, so batches of both handles overlap.
        const calls: Promise<{ duplicate: boolean }>[][] = taskIds.map(() => []);
        for (let round = 0; round < 4; round++) {
          const slice = taskIds.slice(round * 50, round * 50 + 50);
          for (const [i, taskId] of slice.entries()) {
            calls[round * 50 + i]?.push(complete(fixture.store, taskId));
            const j = slice.length - 1 - i;
            calls[round * 50 + j]?.push(complete(other, slice[j] as string));
          }
          await new Promise((r) => setImmediate(r));
        }
        const results = await Promise.all(calls.map((c) => Promise.all(c)));
        for (const [i, pair] of results.entries()) {
          assert.equal(
            pair.filter((r) => !r.duplicate).length,
            1,
            `task ${taskIds[i]} applied exactly once`,
          );
        }
        assert.deepEqual(await fixture.store.effectStats(kind), {
          kind,
          keys: taskIds.length,
          duplicateKeys: 0,
        });
        assert.equal((await other.effects(kind)).length, taskIds.length);
        for (const taskId of taskIds.slice(0, 10)) {
          assert.equal((await fixture.store.pendingOutbox({ taskId })).length, 1);
        }
      } finally {
        await other.close();
      }
    });

    test("completions survive closing and reopening the store", async () => {
      const taskId = id();
      await fixture.store.completeTask({ taskId, agent: "a", at: 6, effects: [], outbox: [] });
      await fixture.store.close();
      fixture.store = await fixture.reopen();
      assert.equal(await fixture.store.isCompleted(taskId), true);
    });

    test("taskOutcome reads a completion with its result and lineage, from another handle too", async () => {
      const withResult = id();
      const without = id();
      await fixture.store.completeTask({
        taskId: withResult,
        agent: "writer",
        at: 7,
        effects: [],
        outbox: [],
        result: { summary: "ok", n: [1, 2] },
        corr: "root-1",
        cause: "parent-1",
        sender: "lead",
      });
      await fixture.store.completeTask({
        taskId: without,
        agent: "w",
        at: 8,
        effects: [],
        outbox: [],
      });
      const other = await fixture.reopen();
      try {
        assert.deepEqual(await other.taskOutcome(withResult), {
          taskId: withResult,
          status: "completed",
          agent: "writer",
          at: 7,
          result: { summary: "ok", n: [1, 2] },
          corr: "root-1",
          cause: "parent-1",
          sender: "lead",
        });
        const bare = await other.taskOutcome(without);
        assert.equal(bare?.status, "completed");
        assert.equal(bare !== undefined && "result" in bare, false, "no result when none returned");
        assert.equal(await other.taskOutcome(id()), undefined);
      } finally {
        await other.close();
      }
    });

    test("completedCount and latestCompletions see every task's completion, not markers, newest first, with its lineage", async () => {
      const before = await fixture.store.completedCount();
      const [older, newer] = [id(), id()];
      await fixture.store.completeTask({
        taskId: older,
        agent: "a",
        at: 9_000_000_000_001,
        effects: [],
        outbox: [],
        corr: "root-9",
      });
      await fixture.store.completeTask({
        taskId: newer,
        agent: "b",
        at: 9_000_000_000_002,
        effects: [],
        outbox: [],
        corr: "root-9",
        cause: older,
        sender: "a",
      });
      // A marker (a submit's, a conversation step's: ids with a colon; task
      // ids are ULIDs) is no task: neither counted nor listed.
      await fixture.store.completeTask({
        taskId: `submit:${id()}`,
        agent: "b",
        at: 9_000_000_000_003,
        effects: [],
        outbox: [],
        corr: "root-9",
      });
      const other = await fixture.reopen();
      try {
        assert.equal(await other.completedCount(), before + 2);
        assert.deepEqual(await other.latestCompletions({ limit: 2 }), [
          {
            taskId: newer,
            agent: "b",
            at: 9_000_000_000_002,
            corr: "root-9",
            cause: older,
            sender: "a",
          },
          { taskId: older, agent: "a", at: 9_000_000_000_001, corr: "root-9" },
        ]);
      } finally {
        await other.close();
      }
    });

    test("latestCompletions by corr lists one root's descendants; taskEffects one task's effects", async () => {
      const root = id();
      const [child, grandchild, stranger] = [id(), id(), id()];
      for (const [taskId, corr, at] of [
        [child, root, 9_100_000_000_001],
        [grandchild, root, 9_100_000_000_002],
        [stranger, id(), 9_100_000_000_003],
      ] as const) {
        await fixture.store.completeTask({
          taskId,
          agent: "a",
          at,
          effects: [
            { kind: "z.kind", key: "k2", data: { n: 2 } },
            { kind: "a.kind", key: "k1" },
          ],
          outbox: [],
          corr,
        });
      }
      const other = await fixture.reopen();
      try {
        assert.deepEqual(await other.latestCompletions({ corr: root }), [
          { taskId: grandchild, agent: "a", at: 9_100_000_000_002, corr: root },
          { taskId: child, agent: "a", at: 9_100_000_000_001, corr: root },
        ]);
        assert.deepEqual(await other.latestCompletions({ corr: id() }), []);
        assert.deepEqual(await other.taskEffects(child), [
          { kind: "a.kind", key: "k1", taskId: child, agent: "a", at: 9_100_000_000_001 },
          {
            kind: "z.kind",
            key: "k2",
            taskId: child,
            agent: "a",
            at: 9_100_000_000_001,
            data: { n: 2 },
          },
        ]);
        assert.deepEqual(await other.taskEffects(id()), []);
      } finally {
        await other.close();
      }
    });

    test("taskOutcome reads a dead letter as dead_lettered, a completion winning over it", async (t) => {
      const store = fixture.store as TaskStore & Closable & Partial<DeadLetterStore>;
      if (store.recordDeadLetter === undefined) {
        t.skip("the store keeps no dead letters");
        return;
      }
      const dead = id();
      const both = id();
      for (const taskId of [dead, both]) {
        await store.recordDeadLetter({
          id: taskId,
          subject: "s.task.a.b",
          reason: "handler threw: boom",
          deliveries: 5,
          at: 11,
          data: "",
        });
      }
      await store.completeTask({ taskId: both, agent: "a", at: 12, effects: [], outbox: [] });
      assert.deepEqual(await store.taskOutcome(dead), {
        taskId: dead,
        status: "dead_lettered",
        at: 11,
        reason: "handler threw: boom",
      });
      assert.equal((await store.taskOutcome(both))?.status, "completed");
    });

    test("a result that is not JSON-serialisable fails its completion with StoreError", async () => {
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      await assert.rejects(
        fixture.store.completeTask({
          taskId: id(),
          agent: "a",
          at: 9,
          effects: [],
          outbox: [],
          result: cyclic,
        }),
        StoreError,
      );
    });

    test("a result or effect data with no JSON form (a function, a symbol) fails its completion with StoreError, recording nothing", async () => {
      const noJson: readonly [string, Partial<TaskCompletion>][] = [
        ["a function result", { result: () => 1 }],
        ["a symbol result", { result: Symbol("s") }],
        ["a function as effect data", { effects: [{ kind: "k", key: id(), data: () => 1 }] }],
        ["a symbol as effect data", { effects: [{ kind: "k", key: id(), data: Symbol("s") }] }],
      ];
      for (const [what, part] of noJson) {
        const taskId = id();
        await assert.rejects(
          fixture.store.completeTask({
            taskId,
            agent: "a",
            at: 9,
            effects: [],
            outbox: [],
            ...part,
          }),
          StoreError,
          what,
        );
        assert.equal(await fixture.store.isCompleted(taskId), false, `${what}: nothing recorded`);
      }
    });

    test("a closed handle refuses every task call with ClosedError", () =>
      assertClosedHandleRefuses(fixture, {
        completeTask: (s) =>
          s.completeTask({ taskId: "x", agent: "a", at: 0, effects: [], outbox: [] }),
        isCompleted: (s) => s.isCompleted("x"),
        taskOutcome: (s) => s.taskOutcome("x"),
        pendingOutbox: (s) => s.pendingOutbox(),
        deleteOutbox: (s) => s.deleteOutbox(["x"]),
        markOutboxSent: (s) => s.markOutboxSent([{ id: "x", at: 0 }]),
        sentOutbox: (s) => s.sentOutbox({ sentBefore: 0 }),
        effects: (s) => s.effects("k"),
        effectStats: (s) => s.effectStats("k"),
        allEffectStats: (s) => s.allEffectStats(),
      }));
  });
}
