/**
 * An audit entry whose `kind` holds a NUL character: SQLite appended it,
 * Postgres (which cannot store NUL in text) refused it, so one chain had
 * an entry the other lacked. Refused on every backend now, like a kind
 * with a line break, with StoreError and nothing appended.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { StoreError } from "../../src/errors/index.js";
import {
  postgresBackend,
  sqliteBackend,
  sqliteKyselyBackend,
  testOptions,
} from "./ledger-backends.js";

describe("audit kinds with a NUL character", () => {
  for (const backend of [sqliteBackend, sqliteKyselyBackend, postgresBackend]) {
    test(`${backend.name}: refused with StoreError, nothing appended`, {
      ...testOptions(backend),
    }, async () => {
      if (backend.fail !== undefined) throw new Error(backend.fail);
      const database = await backend.create();
      const store = await database.open();
      try {
        await assert.rejects(
          store.appendAudit({ kind: "decision\u0000sealed", data: { ok: true } }),
          (error: unknown) =>
            error instanceof StoreError && /must be non-empty/.test(error.message),
        );
        assert.deepEqual(await store.auditLog(), []);
        const entry = await store.appendAudit({ kind: "decision.sealed", data: { ok: true } });
        assert.equal(entry.seq, 1);
      } finally {
        await store.close();
        await database.destroy();
      }
    });
  }
});
