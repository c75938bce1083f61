/**
 * `IdempotencyStore`: keys claimed once across every handle on the
 * database, for effectively-once processing of messages that carry their
 * own id (the AMQP enqueue dedup, consensus proposals).
 *
 * Contract (checked by `src/testkit/conformance/store/idempotency.ts`):
 * - Of any number of claims of one key, concurrent or not, from any handle
 *   or process, exactly one is first; every later one gets the first
 *   claim's stored result.
 * - A pruned key is forgotten: its next claim is first again. A prefixed
 *   prune matches the prefix exactly (no wildcards) and touches no other
 *   key.
 * - A result that is not JSON-serialisable is refused with `StoreError`
 *   and claims nothing.
 */

/** What claiming an idempotency key found. */
export interface IdempotencyClaim {
  /** `true` for the one caller that claimed the key; `false` for every later one. */
  readonly first: boolean;
  /** For a later caller: the result the first claim stored, when it stored one. */
  readonly result?: unknown;
}

/** Options of `IdempotencyStore.pruneIdempotencyKeys`. */
export interface PruneIdempotencyKeysOptions {
  /** Forget only keys that start with exactly this string (no wildcards). */
  readonly prefix?: string;
}

/** Claims of keys that must be acted on once, shared by every handle on the database. */
export interface IdempotencyStore {
  /**
   * Claims `key` once, atomically, across every handle on the database: the
   * first claim stores `result` (JSON-serialisable, optional) and gets
   * `{ first: true }`; every later claim, concurrent or not, gets
   * `{ first: false, result }` with the first claim's result. For
   * effectively-once processing of messages that carry their own id.
   *
   * @example
   * ```ts
   * const { first } = await store.claimIdempotencyKey(`amqp:${messageId}`);
   * if (!first) return ack(); // seen before
   * ```
   */
  claimIdempotencyKey(
    key: string,
    result?: unknown,
    options?: { at?: number },
  ): Promise<IdempotencyClaim>;
  /**
   * Forgets idempotency keys claimed before `before` (ms since epoch, compared
   * with the `at` each claim stored); returns how many it deleted. A later
   * claim of a forgotten key is first again, so prune only keys nobody needs
   * to recognise any more.
   *
   * Without a prefix it forgets every old key of the table, whoever claimed
   * it. With `prefix`, only keys that start with exactly that string: `%`,
   * `_` and every other character match only themselves (no wildcards), so a
   * user of the table can prune its own keys and leave the others' (the AMQP
   * enqueue dedup prunes `amqp.enqueue:`, never `consensus.propose:`). An
   * empty prefix is the same as none. Safe to run concurrently with claims
   * and with other prunes, from any handle.
   *
   * @example
   * ```ts
   * const hourAgo = Date.now() - 3_600_000;
   * const deleted = await store.pruneIdempotencyKeys(hourAgo, { prefix: "amqp.enqueue:" });
   * ```
   */
  pruneIdempotencyKeys(before: number, options?: PruneIdempotencyKeysOptions): Promise<number>;
}
