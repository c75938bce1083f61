/**
 * `TaskStore` over Kysely, with the group commit of completions: calls
 * queue up and are written together, one transaction per batch (three
 * multi-row inserts: markers with `on conflict do nothing returning`,
 * effects and outbox of the markers that were new). One batch is in flight
 * at a time; calls arriving meanwhile form the next. If a batch fails, its
 * completions are retried one transaction each, so one bad completion never
 * fails its neighbours. An adapter's `HotPath` replaces the per-task calls.
 */
import type { Insertable, Selectable, Transaction } from "kysely";
import { ConclaveError, StoreError } from "../../errors/index.js";
import { prepareLedgerOperation } from "../../ledger/rules.js";
import type {
  CompletionSummary,
  EffectRecord,
  EffectStats,
  OutboxEntry,
  OutboxSent,
  SentOutboxEntry,
  TaskCompletion,
  TaskOutcome,
  TaskStore,
} from "../ports/tasks.js";
import type { Database, EffectsTable, OutboxTable } from "../schema.js";
import { chunks, lostToConcurrentWriter, retried, type StoreCore, strictJson } from "./core.js";
import type { CompletionWritten, HotPath, OutboxRow, PreparedCompletion } from "./hot-path.js";
import { writeLedgerBatch } from "./ledger.js";

/** Completion ids with a colon are markers (`submit:<id>`, `conv:<conv>:<seq>`), not tasks (ULIDs). */
const MARKER_PATTERN = "%:%";

interface PendingCompletion {
  readonly completion: PreparedCompletion;
  resolve(result: { duplicate: boolean }): void;
  reject(error: Error): void;
}

function settle(pending: PendingCompletion, outcome: CompletionWritten | undefined): void {
  if (outcome instanceof Error) pending.reject(outcome);
  else pending.resolve({ duplicate: outcome === true });
}

export class KyselyTaskStore implements TaskStore {
  readonly #core: StoreCore;
  readonly #hot: HotPath | undefined;
  #pending: PendingCompletion[] = [];
  #scheduled = false;
  #flushing: Promise<void> | undefined;

  constructor(core: StoreCore, hot: HotPath | undefined) {
    this.#core = core;
    this.#hot = hot;
  }

  /** Commits every completion requested so far, including those queued meanwhile. */
  async drain(): Promise<void> {
    while (this.#flushing || this.#pending.length > 0) {
      this.#flush();
      await this.#flushing;
    }
  }

  completeTask(completion: TaskCompletion): Promise<{ duplicate: boolean }> {
    if (this.#core.closing) return Promise.reject(this.#core.closedError());
    let prepared: PreparedCompletion;
    try {
      prepared = {
        ledger: completion.ledger?.map(prepareLedgerOperation) ?? [],
        taskId: completion.taskId,
        agent: completion.agent,
        at: completion.at,
        result: completion.result === undefined ? null : strictJson(completion.result),
        corr: completion.corr ?? null,
        cause: completion.cause ?? null,
        sender: completion.sender ?? null,
        effects: completion.effects.map((e) => ({
          kind: e.kind,
          key: e.key,
          data: e.data === undefined ? null : strictJson(e.data),
        })),
        outbox: completion.outbox,
        settles: completion.settles ?? [],
      };
    } catch (cause) {
      if (cause instanceof ConclaveError) return Promise.reject(cause);
      return Promise.reject(
        new StoreError(
          `task ${completion.taskId}: an effect's data or the handler's result is not JSON-serialisable; record and return plain data`,
          { cause },
        ),
      );
    }
    // The adapter's group commit takes ledger operations (each completion
    // under a savepoint); through Kysely such a completion commits alone.
    if (prepared.ledger.length > 0 && !this.#hot) return this.#completeWithLedger(prepared);
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

  /**
   * A completion with ledger operations (the holds of the delegations its
   * handler staged) when no adapter's group commit takes them: one
   * transaction of its own, so that a refused operation (the delegator
   * cannot pay any more) rolls the whole completion back: no hold without
   * its task, no task without its hold. A duplicate completion applies
   * nothing.
   */
  #completeWithLedger(completion: PreparedCompletion): Promise<{ duplicate: boolean }> {
    return this.#core.run(`committing task ${completion.taskId}`, () =>
      this.#core.transaction(async (trx) => {
        const [duplicate] = await this.#writeCompletions(trx, [completion]);
        if (duplicate) return { duplicate: true };
        for (const outcome of await writeLedgerBatch(this.#core, trx, completion.ledger)) {
          if ("error" in outcome) throw outcome.error;
        }
        return { duplicate: false };
      }),
    );
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
      await this.#core.ready;
      const outcomes = await this.#writeBatch(batch.map((p) => p.completion));
      batch.forEach((p, i) => {
        settle(p, outcomes[i]);
      });
      return;
    } catch (cause) {
      // Splitting helps when one completion is at fault, not when the
      // database is unusable or locked by another writer.
      if (batch.length === 1 || cause instanceof ConclaveError || lostToConcurrentWriter(cause)) {
        const error = this.#core.storeError("committing task completions", cause);
        for (const p of batch) p.reject(error);
        return;
      }
    }
    for (const p of batch) {
      try {
        const [outcome] = await this.#writeBatch([p.completion]);
        settle(p, outcome);
      } catch (cause) {
        p.reject(this.#core.storeError(`committing task ${p.completion.taskId}`, cause));
      }
    }
  }

