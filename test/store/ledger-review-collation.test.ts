/**
 * The ledger's list reads are ordered "by account id" and "by time, then
 * operation id" on every backend. Postgres ordered those text columns by
 * the database's collation: on a database created with a language locale
 * (`en_US.UTF-8`, the default of many installations) `agent:B` came after
 * `agent:a` and punctuation was nearly ignored, so Postgres disagreed with
 * SQLite (code-point order), and a `limit` cut the same ledger at different
 * operations. The test database uses C.UTF-8, so the columns of the fresh
 * schema are given an ICU English collation, as such a database would.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import pg from "pg";
import { operations } from "../../src/ledger/index.js";
import type { Store } from "../../src/store/port.js";
import { dropPostgresSchema, openPostgresStore } from "../../src/store/postgres-store.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { postgresUnreachable, postgresUrl } from "./ledger-backends.js";

const unreachable = await postgresUnreachable();
const skip = unreachable !== undefined && process.env["CI"] !== "true" ? unreachable : undefined;

const AT = 1_700_000_000_000;
/** Mixed case and punctuation, where a language collation and code-point order differ. */
const agents = ["B", "a", "a-c", "ab", "Z", "a_b"];

async function seed(store: Store): Promise<void> {
  for (const agent of agents) {
    // One time for all: the order is decided by the operation ids.
    await store.applyLedgerOperation(operations.mint(`fund:${agent}`, `agent:${agent}`, 10, AT));
  }
}

async function read(store: Store) {
  return {
    balances: (await store.balances()).map((b) => b.account),
    entries: (await store.ledgerEntries({ limit: 4 })).map((e) => `${e.operationId}#${e.seq}`),
    operations: (await store.ledgerOperations({ limit: 3 })).map((o) => o.id),
  };
}

test("ledger reads: Postgres orders by code point, as SQLite does, whatever the database's collation", {
  ...(skip === undefined ? {} : { skip }),
}, async () => {
  if (unreachable !== undefined) throw new Error(`${unreachable}; CI must provide it`);
  const sqlite = openSqliteStore({ path: ":memory:" });
  await seed(sqlite);
  const expected = await read(sqlite);
  await sqlite.close();
  // Code-point order, spelled out.
  assert.deepEqual(expected.balances, [
    "agent:B",
    "agent:Z",
    "agent:a",
    "agent:a-c",
    "agent:a_b",
    "agent:ab",
    "world",
  ]);

  const schema = `conclave_collate_${randomBytes(6).toString("hex")}`;
  const store = await openPostgresStore({ url: postgresUrl, schema, poolSize: 2 });
  const client = new pg.Client({ connectionString: postgresUrl });
  try {
    await store.balances(); // the schema is migrated
    await client.connect();
    for (const [table, column] of [
      ["conclave_ledger_balances", "account"],
      ["conclave_ledger_entries", "account"],
      ["conclave_ledger_entries", "operation_id"],
      ["conclave_ledger_operations", "id"],
    ]) {
      await client.query(
        `alter table "${schema}".${table} alter column ${column} type text collate "en-x-icu"`,
      );
    }
    await seed(store);
    assert.deepEqual(await read(store), expected);
  } finally {
    await client.end().catch(() => {});
    await store.close();
    await dropPostgresSchema({ url: postgresUrl, schema });
  }
});
