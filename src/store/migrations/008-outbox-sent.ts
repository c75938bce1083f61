import { sql } from "kysely";
import type { StoreMigration } from "./migration.js";

/**
 * Outbox entries the bus took, kept until their task settles: when a send
 * was taken (`sent_at`), the broker's receipt for it (`receipt`, where the
 * transport gives one) and how often it was sent again because the broker
 * no longer held it (`resends`). Two partial indexes: the relay reads the
 * unsent entries in commit order, the watch the sent ones by age.
 */
export const outboxSent: StoreMigration = {
  name: "008-outbox-sent",
  async up(db) {
    await db.schema.alterTable("conclave_outbox").addColumn("sent_at", "bigint").execute();
    await db.schema.alterTable("conclave_outbox").addColumn("receipt", "text").execute();
    await db.schema
      .alterTable("conclave_outbox")
      .addColumn("resends", "integer", (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema
      .createIndex("conclave_outbox_unsent")
      .on("conclave_outbox")
      .column("seq")
      .where(sql.ref("sent_at"), "is", null)
      .execute();
    await db.schema
      .createIndex("conclave_outbox_sent_at")
      .on("conclave_outbox")
      .column("sent_at")
      .where(sql.ref("sent_at"), "is not", null)
      .execute();
  },
  async down(db) {
    await db.schema.dropIndex("conclave_outbox_sent_at").ifExists().execute();
    await db.schema.dropIndex("conclave_outbox_unsent").ifExists().execute();
    await db.schema.alterTable("conclave_outbox").dropColumn("resends").execute();
    await db.schema.alterTable("conclave_outbox").dropColumn("receipt").execute();
    await db.schema.alterTable("conclave_outbox").dropColumn("sent_at").execute();
  },
};
