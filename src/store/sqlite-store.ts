import { existsSync, realpathSync } from "node:fs";
import Database from "better-sqlite3";
import {
  CompiledQuery,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  Kysely,
  SqliteAdapter,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
  type SqliteStatement,
} from "kysely";
import type { Clock } from "../core/index.js";
import { preparePrivateFile } from "../core/private-file.js";
import { StoreError, StoreNotFoundError } from "../errors/index.js";
import {
  type LedgerOutcome,
  type PreparedLedgerOperation,
  planLedgerBatch,
} from "../ledger/rules.js";
import type {
  ClaimRow,
  CompletionWritten,
  HotPath,
  OutboxRow,
  PreparedCompletion,
} from "./kysely/hot-path.js";
import { KyselyStore, type KyselyStoreConfig } from "./kysely-store.js";
import { migrateToLatest, refuseNewerSchema } from "./migrations/index.js";
import type { OutboxSent } from "./ports/tasks.js";
import { MIGRATION_TABLE, type Database as Tables } from "./schema.js";
import { SqliteMarketPath } from "./sqlite-market.js";

/** Options of {@link openSqliteStore}. */
export interface SqliteStoreConfig {
  /** File path, or `":memory:"`. Parent folders are created. */
  readonly path: string;
  /**
   * Create the file (and its folders) when missing; default true. `false`
   * (for readers): a missing file, or one without conclave's tables, is a
   * `StoreNotFoundError`, and nothing is created.
   */
  readonly create?: boolean;
  /** `normal` (default) survives kill -9; `full` also survives power loss. */
  readonly synchronous?: "normal" | "full";
  /** How long a writer waits for another process's write lock before failing, ms. Default 5000. */
  readonly busyTimeoutMs?: number;
  /** Default timestamps for registry saves and idempotency claims. Default: the system clock. */
  readonly clock?: Clock;
  /**
   * Run the per-task calls (`isCompleted`, the group commit of
   * `completeTask`, `pendingOutbox`, `deleteOutbox`), the group commit
   * of `applyLedgerOperation`, `balance`, and the market's per-auction
   * calls (`getAuction`, `reputations`, and `saveAuction` and
   * `updateReputation`, group-committed too) as
   * prepared better-sqlite3 statements rather than through Kysely (default true):
   * Kysely's per-query cost is several times SQLite's own for these
   * one-row queries. `false` sends every call through Kysely; the
   * conformance suite runs both ways.
   */
  readonly preparedHotPath?: boolean;
}

/**
 * The embedded default store: one SQLite file in WAL mode, through Kysely.
 * Task completions are group-committed: all completions requested in one
 * turn of the event loop share one transaction, each still atomic and
 * idempotent on its own.
 *
 * Opening is synchronous (the file, its pragmas and the refusal of a newer
 * schema happen here); migrations finish in the background and every call
 * waits for them. `await store.ready()` to surface a migration failure early.
 *
 * @example
 * ```ts
 * const store = openSqliteStore({ path: ".conclave/swarm.db" });
 * await store.completeTask({ taskId, agent: "dev-1", at: Date.now(), effects: [], outbox: [] });
 * ```
 */
export function openSqliteStore(config: SqliteStoreConfig): SqliteStore {
  return new SqliteStore(config);
}

/**
 * The SQLite adapter: the shared `KyselyStore` over Kysely's `SqliteDialect`
 * and better-sqlite3, adjusted for several writers (see
 * `FileLockedSqliteDialect`: transactions begin `immediate`, handles on one
 * file in one process take turns, migrations are transactional), with
 * statements reused, and the four per-task calls and the ledger's batch
 * write as prepared statements (`PreparedHotPath`; `preparedHotPath: false`
 * turns that off).
 */
export class SqliteStore extends KyselyStore {
  constructor(config: SqliteStoreConfig) {
    super(openDatabase(config));
  }
}

