/**
 * The one implementation of the `Store` port, over Kysely, shared by the
 * SQLite and Postgres adapters. The adapters only open the database (driver,
 * pragmas or pool, schema, migrations) and hand a `Kysely<Database>` here;
 * every query below is written once for both dialects. The few dialect
 * differences are named where they occur: how the outbox sequence is drawn,
 * how audit appends and ledger operations are serialised, and which errors
 * are worth a retry. An adapter may also supply a `HotPath`: its own
 * implementation of the four per-task calls and of the ledger batch write
 * (SQLite does, with prepared statements).
 */
import { type Insertable, type Kysely, type Selectable, sql, type Transaction } from "kysely";
import { type Clock, systemClock } from "../core/index.js";
import { ClosedError, ConclaveError, StoreError } from "../errors/index.js";
import { WORLD } from "../ledger/accounts.js";
import type { LedgerOperation, OperationKind } from "../ledger/operations.js";
import {
  type LedgerLookup,
  type LedgerOutcome,
  type PreparedLedgerOperation,
  planLedgerBatch,
  prepareLedgerOperation,
} from "../ledger/rules.js";
import { auditHash } from "./audit-chain.js";
import { appliedMigrations, migrations } from "./migrations/index.js";
import type {
  AccountBalance,
  AuctionRecord,
  AuctionStats,
  AuditEntry,
  AuditRecord,
  DeadLetterRecord,
  EffectRecord,
  EffectStats,
  IdempotencyClaim,
  LedgerCheck,
  LedgerEntryRecord,
  OutboxEntry,
  PruneIdempotencyKeysOptions,
  ReputationRecord,
  SchemaStatus,
  Store,
  StoredAgentCard,
  TaskCompletion,
} from "./port.js";
import type { Database, OutboxTable, StoreDialect } from "./schema.js";

/** What an adapter gives the shared implementation. */
export interface KyselyStoreConfig {
  /** The open database. The store owns it: `close()` destroys it. */
  readonly db: Kysely<Database>;
  readonly dialect: StoreDialect;
  /** Names the store in messages, e.g. `the SQLite store at ./swarm.db`. */
  readonly description: string;
  /**
   * Settles when the schema is ready to use. Every call waits for it; when
   * it rejects (a failed migration), every call rejects with its error.
   */
  readonly ready?: Promise<void>;
  /** The Postgres schema holding the tables, for `schemaStatus()`. */
  readonly schema?: string;
  /** Default timestamps (registry saves, idempotency claims). Default: the system clock. */
  readonly clock?: Clock;
  /** Runs once after the database is destroyed (e.g. releases a file lock). */
  readonly onClosed?: () => void;
  /** Prepared-statement versions of the hottest calls, used instead of Kysely for them. */
  readonly hotPath?: HotPath;
}

/**
 * The calls the runtime makes for every task (`isCompleted`, the group
 * commit of `completeTask`, `pendingOutbox`, `deleteOutbox`), implemented
 * below Kysely by an adapter where Kysely's per-query cost shows (SQLite:
 * building and compiling a query costs more than running it). Same
 * contract and same results as the Kysely versions in `KyselyStore`;
 * called only once the schema is ready.
 */
export interface HotPath {
  isCompleted(taskId: string): Promise<boolean>;
  /** Writes a batch in one transaction; per completion, whether it was a duplicate. */
  writeCompletions(completions: readonly PreparedCompletion[]): Promise<boolean[]>;
  pendingOutbox(taskId: string | undefined, limit: number): Promise<OutboxRow[]>;
  deleteOutbox(ids: readonly string[]): Promise<void>;
  /**
   * Decides and writes a batch of ledger operations in one transaction
   * (`planLedgerBatch` over reads made inside it); per operation, its outcome.
   */
  writeLedgerBatch?(batch: readonly PreparedLedgerOperation[]): Promise<LedgerOutcome[]>;
}

/** An outbox row as `pendingOutbox` reads it. */
export type OutboxRow = Pick<
  Selectable<OutboxTable>,
  "id" | "task_id" | "mode" | "subject" | "data"
>;

/** A completion checked and serialised, ready to write. */
export interface PreparedCompletion {
  readonly taskId: string;
  readonly agent: string;
  readonly at: number;
  readonly effects: readonly { kind: string; key: string; data: string | null }[];
  readonly outbox: TaskCompletion["outbox"];
}

interface PendingCompletion {
  readonly completion: PreparedCompletion;
  resolve(result: { duplicate: boolean }): void;
  reject(error: Error): void;
}

interface PendingLedgerOperation {
  readonly prepared: PreparedLedgerOperation;
  resolve(result: { applied: boolean }): void;
  reject(error: Error): void;
}

/** Group commit of ledger operations, one queue per store handle. */
interface LedgerQueue {
  pending: PendingLedgerOperation[];
  scheduled: boolean;
  flushing: Promise<void> | undefined;
}

/** Ledger operations per transaction: bounds the lock set and the statement sizes of a batch. */
const LEDGER_BATCH = 256;
/** Attempts for a ledger batch that lost to a concurrent writer (deadlock, busy, id raced). */
const LEDGER_ATTEMPTS = 5;

/**
 * Thrown inside a ledger transaction on Postgres when an operation id it
 * decided to apply was committed meanwhile by another transaction (its
 * decision read no such id): the transaction rolls back and runs again,
 * and then sees that operation.
 */
class LedgerRaceError extends Error {
  readonly code = "CONCLAVE_LEDGER_RACE";
}

/** Rows per multi-row insert: far below SQLite's 32,766 and Postgres' 65,535 bound parameters. */
const ROWS_PER_INSERT = 500;
/** Attempts for a transaction that lost a deadlock or a lock wait to a concurrent writer. */
const ATTEMPTS = 3;

