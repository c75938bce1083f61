/**
 * The one conformance suite every `Store` adapter passes; an adapter's test
 * file is a single call to `runStoreConformance`.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { ClosedError } from "../../src/errors/index.js";
import type { Store } from "../../src/store/port.js";

export interface StoreConformanceOptions {
  readonly name: string;
  /** A fresh, empty store; `reopen` gives another handle on the same data. */
  readonly create: () => Promise<{
    store: Store;
    reopen(): Promise<Store>;
    destroy(): Promise<void>;
  }>;
}

const id = () => randomBytes(8).toString("hex");
const bytes = (s: string) => new TextEncoder().encode(s);

export function runStoreConformance(options: StoreConformanceOptions): void {
  describe(`${options.name}: store conformance`, () => {
    let store: Store;
    let reopen: () => Promise<Store>;
    let destroy: () => Promise<void>;

    before(async () => {
      ({ store, reopen, destroy } = await options.create());
    });
    after(async () => {
      await store.close();
      await destroy();
    });

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
      assert.deepEqual(await store.completeTask(completion), { duplicate: false });
      assert.deepEqual(await store.completeTask(completion), { duplicate: true });
      assert.equal(await store.isCompleted(taskId), true);
      assert.equal(await store.isCompleted(id()), false);
      const effects = (await store.effects("k")).filter((e) => e.taskId === taskId);
      assert.equal(effects.length, 1, "the duplicate completion wrote no second effect");
      assert.deepEqual(effects[0]?.data, { n: 1 });
      const outbox = await store.pendingOutbox({ taskId });
      assert.equal(outbox.length, 1);
      assert.equal(new TextDecoder().decode(outbox[0]?.data), "x");
    });

    test("concurrent completions of the same task: exactly one wins", async () => {
      const taskId = id();
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          store.completeTask({
            taskId,
            agent: "a",
            at: 2,
            effects: [{ kind: "race", key: taskId }],
            outbox: [],
          }),
        ),
      );
      assert.equal(results.filter((r) => !r.duplicate).length, 1);
      const stats = await store.effectStats("race");
      assert.equal(stats.duplicateKeys, 0);
    });

    test("effectStats counts keys with an effect applied twice", async () => {
      const key = id();
      for (const taskId of [id(), id()]) {
        await store.completeTask({
          taskId,
          agent: "a",
          at: 3,
          effects: [{ kind: "twice", key }],
          outbox: [],
        });
      }
      const stats = await store.effectStats("twice");
      assert.equal(stats.keys, 1);
      assert.equal(stats.duplicateKeys, 1);
      const all = await store.allEffectStats();
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
      await store.completeTask({ taskId, agent: "a", at: 4, effects: [], outbox });
      const pending = await store.pendingOutbox({ taskId });
      assert.deepEqual(
        pending.map((p) => p.subject),
        ["s.event.a", "s.event.b", "s.event.c"],
      );
      await store.deleteOutbox([`${taskId}-a`, `${taskId}-b`]);
      assert.deepEqual(
        (await store.pendingOutbox({ taskId })).map((p) => p.id),
        [`${taskId}-c`],
      );
    });

    test("dead letters are recorded once and listed with their root", async () => {
      const dl = {
        id: id(),
        subject: "s.dlq.dev",
        reason: "boom",
        deliveries: 3,
        at: 5,
        corr: "root-x",
        type: "task.code",
        data: "eyJ9",
      };
      await store.recordDeadLetter(dl);
      await store.recordDeadLetter(dl);
      const all = (await store.deadLetters()).filter((d) => d.id === dl.id);
      assert.deepEqual(all, [dl]);
      assert.ok((await store.deadLetteredRoots()).includes("root-x"));
    });

    test("meta values round-trip and survive a reopen", async () => {
      await store.setMeta("run", "r1");
      await store.setMeta("run", "r2");
      assert.equal(await store.getMeta("run"), "r2");
      assert.equal(await store.getMeta("missing"), undefined);
      const taskId = id();
      await store.completeTask({ taskId, agent: "a", at: 6, effects: [], outbox: [] });
      await store.close();
      store = await reopen();
      assert.equal(await store.getMeta("run"), "r2");
      assert.equal(await store.isCompleted(taskId), true);
    });

    test("a closed store refuses calls with ClosedError; close is idempotent", async () => {
      const other = await reopen();
      await other.close();
      await other.close();
      await assert.rejects(other.isCompleted("x"), ClosedError);
      await assert.rejects(
        other.completeTask({ taskId: "x", agent: "a", at: 0, effects: [], outbox: [] }),
        ClosedError,
      );
    });
  });
}
