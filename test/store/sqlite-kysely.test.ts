import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { runStoreConformance } from "../../src/testkit/conformance/store.js";

// The SQLite store with every call through Kysely (no prepared hot path), so
// the shared Kysely versions of the hot calls are checked on SQLite too.
runStoreConformance({
  name: "sqlite (Kysely only)",
  async create() {
    const dir = mkdtempSync(join(tmpdir(), "conclave-store-"));
    const path = join(dir, "store.db");
    const store = openSqliteStore({ path, preparedHotPath: false });
    await store.ready();
    return {
      store,
      reopen: async () => openSqliteStore({ path, preparedHotPath: false }),
      destroy: async () => rmSync(dir, { recursive: true, force: true }),
      async simulateNewerSchema() {
        const name = "999-from-a-newer-conclave";
        const db = new Database(path);
        try {
          db.prepare("insert into conclave_migration (name, timestamp) values (?, ?)").run(
            name,
            new Date().toISOString(),
          );
        } finally {
          db.close();
        }
        return async () => {
          const undo = new Database(path);
          try {
            undo.prepare("delete from conclave_migration where name = ?").run(name);
          } finally {
            undo.close();
          }
        };
      },
    };
  },
});
