import { clusteredByKey } from "./dialect.js";
import type { StoreMigration } from "./migration.js";

/**
 * The double-entry credit ledger: operations (the idempotency record),
 * their entries, and a maintained balance per account. Amounts are `bigint`
 * on both dialects (integer affinity on SQLite); no column holds a float.
 */
export const ledger: StoreMigration = {
  name: "003-ledger",
  async up(db, dialect) {
    await clusteredByKey(
      db.schema
        .createTable("conclave_ledger_operations")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("fingerprint", "text", (c) => c.notNull())
        .addColumn("memo", "text", (c) => c.notNull())
        .addColumn("at", "bigint", (c) => c.notNull()),
      dialect,
    ).execute();
    // The spend report reads operations by time. (No index by kind: each
    // index costs every write, and fee operations are most of the ledger.)
    await db.schema
      .createIndex("conclave_ledger_operations_at")
      .on("conclave_ledger_operations")
      .columns(["at", "id"])
      .execute();

    await clusteredByKey(
      db.schema
        .createTable("conclave_ledger_entries")
        .addColumn("operation_id", "text", (c) => c.notNull())
        .addColumn("seq", "integer", (c) => c.notNull())
        .addColumn("account", "text", (c) => c.notNull())
        .addColumn("delta", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("conclave_ledger_entries_pk", ["operation_id", "seq"]),
      dialect,
    ).execute();
    // An account's history.
    await db.schema
      .createIndex("conclave_ledger_entries_account")
      .on("conclave_ledger_entries")
      .column("account")
      .execute();

    await clusteredByKey(
      db.schema
        .createTable("conclave_ledger_balances")
        .addColumn("account", "text", (c) => c.primaryKey())
        .addColumn("balance", "bigint", (c) => c.notNull()),
      dialect,
    ).execute();
  },
  async down(db) {
    for (const table of [
      "conclave_ledger_balances",
      "conclave_ledger_entries",
      "conclave_ledger_operations",
    ]) {
      await db.schema.dropTable(table).ifExists().execute();
    }
  },
};
