import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import { isDiskFull } from "../../core/disk-full.js";
import { preparePrivateFile } from "../../core/private-file.js";
import { acquireProcessLock, LockHeldError } from "../../core/process-lock.js";
import { ConfigError, StoreError, StoreFullError } from "../../errors/index.js";

/**
 * Journals open in this process, by absolute path. The lock file lets its
 * own process in again (to reopen after a close), so two brokers of one
 * process on one journal are refused here.
 */
const openHere = new Set<string>();

/** A queued message as the journal keeps it. */
export interface JournalRow {
  readonly queue: string;
  readonly seq: number;
  readonly subject: string;
  readonly msgId: string;
  readonly headers: Record<string, string>;
  readonly data: Uint8Array;
  readonly deliveries: number;
  readonly visibleAt: number;
}

type Op =
  | { kind: "put"; row: JournalRow }
  | { kind: "deliveries"; queue: string; seq: number; deliveries: number; visibleAt: number }
  | { kind: "delete"; queue: string; seq: number };

/** How the memory transport's SQLite journal trades durability for speed. */
export interface JournalOptions {
  /**
   * `normal` (default) survives a crash of the process (kill -9); `full` also
   * survives power loss, at a large cost in throughput (an fsync per commit).
   */
  readonly synchronous?: "normal" | "full";
}

/**
 * The durability of the in-process transport: queued messages and the dedup
 * window journaled in SQLite (WAL), with group commit.
 *
 * Writes are collected for one turn of the event loop and committed in one
 * transaction; each caller's promise resolves after the commit that holds its
 * write. Operations on the same message within one batch coalesce: a message
 * enqueued and acked before the batch commits never touches the disk, which
 * is what lets the durable queue keep up with a busy swarm.
 */
