/**
 * `TaskStore`: the role of the store that makes task handling
 * effectively-once. A handled task's completion marker, the effects its
 * handler applied and the messages it sends are committed in one
 * transaction (the transactional outbox); the outbox is then drained to the
 * bus and the effects are read back by reports (`workloadProgress`,
 * `duplicateEffects`).
 *
 * Contract (checked by `src/testkit/conformance/store/tasks.ts`):
 * - `completeTask` is atomic and idempotent by `taskId`: a second call for
 *   the same id writes nothing and reports `duplicate: true`. This holds
 *   across store handles and processes sharing the same database, not only
 *   within one handle.
 * - A completion that cannot be stored (its result or an effect's data is
 *   not JSON-serialisable, or has no JSON form at all: a function, a
 *   symbol) fails alone with `StoreError`, never its neighbours in the same
 *   group commit, and records nothing.
 * - Closing the handle first commits the completions already requested.
 * - `taskOutcome` reads a task's outcome: completed (with the handler's
 *   result, when it returned one) or dead-lettered (with the reason); a
 *   completion wins over a dead letter recorded for the same id.
 * - The outbox: `pendingOutbox` lists the entries not yet sent, in commit
 *   order. `markOutboxSent` takes entries out of it and `sentOutbox` lists
 *   them, least recently sent first, until they are deleted: by
 *   `deleteOutbox`, by the completion that names the entry in `settles`, or
 *   by a dead letter recorded under the entry's id or naming it in its
 *   `settles` (`recordDeadLetter`).
 *   Marking an entry that is gone does nothing.
 */
import type { LedgerOperation } from "../../ledger/operations.js";

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

/** An outbox entry the bus took and whose task has not settled yet. */
export interface SentOutboxEntry extends OutboxEntry {
  /** When it was last sent, or last found still held by the broker. */
  readonly sentAt: number;
  /** The broker's receipt for the last send, if the transport gave one. */
  readonly receipt?: string;
  /** How often it was sent under a new message id (see `OutboxSent.resent`). */
  readonly resends: number;
}

/** An outbox entry marked sent (`markOutboxSent`). */
export interface OutboxSent {
  /** The entry's id. */
  readonly id: string;
  /** When the bus took it (or was last found holding it), ms since the epoch. */
  readonly at: number;
  /** The broker's receipt for the send, for `Transport.holds`. */
  readonly receipt?: string;
  /**
   * Counts a send under a new message id (`<id>.redrive.<resends>`): the
   * broker no longer held the entry, or kept refusing its id.
   */
  readonly resent?: true;
}

/** Everything a handled task commits in one transaction: its marker, effects and outbox. */
export interface TaskCompletion {
  /** The envelope id of the task handled. */
  readonly taskId: string;
  readonly agent: string;
  readonly at: number;
  readonly effects: readonly Omit<EffectRecord, "taskId" | "agent" | "at">[];
  readonly outbox: readonly Omit<OutboxEntry, "taskId">[];
  /** What the handler returned (JSON-serialisable), read back by `taskOutcome`. */
  readonly result?: unknown;
  /** The root task this one descends from (its correlation id). */
  readonly corr?: string;
  /** The task this one descends from directly (its envelope's `cause`). */
  readonly cause?: string;
  /** The agent that sent it (its envelope's `from`). */
  readonly sender?: string;
  /**
   * Ledger operations committed with the completion, all or nothing (the
   * holds of the delegations the handler made): when one is refused
   * (`InsufficientCreditsError`, …) the completion fails with its error and
   * nothing of it is written. Applied once: a duplicate completion applies none.
   */
  readonly ledger?: readonly LedgerOperation[];
  /**
   * The outbox entries this completion settles: the bus message id of the
   * delivery handled and the ids it was made from (`redriveLineage`), which
   * name the sender's outbox entry, a dead letter's redrive or a copy sent
   * again. Deleted in the same transaction, duplicate completion or not;
   * ids with no entry are ignored.
   */
  readonly settles?: readonly string[];
}

