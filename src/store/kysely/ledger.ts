/**
 * `LedgerStore` over Kysely. Operations are group-committed: a batch of up
 * to 256 per transaction, decided one by one in call order by the ledger's
 * `planLedgerBatch`, so a refused operation fails alone and nothing of it is
 * written. An adapter's `HotPath.writeLedgerBatch` may replace the batch write.
 */
import { sql, type Transaction } from "kysely";
import { ConclaveError, StoreError } from "../../errors/index.js";
import { WORLD } from "../../ledger/accounts.js";
import type { LedgerOperation, OperationKind } from "../../ledger/operations.js";
import {
  type LedgerLookup,
  type LedgerOutcome,
  type PreparedLedgerOperation,
  planLedgerBatch,
  prepareLedgerOperation,
} from "../../ledger/rules.js";
import type {
  AccountBalance,
  LedgerCheck,
  LedgerEntryRecord,
  LedgerStore,
} from "../ports/ledger.js";
import type { Database } from "../schema.js";
import {
  bigInteger,
  chunks,
  compare,
  exactNumber,
  integer,
  LedgerRaceError,
  lostToConcurrentWriter,
  retried,
  type StoreCore,
  sorted,
} from "./core.js";
import type { HotPath } from "./hot-path.js";

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

export class KyselyLedgerStore implements LedgerStore {
  readonly #core: StoreCore;
  readonly #hot: HotPath | undefined;
  readonly #queue: LedgerQueue = { pending: [], scheduled: false, flushing: undefined };

  constructor(core: StoreCore, hot: HotPath | undefined) {
    this.#core = core;
    this.#hot = hot;
  }

  /** Applies every operation requested so far, including those queued meanwhile. */
  async drain(): Promise<void> {
    while (this.#queue.flushing || this.#queue.pending.length > 0) {
      this.#flushLedger();
      await this.#queue.flushing;
    }
  }

