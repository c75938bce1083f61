/**
 * The list reads' paging options mean the same on SQLite and Postgres.
 * Before, they went to the database as given: a negative limit read
 * everything on SQLite and failed on Postgres ("LIMIT must not be
 * negative"), `Infinity` read no outbox entry on SQLite and failed on
 * Postgres, a fractional limit or `fromSeq` failed with the driver's words
 * ("datatype mismatch", "invalid input syntax for type bigint"), and
 * `fromSeq: NaN` quietly read nothing on SQLite.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { StoreError } from "../../src/errors/index.js";
import type { Store } from "../../src/store/port.js";
import { dropPostgresSchema, openPostgresStore } from "../../src/store/postgres-store.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { postgresMissing, postgresUrl } from "../integration/fixtures/processes.js";

const missing = await postgresMissing();

const backends: {
  name: string;
  skip?: string;
  open(): Promise<{ store: Store; destroy(): Promise<void> }>;
}[] = [
  {
    name: "sqlite",
    async open() {
      const store = openSqliteStore({ path: ":memory:" });
      return { store, destroy: () => store.close() };
    },
  },
  {
    name: "sqlite through Kysely",
    async open() {
      const store = openSqliteStore({ path: ":memory:", preparedHotPath: false });
      return { store, destroy: () => store.close() };
    },
  },
  {
    name: "postgres",
    ...(missing !== undefined && process.env["CI"] !== "true" ? { skip: missing } : {}),
    async open() {
      const schema = `conclave_limits_${randomBytes(6).toString("hex")}`;
      const store = await openPostgresStore({ url: postgresUrl, schema, poolSize: 2 });
      return {
        store,
        async destroy() {
          await store.close();
          await dropPostgresSchema({ url: postgresUrl, schema });
        },
      };
    },
  },
];

async function seed(store: Store): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await store.appendAudit({ kind: "test.entry", data: { i } });
    await store.recordDeadLetter({
      id: `dead-${i}`,
      subject: "s.task.dev.code",
      reason: "test",
      deliveries: 1,
      at: 1000 + i,
      data: "",
    });
    await store.completeTask({
      taskId: `task-${i}`,
      agent: "dev",
      at: 1000 + i,
      effects: [],
      outbox: [
        { id: `out-${i}`, mode: "enqueue", subject: "s.task.dev.code", data: new Uint8Array([i]) },
      ],
    });
  }
}

for (const backend of backends) {
  describe(`paging options on ${backend.name}`, backend.skip ? { skip: backend.skip } : {}, () => {
    test("a huge or infinite limit reads everything, a fraction is rounded down", async () => {
      const { store, destroy } = await backend.open();
      try {
        await seed(store);
        for (const limit of [Number.POSITIVE_INFINITY, 1e20, 2 ** 53]) {
          assert.equal((await store.auditLog({ limit })).length, 3, `auditLog limit ${limit}`);
          assert.equal((await store.deadLetters({ limit })).length, 3, `deadLetters ${limit}`);
          assert.equal((await store.pendingOutbox({ limit })).length, 3, `pendingOutbox ${limit}`);
          assert.equal((await store.latestCompletions({ limit })).length, 3);
        }
        assert.equal((await store.auditLog({ limit: 1.5 })).length, 1);
        assert.equal((await store.deadLetters({ limit: 2.9 })).length, 2);
        assert.equal((await store.pendingOutbox({ limit: 0.5 })).length, 0);
      } finally {
        await destroy();
      }
    });

    test("fromSeq before the start reads from 1; a fraction starts at the next entry", async () => {
      const { store, destroy } = await backend.open();
      try {
        await seed(store);
        const seqs = async (fromSeq: number) =>
          (await store.auditLog({ fromSeq })).map((e) => e.seq);
        assert.deepEqual(await seqs(-5), [1, 2, 3]);
        assert.deepEqual(await seqs(Number.NEGATIVE_INFINITY), [1, 2, 3]);
        assert.deepEqual(await seqs(1.5), [2, 3]);
        assert.deepEqual(await seqs(1e23), []);
        assert.deepEqual(await seqs(Number.POSITIVE_INFINITY), []);
      } finally {
        await destroy();
      }
    });

    test("a negative or NaN limit and a NaN fromSeq are refused with what to pass", async () => {
      const { store, destroy } = await backend.open();
      try {
        await seed(store);
        const refused = (error: unknown) =>
          error instanceof StoreError && /pass a whole number/.test(error.message);
        for (const limit of [-1, Number.NaN]) {
          await assert.rejects(store.auditLog({ limit }), refused);
          await assert.rejects(store.deadLetters({ limit }), refused);
          await assert.rejects(store.pendingOutbox({ limit }), refused);
          await assert.rejects(store.latestCompletions({ limit }), refused);
          await assert.rejects(store.ledgerEntries({ limit }), refused);
          await assert.rejects(store.auctions({ limit }), refused);
        }
        await assert.rejects(store.auditLog({ fromSeq: Number.NaN }), refused);
        // Nothing was lost by the refusals.
        assert.equal((await store.auditLog()).length, 3);
      } finally {
        await destroy();
      }
    });
  });
}