export class Journal {
  readonly #db: Database.Database;
  readonly #path: string;
  readonly #pending = new Map<string, Op>();
  readonly #dedup = new Map<string, number>();
  #waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  #scheduled = false;
  #closed = false;
  readonly #unlock: () => void;
  readonly #stmt: {
    put: Database.Statement;
    deliveries: Database.Statement;
    delete: Database.Statement;
    dedupPut: Database.Statement;
    dedupPrune: Database.Statement;
    queuePut: Database.Statement;
  };

  constructor(path: string, options: JournalOptions = {}) {
    this.#path = path;
    this.#unlock = lockJournal(path);
    // Acquired, the lock file names this process.
    const release = this.#unlock;
    const abs = resolve(path);
    if (openHere.has(abs)) {
      release();
      throw new ConfigError(
        `the queue journal ${path} is already open in this process: two brokers on one journal would run the same tasks twice and overwrite each other's messages. Share the first transport's broker (createMemoryTransport({ broker })), or close it before opening the journal again`,
      );
    }
    openHere.add(abs);
    this.#unlock = () => {
      openHere.delete(abs);
      release();
    };
    let opened: Database.Database | undefined;
    try {
      preparePrivateFile(path);
      this.#db = opened = new Database(path);
      this.#db.pragma("journal_mode = WAL");
      this.#db.pragma(`synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`);
      this.#db.pragma("busy_timeout = 5000");
      this.#db.exec(`
        create table if not exists conclave_queues (
          name text primary key, config text not null) without rowid;
        create table if not exists conclave_queue_messages (
          queue text not null, seq integer not null, subject text not null, msg_id text not null,
          headers text not null, data blob not null, deliveries integer not null,
          visible_at integer not null, primary key (queue, seq)) without rowid;
        create table if not exists conclave_dedup (
          msg_id text primary key, expires_at integer not null) without rowid;
        create table if not exists conclave_journal_meta (
          key text primary key, value text not null) without rowid;
      `);
    } catch (cause) {
      opened?.close();
      this.#unlock();
      throw new StoreError(openFailure(path, cause), { cause });
    }
    const db = this.#db;
    this.#stmt = {
      put: db.prepare(
        "insert or replace into conclave_queue_messages values (?, ?, ?, ?, ?, ?, ?, ?)",
      ),
      deliveries: db.prepare(
        "update conclave_queue_messages set deliveries = ?, visible_at = ? where queue = ? and seq = ?",
      ),
      delete: db.prepare("delete from conclave_queue_messages where queue = ? and seq = ?"),
      dedupPut: db.prepare("insert or replace into conclave_dedup values (?, ?)"),
      dedupPrune: db.prepare("delete from conclave_dedup where expires_at < ?"),
      queuePut: db.prepare("insert or replace into conclave_queues values (?, ?)"),
    };
  }

  /** Every journaled queue config, by name. */
  loadQueues(): Map<string, unknown> {
    const rows = this.#db.prepare("select name, config from conclave_queues").all() as {
      name: string;
      config: string;
    }[];
    return new Map(rows.map((r) => [r.name, JSON.parse(r.config) as unknown]));
  }

  /** Every journaled message, in queue and sequence order. */
  loadMessages(): JournalRow[] {
    const rows = this.#db
      .prepare("select * from conclave_queue_messages order by queue, seq")
      .all() as {
      queue: string;
      seq: number;
      subject: string;
      msg_id: string;
      headers: string;
      data: Buffer;
      deliveries: number;
      visible_at: number;
    }[];
    return rows.map((r) => ({
      queue: r.queue,
      seq: r.seq,
      subject: r.subject,
      msgId: r.msg_id,
      headers: JSON.parse(r.headers) as Record<string, string>,
      data: new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength),
      deliveries: r.deliveries,
      visibleAt: r.visible_at,
    }));
  }

  /** Dedup entries still inside their window, in expiry order (the broker prunes from the front). */
  loadDedup(now: number): Map<string, number> {
    const rows = this.#db
      .prepare(
        "select msg_id, expires_at from conclave_dedup where expires_at >= ? order by expires_at",
      )
      .all(now) as { msg_id: string; expires_at: number }[];
    return new Map(rows.map((r) => [r.msg_id, r.expires_at]));
  }

  /** A value recorded with {@link setMeta} (e.g. the run id the journal belongs to). */
  getMeta(key: string): string | undefined {
    const row = this.#db
      .prepare("select value from conclave_journal_meta where key = ?")
      .get(key) as { value: string } | undefined;
    return row?.value;
  }

  /** Records a value at once, outside the group commit. */
  setMeta(key: string, value: string): void {
    this.#db.prepare("insert or replace into conclave_journal_meta values (?, ?)").run(key, value);
  }

  /** Whether any message is journaled: queued and not yet acknowledged. */
  holdsMessages(): boolean {
    return this.#db.prepare("select 1 from conclave_queue_messages limit 1").get() !== undefined;
  }

  saveQueue(name: string, config: unknown): void {
    try {
      this.#stmt.queuePut.run(name, JSON.stringify(config));
    } catch (cause) {
      throw this.#writeError(`declaring queue "${name}" in the queue journal`, cause);
    }
  }

  put(row: JournalRow): Promise<void> {
    this.#pending.set(key(row.queue, row.seq), { kind: "put", row });
    return this.#commitSoon();
  }

  /** Records a delivery attempt, so a message that crashes its handler every time still reaches maxDeliver. */
  deliveries(queue: string, seq: number, deliveries: number, visibleAt: number): Promise<void> {
    const k = key(queue, seq);
    const prior = this.#pending.get(k);
    if (prior?.kind === "put") {
      this.#pending.set(k, { kind: "put", row: { ...prior.row, deliveries, visibleAt } });
    } else {
      this.#pending.set(k, { kind: "deliveries", queue, seq, deliveries, visibleAt });
    }
    return this.#commitSoon();
  }

  delete(queue: string, seq: number): Promise<void> {
    const k = key(queue, seq);
    const prior = this.#pending.get(k);
    if (prior?.kind === "put") {
      // Never written: nothing to delete on disk either.
      this.#pending.delete(k);
    } else {
      this.#pending.set(k, { kind: "delete", queue, seq });
    }
    return this.#commitSoon();
  }

  dedup(msgId: string, expiresAt: number): void {
    this.#dedup.set(msgId, expiresAt);
  }

  /** Resolves when everything written so far is committed. */
  flush(): Promise<void> {
    if (this.#pending.size === 0 && this.#dedup.size === 0) return Promise.resolve();
    return this.#commitSoon();
  }

  close(): void {
    if (this.#closed) return;
    this.#commit();
    this.#closed = true;
    this.#db.close();
    this.#unlock();
  }

  #commitSoon(): Promise<void> {
    if (this.#closed) return Promise.reject(new StoreError("the queue journal is closed"));
    const promise = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#commit());
    }
    return promise;
  }

  #commit(): void {
    this.#scheduled = false;
    const waiters = this.#waiters;
    this.#waiters = [];
    if (this.#closed) {
      for (const w of waiters) w.reject(new StoreError("the queue journal is closed"));
      return;
    }
    const ops = [...this.#pending.values()];
    const dedup = [...this.#dedup];
    this.#pending.clear();
    this.#dedup.clear();
    try {
      const stmt = this.#stmt;
      this.#db.transaction(() => {
        for (const op of ops) {
          if (op.kind === "put") {
            const r = op.row;
            stmt.put.run(
              r.queue,
              r.seq,
              r.subject,
              r.msgId,
              JSON.stringify(r.headers),
              r.data,
              r.deliveries,
              r.visibleAt,
            );
          } else if (op.kind === "deliveries") {
            stmt.deliveries.run(op.deliveries, op.visibleAt, op.queue, op.seq);
          } else {
            stmt.delete.run(op.queue, op.seq);
          }
        }
        for (const [msgId, expiresAt] of dedup) stmt.dedupPut.run(msgId, expiresAt);
      })();
      for (const w of waiters) w.resolve();
    } catch (cause) {
      const error = this.#writeError("committing the queue journal", cause);
      for (const w of waiters) w.reject(error);
    }
  }

  /** Drops dedup entries that left their window. */
  prune(now: number): void {
    if (this.#closed) return;
    try {
      this.#stmt.dedupPrune.run(now);
    } catch (cause) {
      throw this.#writeError("pruning the queue journal's dedup window", cause);
    }
  }

  /** A failed write as the typed error callers get: `StoreFullError` when the disk is full. */
  #writeError(what: string, cause: unknown): StoreError {
    return isDiskFull(cause)
      ? new StoreFullError(what, `the queue journal at ${this.#path}`, { cause })
      : new StoreError(`${what} failed (${this.#path}): ${describe(cause)}`, { cause });
  }
}