/**
 * A `Store` over Kysely. Create it through `openSqliteStore` or
 * `openPostgresStore`; the contract is the one documented on `Store`.
 *
 * Group commit: `completeTask` calls queue up and are written together, one
 * transaction per batch (three multi-row inserts: markers with
 * `on conflict do nothing returning`, effects and outbox of the markers that
 * were new). One batch is in flight at a time; calls arriving meanwhile form
 * the next. If a batch fails, its completions are retried one transaction
 * each, so one bad completion never fails its neighbours.
 *
 * Ledger operations are group-committed the same way (`applyLedgerOperation`:
 * a batch of up to 256 per transaction, decided one by one in call order by
 * `planLedgerBatch`, so a refused operation fails alone and nothing of it
 * is written).
 *
 * Every call waits for the schema (`ready`), turns driver errors into
 * `StoreError` with the driver error as `cause`, and is refused with
 * `ClosedError` once `close()` was called; `close()` first commits queued
 * completions and waits for calls still running.
 */
export class KyselyStore implements Store {
  readonly kind: StoreDialect;
  /** The database, for adapter-specific extras in subclasses. */
  protected readonly db: Kysely<Database>;
  readonly #description: string;
  readonly #ready: Promise<void>;
  readonly #schema: string | undefined;
  readonly #clock: Clock;
  readonly #onClosed: (() => void) | undefined;
  readonly #hot: HotPath | undefined;
  #pending: PendingCompletion[] = [];
  #scheduled = false;
  #flushing: Promise<void> | undefined;
  readonly #ledger: LedgerQueue = { pending: [], scheduled: false, flushing: undefined };
  readonly #inFlight = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;

  constructor(config: KyselyStoreConfig) {
    this.kind = config.dialect;
    this.db = config.db;
    this.#description = config.description;
    this.#ready = config.ready ?? Promise.resolve();
    // Reported to each caller; not an unhandled rejection when nobody calls.
    this.#ready.catch(() => {});
    this.#schema = config.schema;
    this.#clock = config.clock ?? systemClock;
    this.#onClosed = config.onClosed;
    this.#hot = config.hotPath;
  }

  /** Resolves once the schema is migrated and the store is usable; rejects with the `StoreError` if it cannot be. */
  ready(): Promise<void> {
    return this.run("opening", () => Promise.resolve());
  }

  // ---- task completion (group commit) -------------------------------------

