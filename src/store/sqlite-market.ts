/**
 * The market's per-auction calls on SQLite (`MarketHotPath`: an auction's
 * record and its idempotency read, reputations read and updated) as prepared
 * better-sqlite3 statements, beside
 * the task and ledger hot path of `sqlite-store.ts`: Kysely's per-query cost
 * is several times SQLite's own for these one-row queries.
 *
 * Writes requested before the event loop's next turn share one `immediate`
 * transaction, as task completions and ledger operations do: on a WAL file
 * each write transaction costs far more than its row (about 80 µs against
 * 30 µs a row in batches of 10, measured), and auctions end in bursts. Each
 * write runs in its own savepoint, so one that throws writes nothing and the
 * others still commit.
 */
import type Database from "better-sqlite3";
import { compare, retried } from "./kysely/core.js";
import type { AuctionRow, MarketHotPath, ReputationRow } from "./kysely/hot-path.js";

/** Runs `work` holding the file's mutex (shared with Kysely's queries on it). */
export type Locked = <T>(work: () => T) => Promise<T>;

interface PendingWrite {
  readonly work: () => unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

type Outcome = { readonly value: unknown } | { readonly error: unknown };

export class SqliteMarketPath implements MarketHotPath {
  readonly #database: Database.Database;
  readonly #locked: Locked;
  #prepared: MarketStatements | undefined;
  #writes: PendingWrite[] = [];

  constructor(database: Database.Database, locked: Locked) {
    this.#database = database;
    this.#locked = locked;
  }

  // Prepared on first use: the tables exist only once migrations ran.
  get #statements(): MarketStatements {
    this.#prepared ??= prepareMarketStatements(this.#database);
    return this.#prepared;
  }

  getAuction(id: string): Promise<AuctionRow | undefined> {
    return this.#locked(() => this.#statements.auction.get(id) as AuctionRow | undefined);
  }

  reputations(agents: readonly string[] | undefined): Promise<ReputationRow[]> {
    return this.#locked(() => {
      const s = this.#statements;
      if (agents === undefined) return s.allReputations.all() as ReputationRow[];
      return s.someReputations([...new Set(agents)].sort(compare));
    });
  }

  saveAuction(row: AuctionRow): Promise<AuctionRow | undefined> {
    return this.#write(() => {
      const s = this.#statements;
      if (s.insertAuction.run(row).changes === 1) return undefined;
      return s.auction.get(row.id) as AuctionRow;
    });
  }

  updateReputation(
    agent: string,
    next: (stored: ReputationRow | undefined) => ReputationRow,
  ): Promise<ReputationRow> {
    return this.#write(() => {
      const s = this.#statements;
      // The write lock is held (an immediate transaction): nobody else can
      // change the row between this read and the write.
      const row = next(s.reputation.get(agent) as ReputationRow | undefined);
      s.upsertReputation.run(row);
      return row;
    });
  }

  #write<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const pending: PendingWrite = { work, resolve: resolve as (value: unknown) => void, reject };
      if (this.#writes.push(pending) === 1) setImmediate(() => this.#flush());
    });
  }

  #flush(): void {
    const batch = this.#writes;
    this.#writes = [];
    // Another process holding the file past the busy timeout: nothing was
    // written, so the batch may run again, as Kysely's transactions do.
    retried(() => this.#locked(() => this.#statements.writeBatch.immediate(batch))).then(
      (outcomes) => {
        batch.forEach((pending, i) => {
          const outcome = outcomes[i] as Outcome;
          if ("error" in outcome) pending.reject(outcome.error);
          else pending.resolve(outcome.value);
        });
      },
      // Nothing was committed (the file is locked, full, or gone): every write fails.
      (error: unknown) => {
        for (const pending of batch) pending.reject(error);
      },
    );
  }
}

type MarketStatements = ReturnType<typeof prepareMarketStatements>;

function prepareMarketStatements(db: Database.Database) {
  const auction = db.prepare("select * from conclave_auctions where id = ?");
  const reputation = db.prepare("select * from conclave_reputation where agent = ?");
  // A nested better-sqlite3 transaction is a savepoint.
  const savepoint = db.transaction((work: () => unknown) => work());
  return {
    auction,
    reputation,
    insertAuction: db.prepare(
      "insert into conclave_auctions (id, auctioneer, task, rule, status, winner, price, bids, rejected_bids, record, at) values (@id, @auctioneer, @task, @rule, @status, @winner, @price, @bids, @rejected_bids, @record, @at) on conflict (id) do nothing",
    ),
    upsertReputation: db.prepare(
      "insert into conclave_reputation (agent, score, observations, updated_at) values (@agent, @score, @observations, @updated_at) on conflict (agent) do update set score = excluded.score, observations = excluded.observations, updated_at = excluded.updated_at",
    ),
    allReputations: db.prepare(
      "select * from conclave_reputation where observations > 0 order by agent",
    ),
    // A deferred transaction: one read snapshot for every agent.
    someReputations: db.transaction((agents: readonly string[]): ReputationRow[] => {
      const rows: ReputationRow[] = [];
      for (const agent of agents) {
        const row = reputation.get(agent) as ReputationRow | undefined;
        if (row !== undefined && Number(row.observations) > 0) rows.push(row);
      }
      return rows;
    }),
    writeBatch: db.transaction((batch: readonly PendingWrite[]): Outcome[] =>
      batch.map((pending) => {
        try {
          return { value: savepoint(pending.work) };
        } catch (error) {
          // SQLite itself rolled the whole transaction back (a full disk, an
          // I/O error): nothing of the batch stands, every write fails.
          if (!db.inTransaction) throw error;
          return { error };
        }
      }),
    ),
  };
}
