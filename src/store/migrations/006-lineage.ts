import type { StoreMigration } from "./migration.js";

/**
 * Who caused each handled task: the task it descends from directly (the
 * envelope's `cause`) and the agent that sent it (`from`), so a task's tree
 * and who delegates to whom are read back from the store on any node.
 */
export const lineage: StoreMigration = {
  name: "006-lineage",
  async up(db) {
    await db.schema.alterTable("conclave_completed").addColumn("cause", "text").execute();
    await db.schema.alterTable("conclave_completed").addColumn("sender", "text").execute();
    await db.schema
      .createIndex("conclave_completed_corr")
      .on("conclave_completed")
      .column("corr")
      .execute();
  },
  async down(db) {
    await db.schema.dropIndex("conclave_completed_corr").ifExists().execute();
    await db.schema.alterTable("conclave_completed").dropColumn("sender").execute();
    await db.schema.alterTable("conclave_completed").dropColumn("cause").execute();
  },
};