  completeTask(completion: TaskCompletion): Promise<{ duplicate: boolean }> {
    if (this.#closing) return Promise.reject(new ClosedError(this.#description));
    let prepared: PreparedCompletion;
    try {
      prepared = {
        taskId: completion.taskId,
        agent: completion.agent,
        at: completion.at,
        effects: completion.effects.map((e) => ({
          kind: e.kind,
          key: e.key,
          data: e.data === undefined ? null : JSON.stringify(e.data),
        })),
        outbox: completion.outbox,
      };
    } catch (cause) {
      return Promise.reject(
        new StoreError(
          `task ${completion.taskId}: an effect's data is not JSON-serialisable; record plain data`,
          { cause },
        ),
      );
    }
    return new Promise((resolve, reject) => {
      this.#pending.push({ completion: prepared, resolve, reject });
      if (!this.#scheduled && !this.#flushing) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          this.#flush();
        });
      }
    });
  }

  #flush(): void {
    if (this.#flushing || this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#flushing = this.#commitBatch(batch).then(() => {
      this.#flushing = undefined;
      // What queued while this batch was in flight has waited long enough.
      this.#flush();
    });
  }

  /** Settles every completion of the batch; never rejects. */
  async #commitBatch(batch: readonly PendingCompletion[]): Promise<void> {
    try {
      await this.#ready;
      const duplicates = await this.#writeBatch(batch.map((p) => p.completion));
      batch.forEach((p, i) => {
        p.resolve({ duplicate: duplicates[i] === true });
      });
      return;
    } catch (cause) {
      // Splitting helps when one completion is at fault, not when the
      // database is unusable or locked by another writer.
      if (batch.length === 1 || cause instanceof ConclaveError || lostToConcurrentWriter(cause)) {
        const error = this.#storeError("committing task completions", cause);
        for (const p of batch) p.reject(error);
        return;
      }
    }
    for (const p of batch) {
      try {
        const [duplicate] = await this.#writeBatch([p.completion]);
        p.resolve({ duplicate: duplicate === true });
      } catch (cause) {
        p.reject(this.#storeError(`committing task ${p.completion.taskId}`, cause));
      }
    }
  }

  #writeBatch(completions: readonly PreparedCompletion[]): Promise<boolean[]> {
    const hot = this.#hot;
    if (hot) return retried(() => hot.writeCompletions(completions));
    return this.#transaction((trx) => this.#writeCompletions(trx, completions));
  }

  /**
   * Writes a batch inside a transaction; returns, per completion, whether it
   * was a duplicate (already recorded, or repeated earlier in the batch).
   */
  async #writeCompletions(
    trx: Transaction<Database>,
    completions: readonly PreparedCompletion[],
  ): Promise<boolean[]> {
    const first = new Map<string, number>();
    completions.forEach((c, i) => {
      if (!first.has(c.taskId)) first.set(c.taskId, i);
    });
    // Markers in key order: concurrent batches on Postgres then take row
    // locks in the same order and cannot deadlock on each other.
    const markers = [...first.values()]
      .map((i) => completions[i] as PreparedCompletion)
      .sort((a, b) => (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0));
    const inserted = new Set<string>();
    for (const chunk of chunks(markers)) {
      const rows = await trx
        .insertInto("conclave_completed")
        .values(chunk.map((c) => ({ task_id: c.taskId, agent: c.agent, at: c.at })))
        .onConflict((oc) => oc.column("task_id").doNothing())
        .returning("task_id")
        .execute();
      for (const r of rows) inserted.add(r.task_id);
    }

    // In call order, so outbox entries keep the order they were staged in.
    const winners = [...first.entries()]
      .filter(([taskId]) => inserted.has(taskId))
      .map(([, i]) => completions[i] as PreparedCompletion);
    const effects = winners.flatMap((c) =>
      c.effects.map((e) => ({ ...e, task_id: c.taskId, agent: c.agent, at: c.at })),
    );
    for (const chunk of chunks(effects)) {
      await trx.insertInto("conclave_effects").values(chunk).execute();
    }
    const outbox: Insertable<OutboxTable>[] = winners.flatMap((c) =>
      c.outbox.map((o) => ({
        id: o.id,
        task_id: c.taskId,
        mode: o.mode,
        subject: o.subject,
        data: Buffer.from(o.data.buffer, o.data.byteOffset, o.data.byteLength),
      })),
    );
    if (outbox.length > 0 && this.kind === "sqlite") {
      // Postgres draws `seq` from its sequence. SQLite has one writer at a
      // time (this transaction holds the file's write lock), so the next
      // numbers after the current maximum are ours alone.
      const max = await this.#maxOutboxSeq(trx);
      outbox.forEach((o, i) => {
        o.seq = max + i + 1;
      });
    }
    for (const chunk of chunks(outbox)) {
      await trx
        .insertInto("conclave_outbox")
        .values(chunk)
        .onConflict((oc) => oc.column("id").doNothing())
        .execute();
    }
    return completions.map((c, i) => !(inserted.has(c.taskId) && first.get(c.taskId) === i));
  }

  async #maxOutboxSeq(trx: Transaction<Database>): Promise<number> {
    const row = await trx
      .selectFrom("conclave_outbox")
      .select((eb) => eb.fn.max("seq").as("max"))
      .executeTakeFirst();
    return Number(row?.max ?? 0);
  }

  isCompleted(taskId: string): Promise<boolean> {
    return this.run("isCompleted", async () => {
      if (this.#hot) return this.#hot.isCompleted(taskId);
      const row = await this.db
        .selectFrom("conclave_completed")
        .select("task_id")
        .where("task_id", "=", taskId)
        .executeTakeFirst();
      return row !== undefined;
    });
  }

  // ---- ledger (group commit) -----------------------------------------------

  applyLedgerOperation(operation: LedgerOperation): Promise<{ applied: boolean }> {
    if (this.#closing) return Promise.reject(new ClosedError(this.#description));
    let prepared: PreparedLedgerOperation;
    try {
      prepared = prepareLedgerOperation(operation);
    } catch (error) {
      return Promise.reject(error);
    }
    const queue = this.#ledger;
    return new Promise((resolve, reject) => {
      queue.pending.push({ prepared, resolve, reject });
      if (!queue.scheduled && !queue.flushing) {
        queue.scheduled = true;
        setImmediate(() => {
          queue.scheduled = false;
          this.#flushLedger();
        });
      }
    });
  }

  #flushLedger(): void {
    const queue = this.#ledger;
    if (queue.flushing || queue.pending.length === 0) return;
    const batch = queue.pending.splice(0, LEDGER_BATCH);
    queue.flushing = this.#commitLedgerBatch(batch).then(() => {
      queue.flushing = undefined;
      this.#flushLedger();
    });
  }

  /** Settles every operation of the batch; never rejects. */
  async #commitLedgerBatch(batch: readonly PendingLedgerOperation[]): Promise<void> {
    const settle = (p: PendingLedgerOperation, outcome: LedgerOutcome | undefined) => {
      if (outcome === undefined) p.reject(new StoreError("ledger batch lost an outcome"));
      else if ("error" in outcome) p.reject(outcome.error);
      else p.resolve({ applied: outcome.applied });
    };
    try {
      await this.#ready;
      const outcomes = await this.#writeLedger(batch.map((p) => p.prepared));
      batch.forEach((p, i) => {
        settle(p, outcomes[i]);
      });
      return;
    } catch (cause) {
      if (batch.length === 1 || cause instanceof ConclaveError || lostToConcurrentWriter(cause)) {
        const error = this.#storeError("applying ledger operations", cause);
        for (const p of batch) p.reject(error);
        return;
      }
    }
    // Nothing of the failed batch was committed: each operation on its own.
    for (const p of batch) {
      try {
        settle(p, (await this.#writeLedger([p.prepared]))[0]);
      } catch (cause) {
        p.reject(this.#storeError(`applying ledger operation ${p.prepared.operation.id}`, cause));
      }
    }
  }

  #writeLedger(batch: readonly PreparedLedgerOperation[]): Promise<LedgerOutcome[]> {
    const hot = this.#hot?.writeLedgerBatch?.bind(this.#hot);
    if (hot) return retried(() => hot(batch), LEDGER_ATTEMPTS);
    return retried(
      () => this.db.transaction().execute((trx) => this.#writeLedgerBatch(trx, batch)),
      LEDGER_ATTEMPTS,
    );
  }

  /**
   * One batch inside a transaction. Reads what the batch needs, decides it
   * with `planLedgerBatch`, writes the operations, entries and balances.
   *
   * Postgres runs many writers at once, so the accounts are locked first,
   * always in account order (concurrent batches then queue up instead of
   * deadlocking): accounts the batch credits get a zero placeholder row
   * (`on conflict do nothing`: it exists, or we create it) so that a new
   * account is locked too; then `select … for update` locks every existing
   * row. Placeholders this transaction created count as absent while
   * deciding, and those no applied operation used are deleted again, so an
   * account still exists only once credited. The operation ids are read
   * after the locks: a replay of the same operation touches the same
   * accounts, so it waits for the first to commit and then sees it. An id
   * reused for a different operation on other accounts can still race; the
   * insert then finds the row taken and the transaction runs again.
   * SQLite: the transaction holds the file's only write lock (`begin
   * immediate`), plain reads suffice.
   */
  async #writeLedgerBatch(
    trx: Transaction<Database>,
    batch: readonly PreparedLedgerOperation[],
  ): Promise<LedgerOutcome[]> {
    const accounts = new Set<string>();
    const credited = new Set<string>();
    for (const { operation } of batch) {
      for (const { account, delta } of operation.entries) {
        accounts.add(account);
        if (delta > 0 || account === WORLD) credited.add(account);
      }
    }
    const created = new Set<string>();
    if (this.kind === "postgres") {
      for (const chunk of chunks(sorted(credited))) {
        const rows = await trx
          .insertInto("conclave_ledger_balances")
          .values(chunk.map((account) => ({ account, balance: 0 })))
          .onConflict((oc) => oc.column("account").doNothing())
          .returning("account")
          .execute();
        for (const r of rows) created.add(r.account);
      }
    }
    const balances = new Map<string, number>();
    for (const chunk of chunks(sorted(accounts))) {
      let query = trx
        .selectFrom("conclave_ledger_balances")
        .select(["account", "balance"])
        .where("account", "in", chunk);
      // Byte order ("C"), the order the placeholders were inserted in, whatever the database's collation.
      if (this.kind === "postgres") query = query.orderBy(sql`account collate "C"`).forUpdate();
      for (const r of await query.execute()) balances.set(r.account, integer(r.balance));
    }
    const fingerprints = new Map<string, string>();
    for (const chunk of chunks([...new Set(batch.map((p) => p.operation.id))])) {
      const rows = await trx
        .selectFrom("conclave_ledger_operations")
        .select(["id", "fingerprint"])
        .where("id", "in", chunk)
        .execute();
      for (const r of rows) fingerprints.set(r.id, r.fingerprint);
    }
    const lookup: LedgerLookup = {
      fingerprint: (id) => fingerprints.get(id),
      balance: (account) => (created.has(account) ? undefined : balances.get(account)),
    };
    const plan = planLedgerBatch(batch, lookup);

    // Operation rows in id order: concurrent inserts of the same ids queue up, never deadlock.
    const applied = [...plan.applied].sort((a, b) => compare(a.operation.id, b.operation.id));
    for (const chunk of chunks(applied)) {
      const rows = await trx
        .insertInto("conclave_ledger_operations")
        .values(
          chunk.map((p) => ({
            id: p.operation.id,
            kind: p.operation.kind,
            fingerprint: p.fingerprint,
            memo: p.memo,
            at: p.operation.at,
          })),
        )
        .onConflict((oc) => oc.column("id").doNothing())
        .returning("id")
        .execute();
      if (rows.length !== chunk.length) throw new LedgerRaceError("an operation id was taken");
    }
    const entries = plan.applied.flatMap((p) =>
      p.operation.entries.map((e, seq) => ({
        operation_id: p.operation.id,
        seq,
        account: e.account,
        delta: e.delta,
      })),
    );
    for (const chunk of chunks(entries)) {
      await trx.insertInto("conclave_ledger_entries").values(chunk).execute();
    }
    const changed = sorted(plan.balances.keys()).map((account) => ({
      account,
      balance: plan.balances.get(account) as number,
    }));
    for (const chunk of chunks(changed)) {
      await trx
        .insertInto("conclave_ledger_balances")
        .values(chunk)
        .onConflict((oc) =>
          oc.column("account").doUpdateSet((eb) => ({ balance: eb.ref("excluded.balance") })),
        )
        .execute();
    }
    const unused = [...created].filter((account) => !plan.balances.has(account));
    for (const chunk of chunks(unused)) {
      await trx.deleteFrom("conclave_ledger_balances").where("account", "in", chunk).execute();
    }
    return plan.outcomes;
  }

  balance(account: string): Promise<number> {
    return this.run("reading a balance", async () => {
      const row = await this.db
        .selectFrom("conclave_ledger_balances")
        .select("balance")
        .where("account", "=", account)
        .executeTakeFirst();
      return row === undefined ? 0 : integer(row.balance);
    });
  }

  balances(): Promise<AccountBalance[]> {
    return this.run("reading balances", async () => {
      const rows = await this.db
        .selectFrom("conclave_ledger_balances")
        .select(["account", "balance"])
        .orderBy("account")
        .execute();
      return rows.map((r) => ({ account: r.account, balance: integer(r.balance) }));
    });
  }

  ledgerEntries(options: { account?: string; limit?: number } = {}): Promise<LedgerEntryRecord[]> {
    return this.run("reading ledger entries", async () => {
      let query = this.db
        .selectFrom("conclave_ledger_entries as e")
        .innerJoin("conclave_ledger_operations as o", "o.id", "e.operation_id")
        .select(["e.operation_id", "e.seq", "o.kind", "e.account", "e.delta", "o.at"])
        .orderBy("o.at")
        .orderBy("e.operation_id")
        .orderBy("e.seq")
        .limit(options.limit ?? 10_000);
      if (options.account !== undefined) query = query.where("e.account", "=", options.account);
      const rows = await query.execute();
      return rows.map((r) => ({
        operationId: r.operation_id,
        seq: integer(r.seq),
        kind: r.kind as OperationKind,
        account: r.account,
        delta: integer(r.delta),
        at: integer(r.at),
      }));
    });
  }

  ledgerOperations(
    options: { since?: number; kind?: OperationKind; limit?: number } = {},
  ): Promise<LedgerOperation[]> {
    return this.run("reading ledger operations", async () => {
      let query = this.db
        .selectFrom("conclave_ledger_operations")
        .select(["id", "kind", "memo", "at"])
        .orderBy("at")
        .orderBy("id")
        .limit(options.limit ?? 10_000);
      if (options.since !== undefined) query = query.where("at", ">=", options.since);
      if (options.kind !== undefined) query = query.where("kind", "=", options.kind);
      const rows = await query.execute();
      const entries = new Map<string, { account: string; delta: number }[]>();
      for (const chunk of chunks(rows.map((r) => r.id))) {
        const found = await this.db
          .selectFrom("conclave_ledger_entries")
          .select(["operation_id", "account", "delta"])
          .where("operation_id", "in", chunk)
          .orderBy("operation_id")
          .orderBy("seq")
          .execute();
        for (const e of found) {
          const list = entries.get(e.operation_id) ?? [];
          if (list.length === 0) entries.set(e.operation_id, list);
          list.push(Object.freeze({ account: e.account, delta: integer(e.delta) }));
        }
      }
      return rows.map((r) =>
        Object.freeze({
          id: r.id,
          kind: r.kind as OperationKind,
          entries: Object.freeze(entries.get(r.id) ?? []),
          memo: Object.freeze(JSON.parse(r.memo) as Record<string, string | number>),
          at: integer(r.at),
        }),
      );
    });
  }

  ledgerCheck(): Promise<LedgerCheck> {
    return this.run("checking the ledger", async () => {
      // One snapshot: on Postgres a repeatable-read transaction, on SQLite the write lock.
      const read = async (trx: Transaction<Database>) => {
        const stored = await trx
          .selectFrom("conclave_ledger_balances")
          .select(["account", "balance"])
          .execute();
        const recomputed = await trx
          .selectFrom("conclave_ledger_entries")
          .select((eb) => [
            "account",
            eb.fn.sum<string | number | bigint | null>("delta").as("total"),
          ])
          .groupBy("account")
          .execute();
        const perOperation = await trx
          .selectFrom("conclave_ledger_operations as o")
          .leftJoin("conclave_ledger_entries as e", "e.operation_id", "o.id")
          .select((eb) => [
            "o.id",
            eb.fn.count<string | number | bigint>("e.seq").as("n"),
            eb.fn.sum<string | number | bigint | null>("e.delta").as("total"),
          ])
          .groupBy("o.id")
          .execute();
        const orphans = await trx
          .selectFrom("conclave_ledger_entries as e")
          .leftJoin("conclave_ledger_operations as o", "o.id", "e.operation_id")
          .select("e.operation_id")
          .distinct()
          .where("o.id", "is", null)
          .execute();
        const entryCount = await trx
          .selectFrom("conclave_ledger_entries")
          .select((eb) => eb.fn.countAll<string | number | bigint>().as("n"))
          .executeTakeFirst();
        return { stored, recomputed, perOperation, orphans, entryCount };
      };
      const { stored, recomputed, perOperation, orphans, entryCount } =
        this.kind === "postgres"
          ? await this.db.transaction().setIsolationLevel("repeatable read").execute(read)
          : await this.db.transaction().execute(read);

      const fromEntries = new Map<string, bigint>();
      for (const r of recomputed) fromEntries.set(r.account, bigInteger(r.total));
      const fromTable = new Map<string, bigint>();
      for (const r of stored) fromTable.set(r.account, bigInteger(r.balance));
      let sum = 0n;
      let minted = 0n;
      const negative: string[] = [];
      for (const [account, balance] of fromTable) {
        if (account === WORLD) {
          minted = -balance;
          continue;
        }
        sum += balance;
        if (balance < 0n) negative.push(account);
      }
      const mismatched = [...new Set([...fromTable.keys(), ...fromEntries.keys()])].filter(
        (account) => fromTable.get(account) !== fromEntries.get(account),
      );
      const unbalanced = [
        ...perOperation
          .filter((r) => bigInteger(r.n) < 2n || bigInteger(r.total ?? 0) !== 0n)
          .map((r) => r.id),
        ...orphans.map((r) => r.operation_id),
      ];
      return {
        minted: exactNumber(minted),
        sum: exactNumber(sum),
        negative: negative.sort(),
        mismatched: mismatched.sort(),
        unbalanced: [...new Set(unbalanced)].sort(),
        operations: perOperation.length,
        entries: exactNumber(bigInteger(entryCount?.n ?? 0)),
      };
    });
  }

  // ---- outbox --------------------------------------------------------------

  pendingOutbox(options: { taskId?: string; limit?: number } = {}): Promise<OutboxEntry[]> {
    return this.run("reading the outbox", async () => {
      const limit = options.limit ?? 1000;
      let rows: OutboxRow[];
      if (this.#hot) {
        rows = await this.#hot.pendingOutbox(options.taskId, limit);
      } else {
        let query = this.db
          .selectFrom("conclave_outbox")
          .select(["id", "task_id", "mode", "subject", "data"])
          .orderBy("seq")
          .limit(limit);
        if (options.taskId !== undefined) query = query.where("task_id", "=", options.taskId);
        rows = await query.execute();
      }
      return rows.map((r) => ({
        id: r.id,
        taskId: r.task_id,
        mode: r.mode === "publish" ? "publish" : "enqueue",
        subject: r.subject,
        data: new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength),
      }));
    });
  }

  deleteOutbox(ids: readonly string[]): Promise<void> {
    return this.run("deleting outbox entries", async () => {
      if (this.#hot) return this.#hot.deleteOutbox(ids);
      for (const chunk of chunks(ids)) {
        await this.db.deleteFrom("conclave_outbox").where("id", "in", chunk).execute();
      }
    });
  }

  // ---- dead letters --------------------------------------------------------

  recordDeadLetter(r: DeadLetterRecord): Promise<void> {
    return this.run("recording a dead letter", async () => {
      await this.db
        .insertInto("conclave_dead_letters")
        .values({
          id: r.id,
          subject: r.subject,
          reason: r.reason,
          deliveries: r.deliveries,
          at: r.at,
          corr: r.corr ?? null,
          type: r.type ?? null,
          data: r.data,
        })
        .onConflict((oc) => oc.column("id").doNothing())
        .execute();
    });
  }

  deadLetters(options: { limit?: number } = {}): Promise<DeadLetterRecord[]> {
    return this.run("reading dead letters", async () => {
      const rows = await this.db
        .selectFrom("conclave_dead_letters")
        .selectAll()
        .orderBy("at")
        .orderBy("id")
        .limit(options.limit ?? 10_000)
        .execute();
      return rows.map((r) => ({
        id: r.id,
        subject: r.subject,
        reason: r.reason,
        deliveries: r.deliveries,
        at: r.at,
        data: r.data,
        ...(r.corr === null ? {} : { corr: r.corr }),
        ...(r.type === null ? {} : { type: r.type }),
      }));
    });
  }

  deadLetteredRoots(): Promise<string[]> {
    return this.run("reading dead-lettered roots", async () => {
      const rows = await this.db
        .selectFrom("conclave_dead_letters")
        .select("corr")
        .distinct()
        .where("corr", "is not", null)
        .orderBy("corr")
        .execute();
      return rows.flatMap((r) => (r.corr === null ? [] : [r.corr]));
    });
  }

  // ---- effects -------------------------------------------------------------

  effects(kind: string): Promise<EffectRecord[]> {
    return this.run("reading effects", async () => {
      const rows = await this.db
        .selectFrom("conclave_effects")
        .selectAll()
        .where("kind", "=", kind)
        .orderBy("at")
        .orderBy("task_id")
        .orderBy("key")
        .execute();
      return rows.map((r) => ({
        kind: r.kind,
        key: r.key,
        taskId: r.task_id,
        agent: r.agent,
        at: r.at,
        ...(r.data === null ? {} : { data: JSON.parse(r.data) as unknown }),
      }));
    });
  }

  effectStats(kind: string): Promise<EffectStats> {
    return this.run("reading effect stats", async () => {
      const perKey = this.db
        .selectFrom("conclave_effects")
        .select((eb) => ["key", eb.fn.countAll<number>().as("n")])
        .where("kind", "=", kind)
        .groupBy("key")
        .as("per_key");
      const row = await this.db
        .selectFrom(perKey)
        .select((eb) => [
          eb.fn.countAll<number>().as("keys"),
          eb.fn.sum<number>(eb.case().when("n", ">", 1).then(1).else(0).end()).as("dups"),
        ])
        .executeTakeFirst();
      return { kind, keys: Number(row?.keys ?? 0), duplicateKeys: Number(row?.dups ?? 0) };
    });
  }

  allEffectStats(): Promise<EffectStats[]> {
    return this.run("reading effect stats", async () => {
      const perKey = this.db
        .selectFrom("conclave_effects")
        .select((eb) => ["kind", "key", eb.fn.countAll<number>().as("n")])
        .groupBy(["kind", "key"])
        .as("per_key");
      const rows = await this.db
        .selectFrom(perKey)
        .select((eb) => [
          "kind",
          eb.fn.countAll<number>().as("keys"),
          eb.fn.sum<number>(eb.case().when("n", ">", 1).then(1).else(0).end()).as("dups"),
        ])
        .groupBy("kind")
        .orderBy("kind")
        .execute();
      return rows.map((r) => ({
        kind: r.kind,
        keys: Number(r.keys),
        duplicateKeys: Number(r.dups),
      }));
    });
  }

  // ---- meta ----------------------------------------------------------------

  getMeta(key: string): Promise<string | undefined> {
    return this.run("reading meta", async () => {
      const row = await this.db
        .selectFrom("conclave_meta")
        .select("value")
        .where("key", "=", key)
        .executeTakeFirst();
      return row?.value;
    });
  }

  setMeta(key: string, value: string): Promise<void> {
    return this.run("writing meta", async () => {
      await this.db
        .insertInto("conclave_meta")
        .values({ key, value })
        .onConflict((oc) =>
          oc.column("key").doUpdateSet((eb) => ({ value: eb.ref("excluded.value") })),
        )
        .execute();
    });
  }

  // ---- audit chain ---------------------------------------------------------

  appendAudit(entry: AuditEntry): Promise<AuditRecord> {
    if (entry.kind.length === 0 || /[\r\n]/.test(entry.kind)) {
      return Promise.reject(
        new StoreError(`audit kind ${JSON.stringify(entry.kind)} must be non-empty, on one line`),
      );
    }
    let data: string;
    try {
      data = JSON.stringify(entry.data) ?? "null";
    } catch (cause) {
      return Promise.reject(
        new StoreError("audit data is not JSON-serialisable; append plain data", { cause }),
      );
    }
    const hash = entry.hash ?? auditHash;
    return this.run("appending to the audit log", () =>
      this.#transaction(async (trx) => {
        if (this.kind === "postgres") {
          // Serialises appenders across connections and processes: the lock
          // conflicts with itself, not with readers. (SQLite: the
          // transaction already holds the database's only write lock.)
          await sql`lock table conclave_audit_log in share row exclusive mode`.execute(trx);
        }
        const last = await trx
          .selectFrom("conclave_audit_log")
          .select(["seq", "hash"])
          .orderBy("seq", "desc")
          .limit(1)
          .executeTakeFirst();
        const link = {
          seq: (last?.seq ?? 0) + 1,
          kind: entry.kind,
          data,
          prevHash: last?.hash ?? null,
        };
        const record = { ...link, hash: hash(link) };
        await trx
          .insertInto("conclave_audit_log")
          .values({
            seq: record.seq,
            kind: record.kind,
            data,
            prev_hash: record.prevHash,
            hash: record.hash,
          })
          .execute();
        return { ...record, data: JSON.parse(data) as unknown };
      }),
    );
  }

  auditLog(options: { fromSeq?: number; limit?: number } = {}): Promise<AuditRecord[]> {
    return this.run("reading the audit log", async () => {
      const rows = await this.db
        .selectFrom("conclave_audit_log")
        .selectAll()
        .where("seq", ">=", options.fromSeq ?? 1)
        .orderBy("seq")
        .limit(options.limit ?? 10_000)
        .execute();
      return rows.map((r) => ({
        seq: r.seq,
        kind: r.kind,
        data: JSON.parse(r.data) as unknown,
        prevHash: r.prev_hash,
        hash: r.hash,
      }));
    });
  }

  // ---- registry snapshot ---------------------------------------------------

  saveAgentCard<Card extends { readonly id: string }>(
    card: Card,
    options: { updatedAt?: number } = {},
  ): Promise<{ saved: boolean }> {
    if (typeof card.id !== "string" || card.id.length === 0) {
      return Promise.reject(new StoreError("an agent card needs a non-empty string id"));
    }
    let json: string;
    try {
      json = JSON.stringify(card);
    } catch (cause) {
      return Promise.reject(
        new StoreError(`agent card ${card.id} is not JSON-serialisable`, { cause }),
      );
    }
    const updatedAt = options.updatedAt ?? this.#clock.now();
    return this.run("saving an agent card", async () => {
      const rows = await this.db
        .insertInto("conclave_registry")
        .values({ agent_id: card.id, card: json, updated_at: updatedAt })
        .onConflict((oc) =>
          oc
            .column("agent_id")
            .doUpdateSet((eb) => ({
              card: eb.ref("excluded.card"),
              updated_at: eb.ref("excluded.updated_at"),
            }))
            .where((eb) => eb("conclave_registry.updated_at", "<=", eb.ref("excluded.updated_at"))),
        )
        .returning("agent_id")
        .execute();
      return { saved: rows.length > 0 };
    });
  }

  agentCards(): Promise<StoredAgentCard[]> {
    return this.run("reading agent cards", async () => {
      const rows = await this.db
        .selectFrom("conclave_registry")
        .selectAll()
        .orderBy("agent_id")
        .execute();
      return rows.map((r) => ({
        id: r.agent_id,
        card: JSON.parse(r.card) as unknown,
        updatedAt: r.updated_at,
      }));
    });
  }

  removeAgentCard(id: string): Promise<void> {
    return this.run("removing an agent card", async () => {
      await this.db.deleteFrom("conclave_registry").where("agent_id", "=", id).execute();
    });
  }

  // ---- markets -------------------------------------------------------------

  saveAuction(record: AuctionRecord): Promise<{ saved: boolean; stored: AuctionRecord }> {
    let json: string;
    try {
      json = JSON.stringify(record.record);
    } catch (cause) {
      return Promise.reject(
        new StoreError(`auction ${record.id} is not JSON-serialisable`, { cause }),
      );
    }
    return this.run("saving an auction", async () => {
      const rows = await this.db
        .insertInto("conclave_auctions")
        .values({
          id: record.id,
          auctioneer: record.auctioneer,
          task: record.task,
          rule: record.rule,
          status: record.status,
          winner: record.winner ?? null,
          price: record.price ?? null,
          bids: record.bids,
          rejected_bids: record.rejectedBids,
          record: json,
          at: record.at,
        })
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
    return this.run("reading an auction", () => this.#auction(id));
  }

  async #auction(id: string): Promise<AuctionRecord | undefined> {
    const row = await this.db
      .selectFrom("conclave_auctions")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    return row ? auctionFromRow(row) : undefined;
  }

  auctions(options: { limit?: number } = {}): Promise<AuctionRecord[]> {
    return this.run("reading auctions", async () => {
      const rows = await this.db
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
    return this.run("counting auctions", async () => {
      const row = await this.db
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
    const at = options.at ?? this.#clock.now();
    return this.run("updating a reputation", () =>
      this.#transaction(async (trx) => {
        // A placeholder row with no observations makes the row lockable even
        // for an agent never seen, so concurrent first updates serialise too.
        await trx
          .insertInto("conclave_reputation")
          .values({ agent, score: 0, observations: 0, updated_at: at })
          .onConflict((oc) => oc.column("agent").doNothing())
          .execute();
        let query = trx.selectFrom("conclave_reputation").selectAll().where("agent", "=", agent);
        if (this.kind === "postgres") query = query.forUpdate();
        const row = await query.executeTakeFirstOrThrow();
        const observations = Number(row.observations);
        const score = update(observations === 0 ? undefined : Number(row.score));
        if (!Number.isFinite(score) || score < 0 || score > 1) {
          throw new StoreError(
            `reputation of ${agent} must stay in [0, 1], the update gave ${score}; fix the update function`,
          );
        }
        await trx
          .updateTable("conclave_reputation")
          .set({ score, observations: observations + 1, updated_at: at })
          .where("agent", "=", agent)
          .execute();
        return { agent, score, observations: observations + 1, updatedAt: at };
      }),
    );
  }

  reputations(agents?: readonly string[]): Promise<ReputationRecord[]> {
    return this.run("reading reputations", async () => {
      if (agents !== undefined && agents.length === 0) return [];
      const out: ReputationRecord[] = [];
      for (const chunk of agents === undefined ? [undefined] : chunks(agents)) {
        let query = this.db
          .selectFrom("conclave_reputation")
          .selectAll()
          .where("observations", ">", 0)
          .orderBy("agent");
        if (chunk) query = query.where("agent", "in", chunk);
        for (const r of await query.execute()) {
          out.push({
            agent: r.agent,
            score: Number(r.score),
            observations: Number(r.observations),
            updatedAt: integer(r.updated_at),
          });
        }
      }
      return out;
    });
  }

  // ---- idempotency keys ----------------------------------------------------

  claimIdempotencyKey(
    key: string,
    result?: unknown,
    options: { at?: number } = {},
  ): Promise<IdempotencyClaim> {
    let json: string | null;
    try {
      json = result === undefined ? null : JSON.stringify(result);
    } catch (cause) {
      return Promise.reject(
        new StoreError(`the result for idempotency key ${key} is not JSON-serialisable`, {
          cause,
        }),
      );
    }
    const at = options.at ?? this.#clock.now();
    return this.run("claiming an idempotency key", async () => {
      // The primary key decides: of concurrent inserts exactly one returns a row.
      const claimed = await this.db
        .insertInto("conclave_idempotency")
        .values({ key, result: json, at })
        .onConflict((oc) => oc.column("key").doNothing())
        .returning("key")
        .execute();
      if (claimed.length > 0) return { first: true };
      const row = await this.db
        .selectFrom("conclave_idempotency")
        .select("result")
        .where("key", "=", key)
        .executeTakeFirst();
      return row?.result == null
        ? { first: false }
        : { first: false, result: JSON.parse(row.result) as unknown };
    });
  }

  pruneIdempotencyKeys(before: number, options: PruneIdempotencyKeysOptions = {}): Promise<number> {
    const prefix = options.prefix ?? "";
    return this.run("pruning idempotency keys", async () => {
      let query = this.db.deleteFrom("conclave_idempotency").where("at", "<", before);
      if (prefix !== "") {
        // An exact prefix test on both databases: LIKE would read `%` and `_`
        // in the prefix as wildcards. SQLite and Postgres both count
        // characters (code points) in substr, not UTF-16 units as JS does.
        const length = [...prefix].length;
        query = query.where(
          sql<string>`substr(${sql.ref("key")}, 1, ${sql.lit(length)})`,
          "=",
          prefix,
        );
      }
      const result = await query.executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }

  // ---- lifecycle -----------------------------------------------------------

  schemaStatus(): Promise<SchemaStatus> {
    return this.run("reading the schema version", async () => ({
      applied: await appliedMigrations(this.db, this.kind, this.#schema),
      known: migrations.map((m) => m.name),
    }));
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    // A store closed right after opening lets its migrations finish first.
    await this.#ready.catch(() => {});
    // Completions requested before close() are still committed.
    while (this.#flushing || this.#pending.length > 0) {
      this.#flush();
      await this.#flushing;
    }
    while (this.#ledger.flushing || this.#ledger.pending.length > 0) {
      this.#flushLedger();
      await this.#ledger.flushing;
    }
    await Promise.allSettled([...this.#inFlight]);
    try {
      await this.db.destroy();
    } catch (cause) {
      throw this.#storeError("closing", cause);
    } finally {
      this.#onClosed?.();
    }
  }

  /**
   * Runs one operation: refused with `ClosedError` once `close()` was
   * called, after the schema is ready, with driver errors turned into
   * `StoreError`. `close()` waits for operations still running.
   */
  protected run<T>(what: string, operation: () => Promise<T>): Promise<T> {
    if (this.#closing) return Promise.reject(new ClosedError(this.#description));
    const result = this.#ready.then(operation).catch((cause: unknown) => {
      throw this.#storeError(what, cause);
    });
    this.#inFlight.add(result);
    const forget = () => this.#inFlight.delete(result);
    result.then(forget, forget);
    return result;
  }

  /** A transaction, retried when it lost to a concurrent writer. */
  #transaction<T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    return retried(() => this.db.transaction().execute(work));
  }

  #storeError(what: string, cause: unknown): ConclaveError {
    if (cause instanceof ConclaveError) return cause;
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new StoreError(`${what} failed on ${this.#description}: ${reason}`, { cause });
  }
}

/**
 * Runs a transaction again when it lost to a concurrent writer (Postgres
 * deadlock or serialisation failure, SQLite still busy after its timeout).
 */
async function retried<T>(transaction: () => Promise<T>, attempts = ATTEMPTS): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction();
    } catch (error) {
      if (attempt >= attempts || !lostToConcurrentWriter(error)) throw error;
    }
  }
}

/** Errors after which the same transaction may well succeed. */
function lostToConcurrentWriter(error: unknown): boolean {
  const code =
    typeof error === "object" && error !== null && "code" in error ? String(error.code) : "";
  // 40P01 deadlock_detected, 40001 serialization_failure; SQLITE_BUSY* after busy_timeout.
  return (
    code === "40P01" ||
    code === "40001" ||
    code.startsWith("SQLITE_BUSY") ||
    error instanceof LedgerRaceError
  );
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

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += ROWS_PER_INSERT) {
    out.push(items.slice(i, i + ROWS_PER_INSERT));
  }
  return out;
}

function sorted(items: Iterable<string>): string[] {
  return [...items].sort(compare);
}

/** Code-unit order, the same in every locale (and what `order by` gives for the ASCII account ids). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A bigint column or sum as the driver returns it (number, string or bigint), exactly. */
function bigInteger(value: unknown): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new StoreError(`ledger value ${value} is not exact`);
    return BigInt(value);
  }
  if (typeof value === "string" && /^-?[0-9]+$/.test(value)) return BigInt(value);
  throw new StoreError(`ledger value ${String(value)} is not a whole number`);
}

function exactNumber(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new StoreError(`ledger total ${value} is outside the exact-integer range`);
  }
  return Number(value);
}

/** A stored whole number as a JS number, refusing one that would lose precision. */
function integer(value: unknown): number {
  return exactNumber(bigInteger(value));
}