function openDatabase(config: SqliteStoreConfig): KyselyStoreConfig {
  const description = `the SQLite store at ${config.path}`;
  const mustExist = config.create === false;
  if (mustExist && config.path !== ":memory:" && !existsSync(config.path)) {
    throw new StoreNotFoundError(`sqlite:${config.path}`, "there is no such file");
  }
  let database: Database.Database;
  try {
    if (config.path !== ":memory:" && !mustExist) preparePrivateFile(config.path);
    database = new Database(config.path, { fileMustExist: mustExist });
  } catch (cause) {
    throw new StoreError(
      `cannot open ${description}: check the path is writable and not used by another version`,
      { cause },
    );
  }
  const busyTimeoutMs = Math.max(0, Math.trunc(config.busyTimeoutMs ?? 5000));
  try {
    database.pragma(`busy_timeout = ${busyTimeoutMs}`);
    const applied = whileBusy(() => appliedMigrationNames(database), busyTimeoutMs);
    // Refused here, synchronously, as the adapter always did: a newer schema
    // must not even be migrated.
    refuseNewerSchema(applied, description);
    // A reader pointed at another program's database (or at a queue journal)
    // must not turn it into an empty store, nor even switch its journal mode.
    if (mustExist && applied.length === 0) {
      throw new StoreNotFoundError(`sqlite:${config.path}`, "the file holds no conclave tables");
    }
    // Switching to WAL takes the file's exclusive lock, and SQLite fails it
    // at once, without its busy handler, while another process opening the
    // same new file holds a lock (three processes starting together).
    whileBusy(() => database.pragma("journal_mode = WAL"), busyTimeoutMs);
    database.pragma(`synchronous = ${config.synchronous === "full" ? "FULL" : "NORMAL"}`);
  } catch (cause) {
    database.close();
    if (cause instanceof StoreError || cause instanceof StoreNotFoundError) throw cause;
    throw new StoreError(`cannot open ${description}: ${describe(cause)}`, { cause });
  }
  const lock = acquireFileLock(config.path === ":memory:" ? undefined : realpathSync(config.path));
  const db = new Kysely<Tables>({
    dialect: new FileLockedSqliteDialect({ database: withStatementCache(database) }, lock.mutex),
  });
  return {
    db,
    dialect: "sqlite",
    description,
    ready: migrateToLatest(db, "sqlite", description),
    ...(config.clock ? { clock: config.clock } : {}),
    ...(config.preparedHotPath === false
      ? {}
      : { hotPath: new PreparedHotPath(database, lock.mutex) }),
    onClosed: lock.release,
  };
}

/**
 * Runs `work` again while SQLite answers SQLITE_BUSY ("database is
 * locked"), for up to `timeoutMs`, pausing a little longer each time. For
 * the synchronous steps of opening a file only: the pause blocks the thread.
 */
function whileBusy<T>(work: () => T, timeoutMs: number): T {
  const giveUpAt = Date.now() + timeoutMs;
  let pauseMs = 5;
  for (;;) {
    try {
      return work();
    } catch (error) {
      const busy = (error as { code?: unknown }).code === "SQLITE_BUSY";
      if (!busy || Date.now() + pauseMs > giveUpAt) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pauseMs);
      pauseMs = Math.min(pauseMs * 2, 100);
    }
  }
}

function appliedMigrationNames(database: Database.Database): { name: string }[] {
  const table = database
    .prepare("select name from sqlite_master where type = 'table' and name = ?")
    .get(MIGRATION_TABLE);
  if (table === undefined) return [];
  return database.prepare(`select name from ${MIGRATION_TABLE}`).all() as { name: string }[];
}

// ---- the hot path -----------------------------------------------------------

/**
 * The per-task calls as prepared statements (see `HotPath`). They hold the
 * same per-file mutex as every Kysely query, so they never run inside a
 * Kysely transaction that is waiting on an `await`, and each runs
 * synchronously once it holds it: with the mutex free, without yielding.
 * Writes are `immediate` transactions, like the dialect's.
 */
