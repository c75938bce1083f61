import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { ClosedError, StoreError } from "../errors/index.js";
import type {
  DeadLetterRecord,
  EffectRecord,
  EffectStats,
  OutboxEntry,
  Store,
  TaskCompletion,
} from "./port.js";

export interface SqliteStoreConfig {
  /** File path, or `":memory:"`. Parent folders are created. */
  readonly path: string;
  /** `normal` (default) survives kill -9; `full` also survives power loss. */
  readonly synchronous?: "normal" | "full";
}

const MIGRATIONS: readonly string[] = [
  `create table conclave_completed (
     task_id text primary key, agent text not null, at integer not null) without rowid;
   create table conclave_effects (
     kind text not null, key text not null, task_id text not null, agent text not null,
     at integer not null, data text);
   create index conclave_effects_kind_key on conclave_effects (kind, key);
   create table conclave_outbox (
     id text primary key, task_id text not null, mode text not null, subject text not null,
     data blob not null, seq integer not null);
   create index conclave_outbox_task on conclave_outbox (task_id);
   create table conclave_dead_letters (
     id text primary key, subject text not null, reason text not null, deliveries integer not null,
     at integer not null, corr text, type text, data text not null);
   create table conclave_meta (key text primary key, value text not null) without rowid;`,
];