/** How a task ended, as `taskOutcome` reads it. */
export type TaskOutcome =
  | {
      readonly taskId: string;
      readonly status: "completed";
      readonly agent: string;
      readonly at: number;
      /** What the handler returned; absent when it returned nothing. */
      readonly result?: unknown;
      /** The root task it descends from (its correlation id), when recorded. */
      readonly corr?: string;
      /** The task it descends from directly (its envelope's `cause`), when recorded. */
      readonly cause?: string;
      /** The agent that sent it (its envelope's `from`), when recorded. */
      readonly sender?: string;
    }
  | {
      readonly taskId: string;
      readonly status: "dead_lettered";
      readonly at: number;
      readonly reason: string;
    };

/** A completed task, as the latest completions list it. */
export interface CompletionSummary {
  readonly taskId: string;
  readonly agent: string;
  readonly at: number;
  /** The root task it descends from, when recorded. */
  readonly corr?: string;
  /** The task it descends from directly, when recorded. */
  readonly cause?: string;
  /** The agent that sent it, when recorded. */
  readonly sender?: string;
}

/** How many keys one kind of effect touched, and how many of them twice. */
export interface EffectStats {
  readonly kind: string;
  /** Distinct keys with at least one effect. */
  readonly keys: number;
  /** Keys with more than one effect of this kind: an effect applied twice. */
  readonly duplicateKeys: number;
}

/** Handled tasks, their effects and outbox, results and outcomes: what makes handling effectively-once. */
export interface TaskStore {
  /**
   * Records a handled task: its completion marker, effects and outbox, all
   * in one transaction. Calls made in the same event-loop turn are group
   * committed (one transaction for the batch), each still atomic and
   * idempotent on its own: the first call for a `taskId` writes and gets
   * `{ duplicate: false }`; every other, from this handle or any other on
   * the same database, writes nothing and gets `{ duplicate: true }`.
   */
  completeTask(completion: TaskCompletion): Promise<{ duplicate: boolean }>;
  isCompleted(taskId: string): Promise<boolean>;
  /** The task's outcome, or undefined while it has none. */
  taskOutcome(taskId: string): Promise<TaskOutcome | undefined>;
  /**
   * How many tasks have been completed, in all. Task ids are ULIDs; the
   * markers other commits leave (`submit:<id>`, `conv:<conv>:<seq>`: ids
   * with a colon) are not tasks, here and in `latestCompletions`.
   */
  completedCount(): Promise<number>;
  /**
   * The latest completions, newest first (by time, then task id), at most
   * `limit` (default 50); with `corr`, only the tasks descending from that
   * root (their correlation id), e.g. every task one root caused.
   */
  latestCompletions(options?: { limit?: number; corr?: string }): Promise<CompletionSummary[]>;
  /** Outbox entries not yet sent, oldest first; for one task, or all. */
  pendingOutbox(options?: { taskId?: string; limit?: number }): Promise<OutboxEntry[]>;
  /** Forgets outbox entries (sent events; sent tasks where nothing watches them). */
  deleteOutbox(ids: readonly string[]): Promise<void>;
  /** Marks outbox entries sent (again): they leave `pendingOutbox` for `sentOutbox`. */
  markOutboxSent(sent: readonly OutboxSent[]): Promise<void>;
  /** Sent entries not yet settled, last sent at or before `sentBefore`, least recently sent first. */
  sentOutbox(options: { sentBefore: number; limit?: number }): Promise<SentOutboxEntry[]>;
  /** Effects of one kind, by time, then task id, then key. */
  effects(kind: string): Promise<EffectRecord[]>;
  /** The effects one task's completion applied, of every kind, by kind, then key. */
  taskEffects(taskId: string): Promise<EffectRecord[]>;
  effectStats(kind: string): Promise<EffectStats>;
  /** Stats of every effect kind recorded. */
  allEffectStats(): Promise<EffectStats[]>;
}