class PreparedHotPath implements HotPath {
  readonly #database: Database.Database;
  readonly #mutex: Mutex;
  #prepared: HotStatements | undefined;
  /** `isCompleted` calls waiting for this turn's batch. */
  #checks: { taskId: string; resolve(done: boolean): void; reject(error: unknown): void }[] = [];
  readonly market: SqliteMarketPath;

  constructor(database: Database.Database, mutex: Mutex) {
    this.#database = database;
    this.#mutex = mutex;
    this.market = new SqliteMarketPath(database, (work) => this.#locked(work));
  }

  // Prepared on first use: the tables exist only once migrations ran.
  get #statements(): HotStatements {
    this.#prepared ??= prepareHotStatements(this.#database);
    return this.#prepared;
  }

  /**
   * Checks made in the same turn of the microtask queue share one read
   * transaction: outside a transaction every statement on a WAL file opens
   * and closes its own read snapshot (locks on the shared-memory index),
   * which measured about 10 times the cost of the lookup itself (20 µs
   * against 2 µs here). A runtime asks once per delivered task, and
   * deliveries arrive in bursts, so the checks of a burst go together.
   */
  isCompleted(taskId: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      if (this.#checks.push({ taskId, resolve, reject }) === 1) {
        queueMicrotask(() => this.#checkBatch());
      }
    });
  }

  #checkBatch(): void {
    const batch = this.#checks;
    this.#checks = [];
    this.#locked(() => this.#statements.areCompleted(batch.map((c) => c.taskId))).then(
      (done) => {
        batch.forEach((c, i) => {
          c.resolve(done[i] === true);
        });
      },
      (error: unknown) => {
        for (const c of batch) c.reject(error);
      },
    );
  }

  writeCompletions(completions: readonly PreparedCompletion[]): Promise<CompletionWritten[]> {
    return this.#locked(() => this.#statements.writeCompletions.immediate(completions));
  }

  pendingOutbox(taskId: string | undefined, limit: number): Promise<OutboxRow[]> {
    return this.#locked(() => {
      const statement = this.#statements.outbox(taskId !== undefined, limit);
      return (taskId === undefined ? statement.all() : statement.all(taskId)) as OutboxRow[];
    });
  }

  deleteOutbox(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return Promise.resolve();
    return this.#locked(() => {
      this.#statements.deleteAll.immediate(ids);
    });
  }

  markOutboxSent(sent: readonly OutboxSent[]): Promise<void> {
    if (sent.length === 0) return Promise.resolve();
    return this.#locked(() => {
      this.#statements.markAllSent.immediate(sent);
    });
  }

  claimTasks(batch: readonly ClaimRow[], now: number): Promise<ClaimRow[]> {
    return this.#locked(() => this.#statements.claimTasks.immediate(batch, now));
  }

  writeLedgerBatch(batch: readonly PreparedLedgerOperation[]): Promise<LedgerOutcome[]> {
    return this.#locked(() => this.#statements.writeLedgerBatch.immediate(batch));
  }

  balance(account: string): Promise<number | undefined> {
    return this.#locked(() => this.#statements.ledgerBalance.get(account) as number | undefined);
  }

  #locked<T>(work: () => T): Promise<T> {
    const run = (): T => {
      try {
        return work();
      } finally {
        this.#mutex.unlock();
      }
    };
    if (this.#mutex.tryLock()) {
      try {
        return Promise.resolve(run());
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#mutex.lock().then(run);
  }
}

type HotStatements = ReturnType<typeof prepareHotStatements>;