/**
 * The embedded default store: one SQLite file in WAL mode. Task completions
 * are group-committed: all completions requested in one turn of the event
 * loop share one transaction, each still atomic and idempotent on its own.
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

interface PendingCompletion {
  completion: TaskCompletion;
  resolve: (r: { duplicate: boolean }) => void;
  reject: (e: Error) => void;
}

export class SqliteStore implements Store {
  readonly kind = "sqlite";
  readonly #db: Database.Database;
  #pending: PendingCompletion[] = [];
  #scheduled = false;
  #closed = false;
  #outboxSeq = 0;
  readonly #s: Record<
    | "complete"
    | "effect"
    | "outbox"
    | "isCompleted"
    | "deleteOutbox"
    | "deadLetter"
    | "getMeta"
    | "setMeta",
    Database.Statement
  >;

  constructor(config: SqliteStoreConfig) {
    try {
      if (config.path !== ":memory:") mkdirSync(dirname(config.path), { recursive: true });
      this.#db = new Database(config.path);
      this.#db.pragma("journal_mode = WAL");
      this.#db.pragma(`synchronous = ${config.synchronous === "full" ? "FULL" : "NORMAL"}`);
      this.#db.pragma("busy_timeout = 5000");
      this.#migrate();
    } catch (cause) {
      throw new StoreError(
        `cannot open the SQLite store at ${config.path}: check the path is writable and not used by another version`,
        { cause },
      );
    }
    const db = this.#db;
    this.#s = {
      complete: db.prepare("insert or ignore into conclave_completed values (?, ?, ?)"),
      effect: db.prepare("insert into conclave_effects values (?, ?, ?, ?, ?, ?)"),
      outbox: db.prepare("insert or ignore into conclave_outbox values (?, ?, ?, ?, ?, ?)"),
      isCompleted: db.prepare("select 1 from conclave_completed where task_id = ?"),
      deleteOutbox: db.prepare("delete from conclave_outbox where id = ?"),
      deadLetter: db.prepare(
        "insert or ignore into conclave_dead_letters values (?, ?, ?, ?, ?, ?, ?, ?)",
      ),
      getMeta: db.prepare("select value from conclave_meta where key = ?"),
      setMeta: db.prepare("insert or replace into conclave_meta values (?, ?)"),
    };
    const max = db.prepare("select max(seq) as m from conclave_outbox").get() as {
      m: number | null;
    };
    this.#outboxSeq = max.m ?? 0;
  }

  completeTask(completion: TaskCompletion): Promise<{ duplicate: boolean }> {
    if (this.#closed) return Promise.reject(new ClosedError("the SQLite store"));
    return new Promise((resolve, reject) => {
      this.#pending.push({ completion, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#commitCompletions());
      }
    });
  }

  async isCompleted(taskId: string): Promise<boolean> {
    this.#open();
    return this.#s.isCompleted.get(taskId) !== undefined;
  }

  async pendingOutbox(options: { taskId?: string; limit?: number } = {}): Promise<OutboxEntry[]> {
    this.#open();
    const limit = options.limit ?? 1000;
    const rows = (
      options.taskId === undefined
        ? this.#db.prepare("select * from conclave_outbox order by seq limit ?").all(limit)
        : this.#db
            .prepare("select * from conclave_outbox where task_id = ? order by seq limit ?")
            .all(options.taskId, limit)
    ) as { id: string; task_id: string; mode: string; subject: string; data: Buffer }[];
    return rows.map((r) => ({
      id: r.id,
      taskId: r.task_id,
      mode: r.mode === "publish" ? "publish" : "enqueue",
      subject: r.subject,
      data: new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength),
    }));
  }

  async deleteOutbox(ids: readonly string[]): Promise<void> {
    this.#open();
    this.#write(() => {
      for (const id of ids) this.#s.deleteOutbox.run(id);
    });
  }

  async recordDeadLetter(r: DeadLetterRecord): Promise<void> {
    this.#open();
    this.#write(() => {
      this.#s.deadLetter.run(
        r.id,
        r.subject,
        r.reason,
        r.deliveries,
        r.at,
        r.corr ?? null,
        r.type ?? null,
        r.data,
      );
    });
  }

  async deadLetters(options: { limit?: number } = {}): Promise<DeadLetterRecord[]> {
    this.#open();
    const rows = this.#db
      .prepare("select * from conclave_dead_letters order by at, id limit ?")
      .all(options.limit ?? 10_000) as {
      id: string;
      subject: string;
      reason: string;
      deliveries: number;
      at: number;
      corr: string | null;
      type: string | null;
      data: string;
    }[];
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
  }

  async deadLetteredRoots(): Promise<string[]> {
    this.#open();
    const rows = this.#db
      .prepare("select distinct corr from conclave_dead_letters where corr is not null")
      .all() as { corr: string }[];
    return rows.map((r) => r.corr);
  }

  async effects(kind: string): Promise<EffectRecord[]> {
    this.#open();
    const rows = this.#db
      .prepare("select * from conclave_effects where kind = ? order by at, rowid")
      .all(kind) as {
      kind: string;
      key: string;
      task_id: string;
      agent: string;
      at: number;
      data: string | null;
    }[];
    return rows.map((r) => ({
      kind: r.kind,
      key: r.key,
      taskId: r.task_id,
      agent: r.agent,
      at: r.at,
      ...(r.data === null ? {} : { data: JSON.parse(r.data) as unknown }),
    }));
  }

  async effectStats(kind: string): Promise<EffectStats> {
    this.#open();
    const row = this.#db
      .prepare(
        `select count(*) as keys, coalesce(sum(case when n > 1 then 1 else 0 end), 0) as dups
         from (select key, count(*) as n from conclave_effects where kind = ? group by key)`,
      )
      .get(kind) as { keys: number; dups: number };
    return { kind, keys: row.keys, duplicateKeys: row.dups };
  }

  async allEffectStats(): Promise<EffectStats[]> {
    this.#open();
    const rows = this.#db
      .prepare(
        `select kind, count(*) as keys, coalesce(sum(case when n > 1 then 1 else 0 end), 0) as dups
         from (select kind, key, count(*) as n from conclave_effects group by kind, key)
         group by kind order by kind`,
      )
      .all() as { kind: string; keys: number; dups: number }[];
    return rows.map((r) => ({ kind: r.kind, keys: r.keys, duplicateKeys: r.dups }));
  }

  async getMeta(key: string): Promise<string | undefined> {
    this.#open();
    const row = this.#s.getMeta.get(key) as { value: string } | undefined;
    return row?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.#open();
    this.#write(() => this.#s.setMeta.run(key, value));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#commitCompletions();
    this.#closed = true;
    this.#db.close();
  }

  #commitCompletions(): void {
    this.#scheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    const results: boolean[] = [];
    try {
      this.#db.transaction(() => {
        for (const { completion: c } of batch) {
          const inserted = this.#s.complete.run(c.taskId, c.agent, c.at).changes === 1;
          results.push(!inserted);
          if (!inserted) continue;
          for (const e of c.effects) {
            const data = e.data === undefined ? null : JSON.stringify(e.data);
            this.#s.effect.run(e.kind, e.key, c.taskId, c.agent, c.at, data);
          }
          for (const o of c.outbox) {
            this.#s.outbox.run(o.id, c.taskId, o.mode, o.subject, o.data, ++this.#outboxSeq);
          }
        }
      })();
    } catch (cause) {
      const error = new StoreError("committing task completions failed", { cause });
      for (const p of batch) p.reject(error);
      return;
    }
    batch.forEach((p, i) => {
      p.resolve({ duplicate: results[i] === true });
    });
  }

  #write(fn: () => void): void {
    try {
      fn();
    } catch (cause) {
      throw new StoreError("a SQLite store write failed", { cause });
    }
  }

  #migrate(): void {
    const db = this.#db;
    db.exec("create table if not exists conclave_migrations (version integer primary key)");
    const row = db.prepare("select max(version) as v from conclave_migrations").get() as {
      v: number | null;
    };
    const current = row.v ?? 0;
    if (current > MIGRATIONS.length) {
      throw new StoreError(
        `the store was written by a newer conclave (schema ${current}, this one knows ${MIGRATIONS.length}); upgrade conclave`,
      );
    }
    for (let v = current; v < MIGRATIONS.length; v++) {
      db.transaction(() => {
        db.exec(MIGRATIONS[v] as string);
        db.prepare("insert into conclave_migrations values (?)").run(v + 1);
      })();
    }
  }

  #open(): void {
    if (this.#closed) throw new ClosedError("the SQLite store");
  }
}
