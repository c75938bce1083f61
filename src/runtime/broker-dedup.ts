import { type Clock, systemClock } from "../core/clock.js";
import { ConfigError, toError } from "../errors/index.js";
import type { IdempotencyStore } from "../store/port.js";
import { createSharedDedupStore, type DedupStore } from "../transport/amqp/dedup.js";

/** The prefix of every key the enqueue dedup writes, and so of every key it prunes. */
const KEY_PREFIX = "amqp.enqueue:";

/** Options of {@link storeDedup}. */
export interface StoreDedupOptions {
  /** Time for the claims' `at` and for pruning. Default: the system clock. */
  readonly clock?: Clock;
  /**
   * Prune the dedup's old keys at most this often, in ms. Default 60 000
   * (one small `DELETE` a minute per process at most).
   */
  readonly pruneEveryMs?: number;
  /**
   * Keep every key at least this long, in ms (0 or more), whatever the
   * windows seen. Default 600 000 (ten minutes), five times the default dedup
   * window: a process only knows the windows it was asked about, so this
   * covers other processes of the swarm using a larger one, and skew between
   * their clocks and this one.
   */
  readonly minKeepMs?: number;
  /**
   * Called when a background prune fails (the claim that triggered it is not
   * affected, and the next prune is tried `pruneEveryMs` later). Default: a
   * process warning.
   */
  readonly onError?: (error: Error) => void;
}

const DEFAULT_PRUNE_EVERY_MS = 60_000;
const DEFAULT_MIN_KEEP_MS = 600_000;

/**
 * The AMQP adapter's enqueue deduplication on the swarm store's idempotency
 * keys (`amqp.enqueue:<id>#<n>`), so an envelope id enqueued again by any
 * process of the swarm, or by this one after a restart, is dropped within
 * the dedup window, as NATS JetStream's `Nats-Msg-Id` window does on the
 * server. (The transport may not import the store: this is the bridge.)
 *
 * Each enqueue writes two keys, so the dedup also forgets its own old ones
 * (and only those: `pruneIdempotencyKeys` with the `amqp.enqueue:` prefix,
 * never the keys of consensus or of anyone else sharing the table). A claim
 * starts a prune when none ran for `pruneEveryMs` (the first claim always
 * does, which clears what earlier runs left): in the background, so the claim
 * never waits for it; never two at once; a failure goes to `onError`, never
 * into the claim. No timer is left to cancel.
 *
 * A prune deletes the keys written more than `keepMs` ago, where `keepMs` is
 * the larger of `minKeepMs` and twice the largest window this dedup was asked
 * about. Why that is safe: a claim only reports a duplicate on a `sent`
 * record younger than its window (`isSentWithin`), so a key older than the
 * window no longer decides anything; the second window of margin covers a
 * confirm that came late after its attempt was recorded, and clocks of
 * processes that disagree. And the shared dedup's contract holds whatever is
 * deleted: pruning only removes records, and the one record that makes a
 * claim a duplicate, `sent`, is written only after the broker confirmed the
 * publish. So a pruned key can at worst let a duplicate through (e.g. an id
 * re-enqueued again and again across windows whose first attempts are gone),
 * which the consumers' completion markers absorb; it never loses a message.
 *
 * @example
 * ```ts
 * const store = await openPostgresStore({ url });
 * const dedup = storeDedup(store, { onError: (error) => log.warn(error.message) });
 * const bus = await createAmqpTransport({ url: amqpUrl, dedup });
 * ```
 */
export function storeDedup(store: IdempotencyStore, options: StoreDedupOptions = {}): DedupStore {
  const clock = options.clock ?? systemClock;
  const pruneEveryMs = checkedMs("pruneEveryMs", options.pruneEveryMs, DEFAULT_PRUNE_EVERY_MS, {
    allowZero: false,
  });
  const minKeepMs = checkedMs("minKeepMs", options.minKeepMs, DEFAULT_MIN_KEEP_MS, {
    allowZero: true,
  });
  const onError =
    options.onError ??
    ((error: Error) =>
      process.emitWarning(`conclave amqp dedup: pruning old enqueue keys: ${error.message}`));
  const shared = createSharedDedupStore(
    {
      async claim(key, value) {
        const claim = await store.claimIdempotencyKey(key, value, { at: value.at });
        return claim.first ? { first: true } : { first: false, value: claim.result };
      },
    },
    { prefix: KEY_PREFIX, clock },
  );

  let largestWindowMs = 0;
  /** When the last prune started; `undefined` before the first. */
  let lastPruneAt: number | undefined;
  let pruning = false;

  const report = (error: unknown) => {
    try {
      onError(toError(error));
    } catch {
      // A failing error hook must not become an unhandled rejection.
    }
  };

  const pruneIfDue = () => {
    const now = clock.now();
    // A clock set back counts as due, or pruning would stop until it caught up.
    const due = lastPruneAt === undefined || now - lastPruneAt >= pruneEveryMs || now < lastPruneAt;
    const keepMs = Math.max(minKeepMs, 2 * largestWindowMs);
    // An unbounded window needs every record: nothing may be pruned.
    if (pruning || !due || !Number.isFinite(keepMs)) return;
    pruning = true;
    lastPruneAt = now;
    void (async () => {
      try {
        await store.pruneIdempotencyKeys(now - keepMs, { prefix: KEY_PREFIX });
      } catch (error) {
        report(error);
      } finally {
        pruning = false;
      }
    })();
  };

  return {
    async claim(msgId: string, windowMs: number): Promise<boolean> {
      if (windowMs > largestWindowMs) largestWindowMs = windowMs;
      const first = await shared.claim(msgId, windowMs);
      // After the claim, so that its own queries never queue behind the prune's.
      pruneIfDue();
      return first;
    },
    async confirm(msgId: string): Promise<void> {
      await shared.confirm?.(msgId);
    },
    async release(msgId: string): Promise<void> {
      await shared.release?.(msgId);
    },
  };
}

function checkedMs(
  name: string,
  value: number | undefined,
  fallback: number,
  { allowZero }: { allowZero: boolean },
): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0 || (value === 0 && !allowZero)) {
    const what = allowZero ? "0 or more milliseconds" : "a positive number of milliseconds";
    throw new ConfigError(`storeDedup: ${name} must be ${what}, got ${value}`);
  }
  return value;
}