  #writeBatch(completions: readonly PreparedCompletion[]): Promise<CompletionWritten[]> {
    const hot = this.#hot;
    if (hot) return retried(() => hot.writeCompletions(completions));
    return this.#core.transaction((trx) => this.#writeCompletions(trx, completions));
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
        .values(
          chunk.map((c) => ({
            task_id: c.taskId,
            agent: c.agent,
            at: c.at,
            result: c.result,
            corr: c.corr,
            cause: c.cause,
            sender: c.sender,
          })),
        )
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
    if (outbox.length > 0 && this.#core.dialect === "sqlite") {
      // Postgres draws `seq` from its sequence. SQLite has one writer at a
      // time (this transaction holds the file's write lock), so the next
      // numbers after the current maximum are ours alone.
      const max = await maxOutboxSeq(trx);
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
    // The entries these completions settle, in key order (as the markers above).
    const settled = [...new Set(completions.flatMap((c) => c.settles))].sort();
    for (const chunk of chunks(settled)) {
      await trx.deleteFrom("conclave_outbox").where("id", "in", chunk).execute();
    }
    return completions.map((c, i) => !(inserted.has(c.taskId) && first.get(c.taskId) === i));
  }

  isCompleted(taskId: string): Promise<boolean> {
    return this.#core.run("isCompleted", async () => {
      if (this.#hot) return this.#hot.isCompleted(taskId);
      const row = await this.#core.db
        .selectFrom("conclave_completed")
        .select("task_id")
        .where("task_id", "=", taskId)
        .executeTakeFirst();
      return row !== undefined;
    });
  }

  completedCount(): Promise<number> {
    return this.#core.run("counting completed tasks", async () => {
      const row = await this.#core.db
        .selectFrom("conclave_completed")
        .select((eb) => eb.fn.countAll().as("n"))
        .where("task_id", "not like", MARKER_PATTERN)
        .executeTakeFirst();
      return Number(row?.n ?? 0);
    });
  }

  latestCompletions(options: { limit?: number; corr?: string } = {}): Promise<CompletionSummary[]> {
    return this.#core.run("reading the latest completions", async () => {
      let query = this.#core.db
        .selectFrom("conclave_completed")
        .select(["task_id", "agent", "at", "corr", "cause", "sender"])
        .where("task_id", "not like", MARKER_PATTERN)
        .orderBy("at", "desc")
        .orderBy("task_id", "desc")
        .limit(options.limit ?? 50);
      if (options.corr !== undefined) query = query.where("corr", "=", options.corr);
      const rows = await query.execute();
      return rows.map((r) => ({
        taskId: r.task_id,
        agent: r.agent,
        at: Number(r.at),
        ...(r.corr === null ? {} : { corr: r.corr }),
        ...(r.cause === null ? {} : { cause: r.cause }),
        ...(r.sender === null ? {} : { sender: r.sender }),
      }));
    });
  }

  taskOutcome(taskId: string): Promise<TaskOutcome | undefined> {
    return this.#core.run("reading a task's outcome", async () => {
      const done = await this.#core.db
        .selectFrom("conclave_completed")
        .select(["agent", "at", "result", "corr", "cause", "sender"])
        .where("task_id", "=", taskId)
        .executeTakeFirst();
      if (done !== undefined) {
        return {
          taskId,
          status: "completed" as const,
          agent: done.agent,
          at: Number(done.at),
          ...(done.result === null ? {} : { result: JSON.parse(done.result) as unknown }),
          ...(done.corr === null ? {} : { corr: done.corr }),
          ...(done.cause === null ? {} : { cause: done.cause }),
          ...(done.sender === null ? {} : { sender: done.sender }),
        };
      }
      const dead = await this.#core.db
        .selectFrom("conclave_dead_letters")
        .select(["at", "reason"])
        .where("id", "=", taskId)
        .executeTakeFirst();
      return dead === undefined
        ? undefined
        : { taskId, status: "dead_lettered" as const, at: Number(dead.at), reason: dead.reason };
    });
  }

  pendingOutbox(options: { taskId?: string; limit?: number } = {}): Promise<OutboxEntry[]> {
    return this.#core.run("reading the outbox", async () => {
      const limit = options.limit ?? 1000;
      let rows: OutboxRow[];
      if (this.#hot) {
        rows = await this.#hot.pendingOutbox(options.taskId, limit);
      } else {
        let query = this.#core.db
          .selectFrom("conclave_outbox")
          .select(["id", "task_id", "mode", "subject", "data"])
          .where("sent_at", "is", null)
          .orderBy("seq")
          .limit(limit);
        if (options.taskId !== undefined) query = query.where("task_id", "=", options.taskId);
        rows = await query.execute();
      }
      return rows.map(toOutboxEntry);
    });
  }

  markOutboxSent(sent: readonly OutboxSent[]): Promise<void> {
    if (sent.length === 0) return Promise.resolve();
    return this.#core.run("marking outbox entries sent", async () => {
      if (this.#hot) return this.#hot.markOutboxSent(sent);
      // In key order: concurrent writers on Postgres lock rows in the same order.
      const ordered = [...sent].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      await this.#core.transaction(async (trx) => {
        for (const s of ordered) {
          await trx
            .updateTable("conclave_outbox")
            .set((eb) => ({
              sent_at: s.at,
              receipt: s.receipt ?? null,
              resends: s.resent ? eb("resends", "+", 1) : eb.ref("resends"),
            }))
            .where("id", "=", s.id)
            .execute();
        }
      });
    });
  }

  sentOutbox(options: { sentBefore: number; limit?: number }): Promise<SentOutboxEntry[]> {
    return this.#core.run("reading the sent outbox", async () => {
      const rows = await this.#core.db
        .selectFrom("conclave_outbox")
        .select(["id", "task_id", "mode", "subject", "data", "sent_at", "receipt", "resends"])
        .where("sent_at", "<=", options.sentBefore)
        .orderBy("sent_at")
        .orderBy("seq")
        .limit(options.limit ?? 1000)
        .execute();
      return rows.map((r) => ({
        ...toOutboxEntry(r),
        sentAt: Number(r.sent_at),
        ...(r.receipt === null ? {} : { receipt: r.receipt }),
        resends: Number(r.resends),
      }));
    });
  }

  deleteOutbox(ids: readonly string[]): Promise<void> {
    return this.#core.run("deleting outbox entries", async () => {
      if (this.#hot) return this.#hot.deleteOutbox(ids);
      for (const chunk of chunks(ids)) {
        await this.#core.db.deleteFrom("conclave_outbox").where("id", "in", chunk).execute();
      }
    });
  }

  effects(kind: string): Promise<EffectRecord[]> {
    return this.#core.run("reading effects", async () => {
      const rows = await this.#core.db
        .selectFrom("conclave_effects")
        .selectAll()
        .where("kind", "=", kind)
        .orderBy("at")
        .orderBy("task_id")
        .orderBy("key")
        .execute();
      return rows.map(toEffect);
    });
  }

  taskEffects(taskId: string): Promise<EffectRecord[]> {
    return this.#core.run("reading a task's effects", async () => {
      const rows = await this.#core.db
        .selectFrom("conclave_effects")
        .selectAll()
        .where("task_id", "=", taskId)
        .orderBy("kind")
        .orderBy("key")
        .execute();
      return rows.map(toEffect);
    });
  }

  effectStats(kind: string): Promise<EffectStats> {
    return this.#core.run("reading effect stats", async () => {
      const perKey = this.#core.db
        .selectFrom("conclave_effects")
        .select((eb) => ["key", eb.fn.countAll<number>().as("n")])
        .where("kind", "=", kind)
        .groupBy("key")
        .as("per_key");
      const row = await this.#core.db
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
    return this.#core.run("reading effect stats", async () => {
      const perKey = this.#core.db
        .selectFrom("conclave_effects")
        .select((eb) => ["kind", "key", eb.fn.countAll<number>().as("n")])
        .groupBy(["kind", "key"])
        .as("per_key");
      const rows = await this.#core.db
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
}

/** An outbox row as the port returns it. */
function toOutboxEntry(r: OutboxRow): OutboxEntry {
  return {
    id: r.id,
    taskId: r.task_id,
    mode: r.mode === "publish" ? "publish" : "enqueue",
    subject: r.subject,
    data: new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength),
  };
}

/** An effects row as the port returns it. */
function toEffect(r: Selectable<EffectsTable>): EffectRecord {
  return {
    kind: r.kind,
    key: r.key,
    taskId: r.task_id,
    agent: r.agent,
    at: Number(r.at),
    ...(r.data === null ? {} : { data: JSON.parse(r.data) as unknown }),
  };
}

/**
 * The outbox's highest `seq` (0 when empty). On SQLite the writer numbers
 * entries after it: one writer at a time holds the file's write lock.
 */
export async function maxOutboxSeq(trx: Transaction<Database>): Promise<number> {
  const row = await trx
    .selectFrom("conclave_outbox")
    .select((eb) => eb.fn.max("seq").as("max"))
    .executeTakeFirst();
  return Number(row?.max ?? 0);
}
