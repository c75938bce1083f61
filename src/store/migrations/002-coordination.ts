import { clusteredByKey } from "./dialect.js";
import type { StoreMigration } from "./migration.js";

/**
 * Tables for the coordination features: the consensus audit chain, a
 * snapshot of the agent registry, and a generic idempotency table.
 */
export const coordination: StoreMigration = {
  name: "002-coordination",
  async up(db, dialect) {
    await db.schema
      .createTable("conclave_audit_log")
      .addColumn("seq", "bigint", (c) => c.primaryKey())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("data", "text", (c) => c.notNull())
      .addColumn("prev_hash", "text")
      .addColumn("hash", "text", (c) => c.notNull())
      .execute();

    await clusteredByKey(
      db.schema
        .createTable("conclave_registry")
        .addColumn("agent_id", "text", (c) => c.primaryKey())
        .addColumn("card", "text", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull()),
      dialect,
    ).execute();

    await db.schema
      .createTable("conclave_idempotency")
      .addColumn("key", "text", (c) => c.primaryKey())
      .addColumn("result", "text")
      .addColumn("at", "bigint", (c) => c.notNull())
      .execute();
    // Pruning deletes by age.
    await db.schema
      .createIndex("conclave_idempotency_at")
      .on("conclave_idempotency")
      .column("at")
      .execute();
  },
  async down(db) {
    for (const table of ["conclave_idempotency", "conclave_registry", "conclave_audit_log"]) {
      await db.schema.dropTable(table).ifExists().execute();
    }
  },
};
