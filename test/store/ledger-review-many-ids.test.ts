/**
 * `ledgerOperations({ ids })` with more ids than a statement may bind
 * (SQLite 32,766, Postgres 65,535) failed on both backends with the
 * driver's words ("too many SQL variables", "bind message has 4465
 * parameter formats but 0 parameters"): the ids went into one `in (…)`.
 * They are now read in chunks, merged in the documented order and cut at
 * `limit`.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { operations } from "../../src/ledger/index.js";
import {
  postgresBackend,
  sqliteBackend,
  sqliteKyselyBackend,
  testOptions,
} from "./ledger-backends.js";

const ledgerBackends = [sqliteBackend, sqliteKyselyBackend, postgresBackend];

describe("ledgerOperations with many ids", () => {
  for (const backend of ledgerBackends) {
    test(`${backend.name}: 70,000 ids read the operations among them, in order, at most limit`, {
      ...testOptions(backend),
    }, async () => {
      if (backend.fail !== undefined) throw new Error(backend.fail);
      const database = await backend.create();
      const store = await database.open();
      try {
        // Times out of id order, so that the merge of the chunks shows.
        const wanted = [5, 40_000, 69_999, 12];
        for (const [i, n] of wanted.entries()) {
          await store.applyLedgerOperation(operations.mint(`m${n}`, "agent:a", 1, 1_000 - i));
        }
        await store.applyLedgerOperation(operations.mint("other", "agent:a", 1, 1));
        const ids = Array.from({ length: 70_000 }, (_, i) => `m${i}`);
        const all = await store.ledgerOperations({ ids });
        assert.deepEqual(
          all.map((o) => o.id),
          ["m12", "m69999", "m40000", "m5"],
        );
        const two = await store.ledgerOperations({ ids, limit: 2 });
        assert.deepEqual(
          two.map((o) => o.id),
          ["m12", "m69999"],
        );
        const since = await store.ledgerOperations({ ids, since: 999, kind: "mint" });
        assert.deepEqual(
          since.map((o) => o.id),
          ["m40000", "m5"],
        );
      } finally {
        await store.close();
        await database.destroy();
      }
    });
  }
});
