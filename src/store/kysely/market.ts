/**
 * `MarketStore` over Kysely. Reputation updates are read-modify-write
 * transactions on the agent's row (locked `for update` on Postgres; SQLite's
 * write lock serialises them), so concurrent updates are never lost. An
 * adapter's `MarketHotPath` (SQLite's prepared statements) takes the calls
 * every auction makes instead, with the same rules: the rows it exchanges are
 * built and read here.
 */
import type { Selectable } from "kysely";
import { StoreError } from "../../errors/index.js";
import type {
  AuctionRecord,
  AuctionStats,
  MarketStore,
  ReputationRecord,
} from "../ports/market.js";
import type { Database } from "../schema.js";
import { chunks, integer, type StoreCore, strictJson } from "./core.js";
import type { AuctionRow, MarketHotPath, ReputationRow } from "./hot-path.js";

export class KyselyMarketStore implements MarketStore {
  readonly #core: StoreCore;
  readonly #hot: MarketHotPath | undefined;

  constructor(core: StoreCore, hot?: MarketHotPath) {
    this.#core = core;
    this.#hot = hot;
  }

  saveAuction(record: AuctionRecord): Promise<{ saved: boolean; stored: AuctionRecord }> {
    let row: AuctionRow;
    try {
      row = auctionToRow(record);
    } catch (cause) {
      return Promise.reject(
        new StoreError(`auction ${record.id} is not JSON-serialisable`, { cause }),
      );
    }
    const hot = this.#hot;
    if (hot) {
      return this.#core.run("saving an auction", async () => {
        const stored = await hot.saveAuction(row);
        return stored
          ? { saved: false, stored: auctionFromRow(stored) }
          : { saved: true, stored: record };
      });
    }
    return this.#core.run("saving an auction", async () => {
      const rows = await this.#core.db
        .insertInto("conclave_auctions")
        .values(row)
        .onConflict((oc) => oc.column("id").doNothing())
        .returning("id")
        .execute();
      if (rows.length > 0) return { saved: true, stored: record };
      const stored = await this.#auction(record.id);
      if (!stored) throw new StoreError(`auction ${record.id} vanished while being saved`);
      return { saved: false, stored };
    });
  }

  getAuction(id: string): Promise<AuctionRecord | undefined> {
    return this.#core.run("reading an auction", () => this.#auction(id));
  }

  async #auction(id: string): Promise<AuctionRecord | undefined> {
    if (this.#hot) {
      const stored = await this.#hot.getAuction(id);
      return stored ? auctionFromRow(stored) : undefined;
    }
    const row = await this.#core.db
      .selectFrom("conclave_auctions")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    return row ? auctionFromRow(row) : undefined;
  }

  auctions(options: { limit?: number } = {}): Promise<AuctionRecord[]> {
    return this.#core.run("reading auctions", async () => {
      const rows = await this.#core.db
        .selectFrom("conclave_auctions")
        .selectAll()
        .orderBy("at", "desc")
        .orderBy("id", "desc")
        .limit(options.limit ?? 1000)
        .execute();
      return rows.reverse().map(auctionFromRow);
    });
  }

  auctionStats(): Promise<AuctionStats> {
    return this.#core.run("counting auctions", async () => {
      const row = await this.#core.db
        .selectFrom("conclave_auctions")
        .select((eb) => [
          eb.fn.countAll().as("held"),
          eb.fn.count("id").filterWhere("status", "=", "awarded").as("awarded"),
          eb.fn.sum("rejected_bids").as("rejected"),
        ])
        .executeTakeFirst();
      const held = integer(row?.held ?? 0);
      const awarded = integer(row?.awarded ?? 0);
      return {
        held,
        awarded,
        unsold: held - awarded,
        rejectedBids: integer(row?.rejected ?? 0),
      };
    });
  }

  updateReputation(
    agent: string,
    update: (previous: number | undefined) => number,
    options: { at?: number } = {},
  ): Promise<ReputationRecord> {
    const at = options.at ?? this.#core.clock.now();
    const next = (stored: ReputationRow | undefined) => nextReputation(agent, stored, update, at);
    const hot = this.#hot;
    if (hot) {
      return this.#core.run("updating a reputation", async () =>
        reputationFromRow(await hot.updateReputation(agent, next)),
      );
    }
    return this.#core.run("updating a reputation", () =>
      this.#core.transaction(async (trx) => {
        // A placeholder row with no observations makes the row lockable even
        // for an agent never seen, so concurrent first updates serialise too.
        await trx
          .insertInto("conclave_reputation")
          .values({ agent, score: 0, observations: 0, updated_at: at })
          .onConflict((oc) => oc.column("agent").doNothing())
          .execute();
        let query = trx.selectFrom("conclave_reputation").selectAll().where("agent", "=", agent);
        if (this.#core.dialect === "postgres") query = query.forUpdate();
        const row = next(await query.executeTakeFirstOrThrow());
        await trx
          .updateTable("conclave_reputation")
          .set({ score: row.score, observations: row.observations, updated_at: row.updated_at })
          .where("agent", "=", agent)
          .execute();
        return reputationFromRow(row);
      }),
    );
  }

  reputations(agents?: readonly string[]): Promise<ReputationRecord[]> {
    return this.#core.run("reading reputations", async () => {
      if (agents !== undefined && agents.length === 0) return [];
      if (this.#hot) return (await this.#hot.reputations(agents)).map(reputationFromRow);
      const out: ReputationRecord[] = [];
      for (const chunk of agents === undefined ? [undefined] : chunks(agents)) {
        let query = this.#core.db
          .selectFrom("conclave_reputation")
          .selectAll()
          .where("observations", ">", 0)
          .orderBy("agent");
        if (chunk) query = query.where("agent", "in", chunk);
        for (const r of await query.execute()) out.push(reputationFromRow(r));
      }
      return out;
    });
  }
}

