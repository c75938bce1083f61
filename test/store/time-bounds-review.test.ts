/**
 * The time bounds of the store's prunes and filtered reads (`before`,
 * `sentBefore`, `since`) are read the same way on every backend. Before,
 * `Infinity` ("prune everything", "every sent entry") worked on SQLite and
 * failed on Postgres with "invalid input syntax for type bigint", as did a
 * fractional time (a clock with sub-millisecond precision); `NaN` read and
 * pruned nothing on SQLite without a word.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { StoreError } from "../../src/errors/index.js";
import type { Store } from "../../src/store/port.js";
import {
  type LedgerBackend,
  postgresBackend,
  sqliteBackend,
  sqliteKyselyBackend,
} from "./ledger-backends.js";

const ledgerBackends = [sqliteBackend, sqliteKyselyBackend, postgresBackend];

async function seeded(store: Store): Promise<void> {
  await store.claimIdempotencyKey("k:5", 1, { at: 5 });
  await store.claimIdempotencyKey("k:10", 1, { at: 10 });
  await store.recordStep({ taskId: "S", position: 0, name: "n", result: 1, at: 5 });
  await store.recordStep({ taskId: "S", position: 1, name: "n", result: 1, at: 10 });
  await store.claimTask("C5", "o", { now: 1, expiresAt: 5 });
  await store.claimTask("C10", "o", { now: 1, expiresAt: 10 });
  await store.completeTask({
    taskId: "T",
    agent: "a",
    at: 1,
    effects: [],
    outbox: [
      { id: "o5", mode: "enqueue", subject: "s", data: new Uint8Array([1]) },
      { id: "o10", mode: "enqueue", subject: "s", data: new Uint8Array([2]) },
    ],
  });
  await store.markOutboxSent([
    { id: "o5", at: 5 },
    { id: "o10", at: 10 },
  ]);
}

async function bounds(backend: LedgerBackend, check: (store: Store) => Promise<void>) {
  const db = await backend.create();
  const store = await db.open();
  try {
    await seeded(store);
    await check(store);
  } finally {
    await store.close();
    await db.destroy();
  }
}

for (const backend of ledgerBackends) {
  describe(`time bounds on ${backend.name}`, backend.skip ? { skip: backend.skip } : {}, () => {
    test("Infinity is past every time, -Infinity before every time", async () => {
      if (backend.fail) throw new Error(backend.fail);
      await bounds(backend, async (store) => {
        assert.equal((await store.sentOutbox({ sentBefore: Number.NEGATIVE_INFINITY })).length, 0);
        assert.equal((await store.sentOutbox({ sentBefore: Number.POSITIVE_INFINITY })).length, 2);
        assert.equal((await store.ledgerOperations({ since: Number.NEGATIVE_INFINITY })).length, 0);
        assert.equal((await store.ledgerOperations({ since: Number.POSITIVE_INFINITY })).length, 0);
        assert.equal(await store.pruneSteps(Number.NEGATIVE_INFINITY), 0);
        assert.equal(await store.pruneTaskClaims(Number.NEGATIVE_INFINITY), 0);
        assert.equal(await store.pruneIdempotencyKeys(Number.NEGATIVE_INFINITY), 0);
        assert.equal(await store.pruneSteps(Number.POSITIVE_INFINITY), 2);
        assert.equal(await store.pruneTaskClaims(Number.POSITIVE_INFINITY), 2);
        assert.equal(
          await store.pruneIdempotencyKeys(Number.POSITIVE_INFINITY, { prefix: "k:" }),
          2,
        );
      });
    });

    test("a fractional time compares as the exact time it is", async () => {
      if (backend.fail) throw new Error(backend.fail);
      await bounds(backend, async (store) => {
        // sent at 5 and 10: at or before 9.5 is the one sent at 5.
        assert.deepEqual(
          (await store.sentOutbox({ sentBefore: 9.5 })).map((e) => e.id),
          ["o5"],
        );
        assert.deepEqual(
          (await store.sentOutbox({ sentBefore: 4.5 })).map((e) => e.id),
          [],
        );
        // Strictly before 5.5: the ones at 5.
        assert.equal(await store.pruneSteps(5.5), 1);
        assert.equal(await store.pruneTaskClaims(5.5), 1);
        assert.equal(await store.pruneIdempotencyKeys(5.5), 1);
        // Strictly before 4.5 and 9.5: nothing more, not the ones at 10.
        assert.equal(await store.pruneSteps(9.5), 0);
        assert.equal(await store.pruneTaskClaims(4.5), 0);
        assert.equal(await store.pruneIdempotencyKeys(9.5), 0);
        assert.deepEqual(await store.ledgerOperations({ since: 0.5 }), []);
      });
    });

    test("a stored fractional time (SQLite keeps it) is compared as it is", {
      skip: backend === postgresBackend ? "Postgres stores whole ms only" : false,
    }, async () => {
      await bounds(backend, async (store) => {
        await store.recordStep({ taskId: "S", position: 2, name: "n", result: 1, at: 5.7 });
        // Strictly before 5.5: the step at 5, not the one at 5.7.
        assert.equal(await store.pruneSteps(5.5), 1);
        assert.deepEqual(
          (await store.steps("S")).map((s) => s.at),
          [10, 5.7],
        );
      });
    });

    test("NaN is refused with a StoreError naming the bound", async () => {
      if (backend.fail) throw new Error(backend.fail);
      await bounds(backend, async (store) => {
        const refused = (name: string) => (error: unknown) =>
          error instanceof StoreError &&
          new RegExp(`${name} NaN is not a time`).test(error.message) &&
          !/invalid input syntax/.test(error.message);
        await assert.rejects(store.sentOutbox({ sentBefore: Number.NaN }), refused("sentBefore"));
        await assert.rejects(store.ledgerOperations({ since: Number.NaN }), refused("since"));
        await assert.rejects(store.pruneSteps(Number.NaN), refused("before"));
        await assert.rejects(store.pruneTaskClaims(Number.NaN), refused("before"));
        await assert.rejects(store.pruneIdempotencyKeys(Number.NaN), refused("before"));
        // Nothing was pruned.
        assert.equal((await store.steps("S")).length, 2);
        assert.equal(await store.pruneIdempotencyKeys(Number.MAX_SAFE_INTEGER), 2);
      });
    });
  });
}