function prepareHotStatements(db: Database.Database) {
  const s = {
    isCompleted: db.prepare("select 1 from conclave_completed where task_id = ?"),
    complete: db.prepare(
      "insert into conclave_completed (task_id, agent, at, result, corr, cause, sender) values (?, ?, ?, ?, ?, ?, ?) on conflict (task_id) do nothing",
    ),
    effect: db.prepare(
      "insert into conclave_effects (kind, key, task_id, agent, at, data) values (?, ?, ?, ?, ?, ?)",
    ),
    insertOutbox: db.prepare(
      "insert into conclave_outbox (id, task_id, mode, subject, data, seq) values (?, ?, ?, ?, ?, ?) on conflict (id) do nothing",
    ),
    maxOutboxSeq: db.prepare("select max(seq) as max from conclave_outbox"),
    deleteOutbox: db.prepare("delete from conclave_outbox where id = ?"),
    markSent: db.prepare(
      "update conclave_outbox set sent_at = ?, receipt = ?, resends = resends + ? where id = ?",
    ),
    claimTask: db.prepare(
      "insert into conclave_task_claims (task_id, owner, expires_at) values (?, ?, ?) on conflict (task_id) do update set owner = excluded.owner, expires_at = excluded.expires_at where conclave_task_claims.expires_at <= ? or conclave_task_claims.owner = excluded.owner",
    ),
    claimHolder: db.prepare("select owner, expires_at from conclave_task_claims where task_id = ?"),
    ledgerFingerprint: db
      .prepare("select fingerprint from conclave_ledger_operations where id = ?")
      .pluck(),
    ledgerBalance: db
      .prepare("select balance from conclave_ledger_balances where account = ?")
      .pluck(),
    ledgerOperation: db.prepare(
      "insert into conclave_ledger_operations (id, kind, fingerprint, memo, at) values (?, ?, ?, ?, ?)",
    ),
    ledgerEntry: db.prepare(
      "insert into conclave_ledger_entries (operation_id, seq, account, delta) values (?, ?, ?, ?)",
    ),
    ledgerSetBalance: db.prepare(
      "insert into conclave_ledger_balances (account, balance) values (?, ?) on conflict (account) do update set balance = excluded.balance",
    ),
  };
  /**
   * Same decisions as `KyselyLedgerStore`'s batch (`planLedgerBatch`), with
   * reads made lazily inside the `immediate` transaction, which holds the
   * file's write lock: nobody else can change what was read.
   */
  const writeLedgerBatch = (batch: readonly PreparedLedgerOperation[]): LedgerOutcome[] => {
    const plan = planLedgerBatch(batch, {
      fingerprint: (id) => s.ledgerFingerprint.get(id) as string | undefined,
      balance: (account) => s.ledgerBalance.get(account) as number | undefined,
    });
    for (const { operation, fingerprint, memo } of plan.applied) {
      s.ledgerOperation.run(operation.id, operation.kind, fingerprint, memo, operation.at);
      operation.entries.forEach((e, seq) => {
        s.ledgerEntry.run(operation.id, seq, e.account, e.delta);
      });
    }
    for (const [account, balance] of plan.balances) s.ledgerSetBalance.run(account, balance);
    return plan.outcomes;
  };
  /** One completion's rows; false when its task id was already completed. */
  const writeCompletion = (c: PreparedCompletion, next: { seq?: number }): boolean => {
    if (
      s.complete.run(c.taskId, c.agent, c.at, c.result, c.corr, c.cause, c.sender).changes !== 1
    ) {
      return false;
    }
    for (const e of c.effects) s.effect.run(e.kind, e.key, c.taskId, c.agent, c.at, e.data);
    for (const o of c.outbox) {
      // One writer at a time holds the file: the numbers after the maximum are ours.
      next.seq ??= (s.maxOutboxSeq.get() as { max: number | null }).max ?? 0;
      const data = Buffer.from(o.data.buffer, o.data.byteOffset, o.data.byteLength);
      s.insertOutbox.run(o.id, c.taskId, o.mode, o.subject, data, ++next.seq);
    }
    return true;
  };
  // Called inside the batch's transaction, so better-sqlite3 makes it a
  // savepoint: a refused operation rolls back this completion only.
  const writeCompletionWithLedger = db.transaction(
    (c: PreparedCompletion, next: { seq?: number }): boolean => {
      if (!writeCompletion(c, next)) return false;
      for (const outcome of writeLedgerBatch(c.ledger)) {
        if ("error" in outcome) throw new LedgerRefusal(outcome.error);
      }
      return true;
    },
  );
  /**
   * Same rules as `KyselyTaskStore`'s batch write: first call per task id
   * wins; a completion whose ledger operations are refused writes nothing.
   */
  const writeCompletions = (completions: readonly PreparedCompletion[]): CompletionWritten[] => {
    const outcomes: CompletionWritten[] = [];
    const seen = new Set<string>();
    const next: { seq?: number } = {};
    for (const c of completions) {
      if (seen.has(c.taskId)) {
        outcomes.push(true);
        continue;
      }
      let written: boolean;
      try {
        written =
          c.ledger.length === 0 ? writeCompletion(c, next) : writeCompletionWithLedger(c, next);
      } catch (error) {
        if (!(error instanceof LedgerRefusal)) throw error;
        outcomes.push(error.error);
        continue;
      }
      seen.add(c.taskId);
      outcomes.push(!written);
    }
    completions.forEach((c, i) => {
      if (outcomes[i] instanceof Error) return;
      for (const id of c.settles) s.deleteOutbox.run(id);
    });
    return outcomes;
  };
  // The limit is written into the SQL, one statement per limit used (the
  // runtime uses two): with a bound LIMIT these reads measured several
  // times slower in better-sqlite3.
  const outboxReads = new Map<string, Database.Statement>();
  const outbox = (ofTask: boolean, limit: number): Database.Statement => {
    const rows = Number.isFinite(limit) ? Math.max(0, Math.trunc(limit)) : 0;
    const key = `${ofTask}:${rows}`;
    let statement = outboxReads.get(key);
    if (!statement) {
      statement = db.prepare(
        `select id, task_id, mode, subject, data from conclave_outbox where sent_at is null${ofTask ? " and task_id = ?" : ""} order by seq limit ${rows}`,
      );
      if (outboxReads.size < 16) outboxReads.set(key, statement);
    }
    return statement;
  };
  return {
    ...s,
    outbox,
    // A deferred transaction: one read snapshot for the whole batch.
    areCompleted: db.transaction((ids: readonly string[]): boolean[] =>
      ids.map((id) => s.isCompleted.get(id) !== undefined),
    ),
    writeCompletions: db.transaction(writeCompletions),
    writeLedgerBatch: db.transaction(writeLedgerBatch),
    // Granted rows change; a refused one (the upsert's condition false) does
    // not, and its holder is read in the same transaction.
    claimTasks: db.transaction((batch: readonly ClaimRow[], now: number): ClaimRow[] =>
      batch.map((c) => {
        if (s.claimTask.run(c.taskId, c.owner, c.expiresAt, now).changes > 0) return c;
        const row = s.claimHolder.get(c.taskId) as { owner: string; expires_at: number };
        return { taskId: c.taskId, owner: row.owner, expiresAt: Number(row.expires_at) };
      }),
    ),
    deleteAll: db.transaction((ids: readonly string[]) => {
      for (const id of ids) s.deleteOutbox.run(id);
    }),
    markAllSent: db.transaction((sent: readonly OutboxSent[]) => {
      for (const e of sent) s.markSent.run(e.at, e.receipt ?? null, e.resent ? 1 : 0, e.id);
    }),
  };
}

