/**
 * `DeadLetterStore`: where a node keeps the messages that its transport
 * dead-lettered (after `maxDeliver` attempts, a `PermanentError`, or input
 * that failed to parse or verify), with the reason, for inspection, replay
 * and the run report's count of tasks that will never complete.
 *
 * Contract (checked by `src/testkit/conformance/store/dead-letters.ts`): recording
 * is idempotent by `id` (the first record is kept); lists are ordered as
 * documented per method.
 */
import type { OutboxEntry } from "./tasks.js";

/** A message given up on, as recorded: why, when, after how many deliveries, and its bytes. */
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

/** Tasks given up on: why, when, and whether they were redriven since. */
export interface DeadLetterStore {
  /**
   * Idempotent by id. In the same transaction, deletes the outbox entries
   * this dead letter settles: the one under its id, and those named in
   * `settles` (the dead message's id and the ids it was made from, as for
   * a completion's `settles`), first record or not.
   */
  recordDeadLetter(
    record: DeadLetterRecord,
    options?: { readonly settles?: readonly string[] },
  ): Promise<void>;
  /** Dead letters, oldest first (by time, then id), at most `limit` (default 10,000). */
  deadLetters(options?: { limit?: number }): Promise<DeadLetterRecord[]>;
  /** Root ids (`corr`) of dead-lettered tasks, distinct, in order. */
  deadLetteredRoots(): Promise<string[]>;
  /** One dead letter by id, or undefined. */
  deadLetter(id: string): Promise<DeadLetterRecord | undefined>;
  /**
   * Removes a dead letter (it was redriven: its task is pending again, and
   * may be dead-lettered anew). Returns whether there was one; removing a
   * missing one is not an error.
   */
  removeDeadLetter(id: string): Promise<boolean>;
  /**
   * Redrives dead letter `id`: removes it and puts `send` in the outbox,
   * pending, in one transaction, so that neither is done without the other.
   * Returns false, writing nothing, when there is no dead letter `id`.
   */
  redriveDeadLetter(id: string, send: Omit<OutboxEntry, "mode">): Promise<boolean>;
}