/** Why a journal did not open, and what to do: a damaged file is not a permissions problem. */
function openFailure(path: string, cause: unknown): string {
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (code === "SQLITE_NOTADB" || code === "SQLITE_CORRUPT") {
    return `cannot open the queue journal at ${path}: the file is not a SQLite database or is damaged (${describe(cause)}); move it aside to start with an empty journal (its queued messages are lost), or give this run another data dir`;
  }
  return `cannot open the queue journal at ${path} (${describe(cause)}): check the directory exists and is writable`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function key(queue: string, seq: number): string {
  return `${queue}\u0000${seq}`;
}

/**
 * One process per journal: two nodes on one journal would each load its
 * unacknowledged messages and run the same tasks at once. A lock file
 * beside it names the process using it; one left by a process that died is
 * taken over.
 *
 * @throws ConfigError naming the other process and what to do.
 */
function lockJournal(path: string): () => void {
  const lock = `${path}.lock`;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    return acquireProcessLock(lock);
  } catch (error) {
    if (!(error instanceof LockHeldError)) {
      throw new StoreError(
        `cannot lock the queue journal at ${path} (${lock}): check the directory exists and is writable`,
        { cause: error },
      );
    }
    throw new ConfigError(
      `another process (pid ${error.pid}) is running this swarm on the queue journal ${path}: two processes on one journal would run the same tasks twice. Stop it, or give this run another data dir (--data-dir); if no such process runs, delete ${lock}`,
    );
  }
}
