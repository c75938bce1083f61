/**
 * Values with no JSON form are refused, as the ports promise, on every
 * backend. Before, a function, a symbol or a `toJSON` returning undefined
 * was lost without a word by an idempotency claim (claimed with no result)
 * and an audit append (appended as `null`), and failed a step record or a
 * registry save with the database's "NOT NULL constraint failed" instead of
 * saying what was wrong.
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
    name: "postgres",
    ...(missing !== undefined && process.env["CI"] !== "true" ? { skip: missing } : {}),
    async open() {
      const schema = `conclave_json_${randomBytes(6).toString("hex")}`;
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

const noJsonForm: [string, unknown][] = [
  ["a function", () => 1],
  ["a symbol", Symbol("s")],
  ["a toJSON returning undefined", { toJSON: () => undefined }],
];

const notSerialisable = (error: unknown) =>
  error instanceof StoreError &&
  /not JSON-serialisable/.test(error.message) &&
  !/constraint/i.test(error.message);

for (const backend of backends) {
  describe(
    `values with no JSON form on ${backend.name}`,
    backend.skip ? { skip: backend.skip } : {},
    () => {
      test("are refused by claims, audit appends, steps and cards, and nothing is written", async () => {
        const { store, destroy } = await backend.open();
        try {
          for (const [what, value] of noJsonForm) {
            const key = `key-${what}`;
            await assert.rejects(store.claimIdempotencyKey(key, value), notSerialisable, what);
            assert.deepEqual(await store.claimIdempotencyKey(key), { first: true }, what);

            await assert.rejects(
              store.appendAudit({ kind: "test.bad", data: value }),
              notSerialisable,
            );
            await assert.rejects(
              store.recordStep({
                taskId: `t-${what}`,
                position: 0,
                name: "s",
                result: value,
                at: 1,
              }),
              notSerialisable,
            );
            await assert.rejects(
              store.saveAgentCard({ id: "dev-1", toJSON: () => undefined }),
              notSerialisable,
            );
          }
          assert.deepEqual(await store.auditLog(), []);
          assert.deepEqual(await store.agentCards(), []);
          // No data at all is still an entry with null data.
          assert.equal(
            (await store.appendAudit({ kind: "test.none", data: undefined })).data,
            null,
          );
        } finally {
          await destroy();
        }
      });
    },
  );
}
