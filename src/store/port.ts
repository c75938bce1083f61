/**
 * The `Store` port: the swarm's durable state outside the message bus. The
 * runtime uses it to make task handling effectively-once (a completion
 * marker, the handler's effects and its outgoing messages are committed in
 * one transaction: the transactional outbox), and to keep dead letters and
 * run metadata. Adapters: SQLite (embedded default) and, later, Postgres.
 *
 * Contract:
 * - `completeTask` is atomic and idempotent by `taskId`: a second call for the
 *   same id writes nothing and reports `duplicate: true`.
 * - Every method may be called concurrently; adapters serialise as needed.
 * - Failures throw `StoreError` with the driver error as `cause`.
 * - After `close()` every call rejects with `ClosedError`; `close()` is idempotent.
 */

/** A side effect a handler applied, recorded with the task's completion. */
export interface EffectRecord {
  /** What kind of effect, e.g. `"review.completed"`. */
  readonly kind: string;
  /** What it applied to, e.g. the root task id. Several effects may share a key. */
  readonly key: string;
  readonly taskId: string;
  readonly agent: string;
  readonly at: number;
  readonly data?: unknown;
}

/** A message the handler sends, kept until the bus has it. */
export interface OutboxEntry {
  /** The envelope id; also the bus dedup key. */
  readonly id: string;
  readonly taskId: string;
  /** `"enqueue"` for a durable task, `"publish"` for an event. */
  readonly mode: "enqueue" | "publish";
  readonly subject: string;
  readonly data: Uint8Array;
}

export interface TaskCompletion {
  /** The envelope id of the task handled. */
  readonly taskId: string;
  readonly agent: string;
  readonly at: number;
  readonly effects: readonly Omit<EffectRecord, "taskId" | "agent" | "at">[];
  readonly outbox: readonly Omit<OutboxEntry, "taskId">[];
}

export interface DeadLetterRecord {
  /** The dead-lettered message's id (envelope id when it had one). */
  readonly id: string;
  readonly subject: string;
  readonly reason: string;
  readonly deliveries: number;
  readonly at: number;
  /** The correlation id (root task) when the envelope could be read. */
  readonly corr?: string;
  readonly type?: string;
  /** The raw message, base64, for inspection and replay. */
  readonly data: string;
}

export interface EffectStats {
  readonly kind: string;
  /** Distinct keys with at least one effect. */
  readonly keys: number;
  /** Keys with more than one effect of this kind: an effect applied twice. */
  readonly duplicateKeys: number;
}

export interface Store {
  /** `"sqlite"` or `"postgres"`. */
  readonly kind: string;
  completeTask(completion: TaskCompletion): Promise<{ duplicate: boolean }>;
  isCompleted(taskId: string): Promise<boolean>;
  /** Outbox entries not yet confirmed sent, oldest first; for one task, or all. */
  pendingOutbox(options?: { taskId?: string; limit?: number }): Promise<OutboxEntry[]>;
  /** Marks outbox entries as sent. */
  deleteOutbox(ids: readonly string[]): Promise<void>;
  /** Idempotent by id. */
  recordDeadLetter(record: DeadLetterRecord): Promise<void>;
  deadLetters(options?: { limit?: number }): Promise<DeadLetterRecord[]>;
  /** Root ids (`corr`) of dead-lettered tasks, distinct. */
  deadLetteredRoots(): Promise<string[]>;
  effects(kind: string): Promise<EffectRecord[]>;
  effectStats(kind: string): Promise<EffectStats>;
  /** Stats of every effect kind recorded. */
  allEffectStats(): Promise<EffectStats[]>;
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
  close(): Promise<void>;
}
