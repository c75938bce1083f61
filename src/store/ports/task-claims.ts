/**
 * `TaskClaimStore`: who is running a task now, shared by every process on
 * the database. A delivery claims its task id before its handler runs; a
 * second delivery of the same id (a redelivery while the first handler is
 * still alive elsewhere, or the same task enqueued twice) finds the claim
 * held and waits instead of running the work again. A claim expires: an
 * owner that died stops extending it and the task runs elsewhere.
 *
 * Contract (checked by `src/testkit/conformance/store/task-claims.ts`):
 * - Of any number of claims of one task id by different owners, concurrent
 *   or not, from any handle or process, at most one holds it at a time: a
 *   claim succeeds when the id has no claim, when the claim held expired
 *   (`expiresAt <= now` of the new claim), or when the same owner holds it
 *   (a repeat extends it). A refused claim reports the holder and its expiry.
 * - `extendTaskClaims` moves the expiry of the claims an owner holds, and
 *   touches no other owner's claim.
 * - `releaseTaskClaim` removes a claim only for its owner.
 * - `pruneTaskClaims` deletes claims that expired before the given time.
 * - Times are ms since the epoch by the claimers' clocks: owners on
 *   machines whose clocks disagree see each other's claims expire early or
 *   late by that much.
 */

/** What claiming a task id found. */
export type TaskClaim =
  | { readonly claimed: true }
  | {
      readonly claimed: false;
      /** Who holds the claim. */
      readonly owner: string;
      /** When the holder's claim expires unless it extends it (ms since epoch). */
      readonly expiresAt: number;
    };

/** Claims of the tasks being run now, shared by every handle on the database. */
export interface TaskClaimStore {
  /**
   * Claims `taskId` for `owner` until `expiresAt`, judged at `now`: granted
   * when nobody holds it, when the holder's claim expired by `now`, or when
   * `owner` holds it already (the expiry moves to `expiresAt`). Calls made
   * in the same turn of the microtask queue share one statement.
   *
   * @example
   * ```ts
   * const now = Date.now();
   * const claim = await store.claimTask(envelope.id, "node-1:a3", { now, expiresAt: now + 30_000 });
   * if (!claim.claimed) return waitFor(claim.owner);
   * ```
   */
  claimTask(
    taskId: string,
    owner: string,
    times: { readonly now: number; readonly expiresAt: number },
  ): Promise<TaskClaim>;
  /** Moves the expiry of `owner`'s claims on `taskIds` to `expiresAt`; returns how many it moved. */
  extendTaskClaims(owner: string, taskIds: readonly string[], expiresAt: number): Promise<number>;
  /** Removes `owner`'s claim on `taskId` (another owner's is left); returns whether it removed one. */
  releaseTaskClaim(taskId: string, owner: string): Promise<boolean>;
  /** Deletes every claim that expired before `before` (ms since epoch); returns how many. */
  pruneTaskClaims(before: number): Promise<number>;
}