// ---- the dialect ------------------------------------------------------------

/**
 * Kysely's `SqliteDialect` with three changes, each for correctness or speed
 * under several writers:
 *
 * 1. Transactions start with `begin immediate`. A deferred `begin` that
 *    reads and then writes fails with SQLITE_BUSY when another connection
 *    committed in between (WAL snapshots cannot be upgraded); taking the
 *    write lock first makes the busy timeout apply instead. It also makes
 *    "read the max, then insert" (outbox and audit sequences) safe across
 *    processes.
 * 2. Handles on the same file in one process share a mutex. better-sqlite3
 *    blocks the thread while it waits for a lock, so one handle waiting for
 *    a lock that a sibling handle holds across an `await` would stall the
 *    only thread that could release it. Other processes are handled by the
 *    busy timeout.
 * 3. Migrations run in one transaction (`supportsTransactionalDdl`): SQLite
 *    DDL is transactional, so a failed migration leaves nothing behind and
 *    concurrent openers of a new file serialise on the write lock.
 */
class FileLockedSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  readonly #mutex: Mutex;

  constructor(config: SqliteDialectConfig, mutex: Mutex) {
    super(config);
    this.#config = config;
    this.#mutex = mutex;
  }

  override createDriver(): Driver {
    return new FileLockedSqliteDriver(this.#config, this.#mutex);
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalSqliteAdapter();
  }
}

