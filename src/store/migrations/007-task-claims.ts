import { clusteredByKey } from "./dialect.js";
import type { StoreMigration } from "./migration.js";

/**
 * Who is running a task now: one row per task id with its owner (a node's
 * pipeline) and when the claim expires, so a second delivery of a task
 * whose first delivery is still being handled elsewhere waits instead of
 * running it again (`TaskClaimStore`).
 */
export const taskClaims: StoreMigration = {
  name: "007-task-claims",
  async up(db, dialect) {
    await clusteredByKey(
      db.schema
        .createTable("conclave_task_claims")
        .addColumn("task_id", "text", (c) => c.primaryKey())
        .addColumn("owner", "text", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull()),
      dialect,
    ).execute();
    // Pruning deletes by expiry.
    await db.schema
      .createIndex("conclave_task_claims_expires_at")
      .on("conclave_task_claims")
      .column("expires_at")
      .execute();
  },
  async down(db) {
    await db.schema.dropTable("conclave_task_claims").ifExists().execute();
  },
};