/**
 * The row after folding one outcome into `stored` (a placeholder with no
 * observations counts as never observed).
 *
 * @throws StoreError when the update leaves [0, 1].
 */
function nextReputation(
  agent: string,
  stored: ReputationRow | undefined,
  update: (previous: number | undefined) => number,
  at: number,
): ReputationRow {
  const observations = stored === undefined ? 0 : Number(stored.observations);
  const score = update(observations === 0 ? undefined : Number(stored?.score));
  if (!Number.isFinite(score) || score < 0 || score > 1) {
    throw new StoreError(
      `reputation of ${agent} must stay in [0, 1], the update gave ${score}; fix the update function`,
    );
  }
  return { agent, score, observations: observations + 1, updated_at: at };
}

function reputationFromRow(row: ReputationRow): ReputationRecord {
  return {
    agent: row.agent,
    score: Number(row.score),
    observations: Number(row.observations),
    updatedAt: integer(row.updated_at),
  };
}

/** @throws when `record.record` is not JSON-serialisable. */
function auctionToRow(record: AuctionRecord): AuctionRow {
  return {
    id: record.id,
    auctioneer: record.auctioneer,
    task: record.task,
    rule: record.rule,
    status: record.status,
    winner: record.winner ?? null,
    price: record.price ?? null,
    bids: record.bids,
    rejected_bids: record.rejectedBids,
    record: strictJson(record.record),
    at: record.at,
  };
}

function auctionFromRow(row: Selectable<Database["conclave_auctions"]>): AuctionRecord {
  return {
    id: row.id,
    auctioneer: row.auctioneer,
    task: row.task,
    rule: row.rule,
    status: row.status === "awarded" ? "awarded" : "unsold",
    ...(row.winner === null ? {} : { winner: row.winner }),
    ...(row.price === null ? {} : { price: integer(row.price) }),
    bids: Number(row.bids),
    rejectedBids: Number(row.rejected_bids),
    record: JSON.parse(row.record) as unknown,
    at: integer(row.at),
  };
}