class FileLockedSqliteDriver extends SqliteDriver {
  readonly #mutex: Mutex;

  constructor(config: SqliteDialectConfig, mutex: Mutex) {
    super(config);
    this.#mutex = mutex;
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    await this.#mutex.lock();
    try {
      return await super.acquireConnection();
    } catch (error) {
      this.#mutex.unlock();
      throw error;
    }
  }

  override async releaseConnection(): Promise<void> {
    await super.releaseConnection();
    this.#mutex.unlock();
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await super.rollbackTransaction(connection);
    } catch (error) {
      // SQLite rolled the transaction back itself (a full disk, an I/O
      // error): the ROLLBACK's own failure would hide that error.
      if (!/no transaction is active/.test(error instanceof Error ? error.message : ""))
        throw error;
    }
  }
}

class TransactionalSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

/**
 * Kysely's SQLite driver prepares every statement it runs; preparing costs
 * more than running the small hot-path queries, so statements are kept by
 * SQL text (least recently used evicted). Very long statements (large
 * multi-row inserts) are not kept.
 */
function withStatementCache(database: Database.Database, size = 256) {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => database.close(),
    prepare(sqlText: string): SqliteStatement {
      const hit = cache.get(sqlText);
      if (hit) {
        cache.delete(sqlText);
        cache.set(sqlText, hit);
        return hit;
      }
      const statement = database.prepare(sqlText);
      if (sqlText.length <= 4096) {
        cache.set(sqlText, statement);
        if (cache.size > size) cache.delete(cache.keys().next().value as string);
      }
      return statement;
    },
  };
}

// ---- one mutex per file per process ------------------------------------------

/** Hands the lock to waiters in arrival order. */
/** Carries a refused ledger operation's error out of its completion's savepoint. */
class LedgerRefusal {
  readonly error: Error;
  constructor(error: Error) {
    this.error = error;
  }
}

class Mutex {
  readonly #waiters: (() => void)[] = [];
  #held = false;

  /** Takes the lock if it is free, without waiting. */
  tryLock(): boolean {
    if (this.#held) return false;
    this.#held = true;
    return true;
  }

  async lock(): Promise<void> {
    if (!this.#held) {
      this.#held = true;
      return;
    }
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  unlock(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#held = false;
  }
}

const fileLocks = new Map<string, { mutex: Mutex; handles: number }>();

function acquireFileLock(path: string | undefined): { mutex: Mutex; release: () => void } {
  if (path === undefined) return { mutex: new Mutex(), release: () => {} };
  let entry = fileLocks.get(path);
  if (!entry) {
    entry = { mutex: new Mutex(), handles: 0 };
    fileLocks.set(path, entry);
  }
  entry.handles++;
  const held = entry;
  let released = false;
  return {
    mutex: held.mutex,
    release: () => {
      if (released) return;
      released = true;
      if (--held.handles === 0 && fileLocks.get(path) === held) fileLocks.delete(path);
    },
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
