import { clusteredByKey } from "./dialect.js";
import type { StoreMigration } from "./migration.js";

/**
 * Tables for task markets: one row per auction held (its terms, bids,
 * rejections and award as JSON, plus the columns a report filters on), and
 * each agent's reputation, learned from observed outcomes.
 */
export const market: StoreMigration = {
  name: "004-market",
  async up(db, dialect) {
    await clusteredByKey(
      db.schema
        .createTable("conclave_auctions")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("auctioneer", "text", (c) => c.notNull())
        .addColumn("task", "text", (c) => c.notNull())
        .addColumn("rule", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("winner", "text")
        .addColumn("price", "bigint")
        .addColumn("bids", "integer", (c) => c.notNull())
        .addColumn("rejected_bids", "integer", (c) => c.notNull())
        .addColumn("record", "text", (c) => c.notNull())
        .addColumn("at", "bigint", (c) => c.notNull()),
      dialect,
    ).execute();

    await clusteredByKey(
      db.schema
        .createTable("conclave_reputation")
        .addColumn("agent", "text", (c) => c.primaryKey())
        .addColumn("score", "double precision", (c) => c.notNull())
        .addColumn("observations", "integer", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull()),
      dialect,
    ).execute();
  },
  async down(db) {
    for (const table of ["conclave_reputation", "conclave_auctions"]) {
      await db.schema.dropTable(table).ifExists().execute();
    }
  },
};
