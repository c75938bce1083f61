/**
 * An operation id holding a NUL character: SQLite stored it, Postgres
 * (which cannot store NUL in text) failed with a StoreError, so the same
 * operation was applied on one backend and refused with another error
 * class on the other. The ledger's contract refuses a malformed operation
 * before the database is touched: `InvalidOperationError` on every backend.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidOperationError, operations } from "../../src/ledger/index.js";
import {
  postgresBackend,
  sqliteBackend,
  sqliteKyselyBackend,
  testOptions,
} from "./ledger-backends.js";

describe("ledger operation ids with a NUL character", () => {
  for (const backend of [sqliteBackend, sqliteKyselyBackend, postgresBackend]) {
    test(`${backend.name}: refused with InvalidOperationError, nothing written`, {
      ...testOptions(backend),
    }, async () => {
      if (backend.fail !== undefined) throw new Error(backend.fail);
      const database = await backend.create();
      const store = await database.open();
      try {
        const isRefused = (error: unknown) =>
          error instanceof InvalidOperationError && /NUL/.test(error.message);
        // The builders refuse it; so does the store, handed one built by hand.
        assert.throws(() => operations.mint("fund\u0000a", "agent:a", 10, 1), isRefused);
        const byHand = { ...operations.mint("fund", "agent:a", 10, 1), id: "fund\u0000a" };
        await assert.rejects(store.applyLedgerOperation(byHand), isRefused);
        assert.equal(await store.balance("agent:a"), 0);
        assert.deepEqual(await store.ledgerOperations(), []);
      } finally {
        await store.close();
        await database.destroy();
      }
    });
  }
});
