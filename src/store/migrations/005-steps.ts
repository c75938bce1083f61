import type { StoreMigration } from "./migration.js";

/**
 * What durable agents need: a handled task's result and root (read back by
 * `taskOutcome`, so `ctx.call` finds a child's answer after a restart), and
 * the journal of durable steps, one row per (task, position).
 */
export const steps: StoreMigration = {
  name: "005-steps",
  async up(db) {
    await db.schema.alterTable("conclave_completed").addColumn("result", "text").execute();
    await db.schema.alterTable("conclave_completed").addColumn("corr", "text").execute();
    await db.schema
      .createTable("conclave_steps")
      .addColumn("task_id", "text", (c) => c.notNull())
      .addColumn("position", "integer", (c) => c.notNull())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("result", "text", (c) => c.notNull())
      .addColumn("at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("conclave_steps_pk", ["task_id", "position"])
      .execute();
    await db.schema.createIndex("conclave_steps_at").on("conclave_steps").column("at").execute();
  },
  async down(db) {
    await db.schema.dropTable("conclave_steps").ifExists().execute();
    await db.schema.alterTable("conclave_completed").dropColumn("corr").execute();
    await db.schema.alterTable("conclave_completed").dropColumn("result").execute();
  },
};
