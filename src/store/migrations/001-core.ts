import { bytesType, clusteredByKey, sequenceType } from "./dialect.js";
import type { StoreMigration } from "./migration.js";

/**
 * The task-handling tables: completion markers, effects, the transactional
 * outbox, dead letters and run metadata.
 *
 * Every statement is `if not exists`: SQLite files written by the adapter
 * before Kysely (same tables, versioned in `conclave_migrations`) are adopted
 * as they are.
 */
export const core: StoreMigration = {
  name: "001-core",
  async up(db, dialect) {
    await clusteredByKey(
      db.schema
        .createTable("conclave_completed")
        .ifNotExists()
        .addColumn("task_id", "text", (c) => c.primaryKey())
        .addColumn("agent", "text", (c) => c.notNull())
        .addColumn("at", "bigint", (c) => c.notNull()),
      dialect,
    ).execute();

    await db.schema
      .createTable("conclave_effects")
      .ifNotExists()
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("key", "text", (c) => c.notNull())
      .addColumn("task_id", "text", (c) => c.notNull())
      .addColumn("agent", "text", (c) => c.notNull())
      .addColumn("at", "bigint", (c) => c.notNull())
      .addColumn("data", "text")
      .execute();
    await db.schema
      .createIndex("conclave_effects_kind_key")
      .ifNotExists()
      .on("conclave_effects")
      .columns(["kind", "key"])
      .execute();

    await db.schema
      .createTable("conclave_outbox")
      .ifNotExists()
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("task_id", "text", (c) => c.notNull())
      .addColumn("mode", "text", (c) => c.notNull())
      .addColumn("subject", "text", (c) => c.notNull())
      .addColumn("data", bytesType(dialect), (c) => c.notNull())
      .addColumn("seq", sequenceType(dialect), (c) => c.notNull())
      .execute();
    // The relay reads one task's entries in order, and all entries in order.
    await db.schema
      .createIndex("conclave_outbox_task_seq")
      .ifNotExists()
      .on("conclave_outbox")
      .columns(["task_id", "seq"])
      .execute();
    await db.schema
      .createIndex("conclave_outbox_seq")
      .ifNotExists()
      .on("conclave_outbox")
      .column("seq")
      .execute();
    // The pre-Kysely adapter's index, covered by conclave_outbox_task_seq.
    await db.schema.dropIndex("conclave_outbox_task").ifExists().execute();

    await db.schema
      .createTable("conclave_dead_letters")
      .ifNotExists()
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("subject", "text", (c) => c.notNull())
      .addColumn("reason", "text", (c) => c.notNull())
      .addColumn("deliveries", "integer", (c) => c.notNull())
      .addColumn("at", "bigint", (c) => c.notNull())
      .addColumn("corr", "text")
      .addColumn("type", "text")
      .addColumn("data", "text", (c) => c.notNull())
      .execute();

    await clusteredByKey(
      db.schema
        .createTable("conclave_meta")
        .ifNotExists()
        .addColumn("key", "text", (c) => c.primaryKey())
        .addColumn("value", "text", (c) => c.notNull()),
      dialect,
    ).execute();
  },
  async down(db) {
    for (const table of [
      "conclave_meta",
      "conclave_dead_letters",
      "conclave_outbox",
      "conclave_effects",
      "conclave_completed",
    ]) {
      await db.schema.dropTable(table).ifExists().execute();
    }
  },
};