  applyLedgerOperation(operation: LedgerOperation): Promise<{ applied: boolean }> {
    if (this.#core.closing) return Promise.reject(this.#core.closedError());
    let prepared: PreparedLedgerOperation;
    try {
      prepared = prepareLedgerOperation(operation);
    } catch (error) {
      return Promise.reject(error);
    }
    const queue = this.#queue;
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
    const queue = this.#queue;
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
      await this.#core.ready;
      const outcomes = await this.#writeLedger(batch.map((p) => p.prepared));
      batch.forEach((p, i) => {
        settle(p, outcomes[i]);
      });
      return;
    } catch (cause) {
      if (batch.length === 1 || cause instanceof ConclaveError || lostToConcurrentWriter(cause)) {
        const error = this.#core.storeError("applying ledger operations", cause);
        for (const p of batch) p.reject(error);
        return;
      }
    }
    // Nothing of the failed batch was committed: each operation on its own.
    for (const p of batch) {
      try {
        settle(p, (await this.#writeLedger([p.prepared]))[0]);
      } catch (cause) {
        p.reject(
          this.#core.storeError(`applying ledger operation ${p.prepared.operation.id}`, cause),
        );
      }
    }
  }

  #writeLedger(batch: readonly PreparedLedgerOperation[]): Promise<LedgerOutcome[]> {
    const hot = this.#hot?.writeLedgerBatch?.bind(this.#hot);
    if (hot) return retried(() => hot(batch), LEDGER_ATTEMPTS);
    return retried(
      () => this.#core.db.transaction().execute((trx) => writeLedgerBatch(this.#core, trx, batch)),
      LEDGER_ATTEMPTS,
    );
  }

  balance(account: string): Promise<number> {
    return this.#core.run("reading a balance", async () => {
      if (this.#hot?.balance) {
        const stored = await this.#hot.balance(account);
        return stored === undefined ? 0 : integer(stored);
      }
      const row = await this.#core.db
        .selectFrom("conclave_ledger_balances")
        .select("balance")
        .where("account", "=", account)
        .executeTakeFirst();
      return row === undefined ? 0 : integer(row.balance);
    });
  }

  balances(): Promise<AccountBalance[]> {
    return this.#core.run("reading balances", async () => {
      const rows = await this.#core.db
        .selectFrom("conclave_ledger_balances")
        .select(["account", "balance"])
        .orderBy(this.#byCodePoint("account"))
        .execute();
      return rows.map((r) => ({ account: r.account, balance: integer(r.balance) }));
    });
  }

  ledgerEntries(options: { account?: string; limit?: number } = {}): Promise<LedgerEntryRecord[]> {
    return this.#core.run("reading ledger entries", async () => {
      let query = this.#core.db
        .selectFrom("conclave_ledger_entries as e")
        .innerJoin("conclave_ledger_operations as o", "o.id", "e.operation_id")
        .select(["e.operation_id", "e.seq", "o.kind", "e.account", "e.delta", "o.at"])
        .orderBy("o.at")
        .orderBy(this.#byCodePoint("e.operation_id"))
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
    options: { since?: number; kind?: OperationKind; limit?: number; ids?: readonly string[] } = {},
  ): Promise<LedgerOperation[]> {
    if (options.ids !== undefined && options.ids.length === 0) return Promise.resolve([]);
    return this.#core.run("reading ledger operations", async () => {
      const limit = options.limit ?? 10_000;
      const read = (ids: readonly string[] | undefined) => {
        let query = this.#core.db
          .selectFrom("conclave_ledger_operations")
          .select(["id", "kind", "memo", "at"])
          .orderBy("at")
          .orderBy(this.#byCodePoint("id"))
          .limit(limit);
        if (options.since !== undefined) query = query.where("at", ">=", options.since);
        if (options.kind !== undefined) query = query.where("kind", "=", options.kind);
        if (ids !== undefined) query = query.where("id", "in", ids);
        return query.execute();
      };
      // Ids in chunks: one `in (…)` of them all exceeded the parameters a
      // statement may bind (SQLite 32,766, Postgres 65,535) and failed.
      // Each chunk's first `limit` rows, merged in order, hold the first
      // `limit` rows of all.
      const idChunks = options.ids === undefined ? undefined : chunks([...new Set(options.ids)]);
      const rows =
        idChunks === undefined
          ? await read(undefined)
          : idChunks.length === 1
            ? await read(idChunks[0])
            : (await Promise.all(idChunks.map((chunk) => read(chunk))))
                .flat()
                .sort((a, b) => integer(a.at) - integer(b.at) || codePointOrder(a.id, b.id))
                .slice(0, limit);
      const entries = new Map<string, { account: string; delta: number }[]>();
      for (const chunk of chunks(rows.map((r) => r.id))) {
        const found = await this.#core.db
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

  /**
   * A text column ordered by code point, as SQLite orders it: Postgres
   * orders by the database's collation, which on a language locale
   * (`en_US.UTF-8`) puts `agent:B` after `agent:a` and skips punctuation,
   * so the backends listed the same ledger in different orders.
   */
  #byCodePoint(column: string) {
    return this.#core.dialect === "postgres"
      ? sql`${sql.ref(column)} collate "C"`
      : sql.ref(column);
  }

  ledgerCheck(): Promise<LedgerCheck> {
    return this.#core.run("checking the ledger", async () => {
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
        this.#core.dialect === "postgres"
          ? await this.#core.db.transaction().setIsolationLevel("repeatable read").execute(read)
          : await this.#core.db.transaction().execute(read);

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
}

/** Code-point order, as `collate "C"` (Postgres) and SQLite's binary collation compare text. */
function codePointOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
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
 * Also called inside a task's completion (`KyselyTaskStore`), so that the
 * holds of a handler's delegations commit with it. SQLite: the transaction holds the file's only write lock (`begin
 * immediate`), plain reads suffice.
 */
export async function writeLedgerBatch(
  core: StoreCore,
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
  if (core.dialect === "postgres") {
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
    if (core.dialect === "postgres") query = query.orderBy(sql`account collate "C"`).forUpdate();
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
