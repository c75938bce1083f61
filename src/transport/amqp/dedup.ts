import { type Clock, systemClock } from "../../core/clock.js";

/**
 * Remembers which message ids were enqueued recently, for `enqueue`
 * deduplication. RabbitMQ has no publish-side deduplication, so the AMQP
 * adapter asks this store before it publishes, and tells it how the publish
 * ended.
 *
 * The default (`createWindowDedupStore`) lives in the process: it catches a
 * retry from the same node but not the same id enqueued by two processes,
 * nor by a process before and after a restart. For that, pass
 * `createSharedDedupStore` over a table every process shares (the runtime
 * builds one on the swarm store's idempotency keys).
 *
 * Contract: a store may let a duplicate through (the consumer side keeps
 * completion markers), but must never report as a duplicate an id whose
 * earlier publish was not confirmed: that would lose the message.
 */
export interface DedupStore {
  /**
   * Resolves `true` when `msgId` was not published within the last
   * `windowMs` (the caller should publish it, then call `confirm` or
   * `release`), `false` for a duplicate (the caller must not publish).
   */
  claim(msgId: string, windowMs: number): Promise<boolean>;
  /** The broker confirmed the publish of a claimed id. Optional. */
  confirm?(msgId: string): Promise<void>;
  /**
   * Forgets a claim whose publish failed, so that the producer may retry the
   * same id. Optional: without it, a failed enqueue blocks its id for the window.
   */
  release?(msgId: string): Promise<void>;
}

/**
 * An in-process `DedupStore`: a map from id to expiry, pruned as it goes.
 *
 * A claim of an id whose earlier claim is still being published waits for
 * that publish's outcome: a duplicate once it is confirmed, claimed anew if
 * it is released (the publish failed). Answering "duplicate" at once lost
 * the message when the first publish then failed. A claim left unsettled
 * (neither confirmed nor released) is waited for until its window ends.
 *
 * @example
 * ```ts
 * const dedup = createWindowDedupStore();
 * await dedup.claim("01J…", 120_000); // true: publish it, then
 * await dedup.confirm?.("01J…");
 * await dedup.claim("01J…", 120_000); // false
 * ```
 */
export function createWindowDedupStore(clock: Clock = systemClock): DedupStore {
  // Insertion order is expiry order as long as the window is constant, which
  // it is per transport; pruning stops at the first live entry.
  const seen = new Map<string, number>();
  /** Claims whose publish has not ended, by id: resolves true once confirmed, false once released. */
  const publishing = new Map<string, { outcome: Promise<boolean>; end(sent: boolean): void }>();
  const prune = (now: number) => {
    for (const [id, expiresAt] of seen) {
      if (expiresAt > now) break;
      seen.delete(id);
    }
  };
  const end = (msgId: string, sent: boolean) => {
    const attempt = publishing.get(msgId);
    publishing.delete(msgId);
    attempt?.end(sent);
  };
  return {
    async claim(msgId: string, windowMs: number): Promise<boolean> {
      for (;;) {
        const now = clock.now();
        prune(now);
        const expiresAt = seen.get(msgId);
        if (expiresAt !== undefined && expiresAt > now) {
          const attempt = publishing.get(msgId);
          if (attempt === undefined) return false;
          let cancel: (() => void) | undefined;
          const windowEnds = new Promise<boolean>((resolve) => {
            cancel = clock.setTimer(() => resolve(false), expiresAt - now);
          });
          const sent = await Promise.race([attempt.outcome, windowEnds]);
          cancel?.();
          if (sent) return false;
          continue; // released (or its window ended): claim it anew
        }
        seen.delete(msgId);
        seen.set(msgId, now + windowMs);
        end(msgId, false); // an attempt whose window ended unsettled
        let settle: (sent: boolean) => void = () => undefined;
        const outcome = new Promise<boolean>((resolve) => {
          settle = resolve;
        });
        publishing.set(msgId, { outcome, end: settle });
        return true;
      }
    },
    async confirm(msgId: string): Promise<void> {
      end(msgId, true);
    },
    async release(msgId: string): Promise<void> {
      seen.delete(msgId);
      end(msgId, false);
    },
  };
}

/**
 * An insert-once table shared by every process of a swarm: the first
 * `claim` of a key stores `value` and gets `{ first: true }`; every later
 * one, from any process, gets `{ first: false, value }` with the stored value.
 * Keys are never updated. (The swarm store's `claimIdempotencyKey` is one.)
 */
export interface SharedClaims {
  claim(key: string, value: SharedClaimValue): Promise<{ first: boolean; value?: unknown }>;
}

/** What the shared dedup store writes: the outcome of one publish attempt, and when. */
export interface SharedClaimValue {
  readonly outcome: "attempt" | "sent" | "failed" | "abandoned";
  /** ms since the epoch. */
  readonly at: number;
}

/** Options of {@link createSharedDedupStore}. */
export interface SharedDedupConfig {
  /** Prefix of every key in the shared table. Default `"amqp.enqueue:"`. */
  readonly prefix?: string;
  readonly clock?: Clock;
}

/** Attempts of one id recorded before the store stops tracking it (and lets it through). */
const MAX_ATTEMPTS = 64;

/**
 * A `DedupStore` over a shared insert-once table, so that an id enqueued by
 * one process (or by this one before a restart) is dropped when any process
 * enqueues it again within the window.
 *
 * Each publish attempt of an id takes the next attempt number `n` (key
 * `<id>#<n>`); its outcome is decided once, by whoever claims `<id>#<n>!`
 * first: the publisher, with `sent` after the broker's confirm or `failed`
 * after a refusal; or a later claimant, with `abandoned`, when it finds the
 * attempt undecided (its publisher died, or is still waiting for the
 * confirm). Only a `sent` outcome makes a later claim a duplicate. So a
 * process killed between its claim and the broker's confirm never causes a
 * loss: the next attempt is published again. The price is that two
 * processes publishing the same id at the same instant may both get
 * through, which the consumers' completion markers absorb.
 *
 * Two inserts per enqueue; the keys are not pruned here (the shared table's
 * owner prunes old keys).
 *
 * @example
 * ```ts
 * const dedup = createSharedDedupStore({
 *   claim: async (key, value) => {
 *     const { first, result } = await store.claimIdempotencyKey(key, value);
 *     return { first, value: result };
 *   },
 * });
 * const bus = await createAmqpTransport({ url, dedup });
 * ```
 */
export function createSharedDedupStore(
  claims: SharedClaims,
  config: SharedDedupConfig = {},
): DedupStore {
  const prefix = config.prefix ?? "amqp.enqueue:";
  const clock = config.clock ?? systemClock;
  /** Attempts this process claimed and has not decided yet, by id. */
  const attempts = new Map<string, number>();
  /** Ids this process published, until their window ends: no round trip for a local repeat. */
  const recent = createWindowDedupStore(clock);
  const attemptKey = (msgId: string, n: number) => `${prefix}${msgId}#${n}`;
  const outcomeKey = (msgId: string, n: number) => `${prefix}${msgId}#${n}!`;
  const decide = async (msgId: string, outcome: "sent" | "failed") => {
    const n = attempts.get(msgId);
    if (n === undefined) return;
    attempts.delete(msgId);
    // Losing this race (someone abandoned the attempt meanwhile) only means
    // a later claim publishes again: a duplicate, never a loss.
    await claims.claim(outcomeKey(msgId, n), { outcome, at: clock.now() });
  };
  return {
    async claim(msgId: string, windowMs: number): Promise<boolean> {
      // A repeat within this process: answered locally (the window store
      // also covers an attempt still in flight here).
      if (!(await recent.claim(msgId, windowMs))) return false;
      try {
        for (let n = 0; n < MAX_ATTEMPTS; n++) {
          const now = clock.now();
          const own = await claims.claim(attemptKey(msgId, n), { outcome: "attempt", at: now });
          if (own.first) {
            attempts.set(msgId, n);
            return true;
          }
          const decided = await claims.claim(outcomeKey(msgId, n), {
            outcome: "abandoned",
            at: now,
          });
          if (!decided.first && isSentWithin(decided.value, now, windowMs)) {
            // Sent by another process: so it is for repeats here too.
            await recent.confirm?.(msgId);
            return false;
          }
        }
      } catch (error) {
        await recent.release?.(msgId);
        throw error;
      }
      // Every attempt number used: publish without tracking (a duplicate at worst).
      return true;
    },
    async confirm(msgId: string): Promise<void> {
      await recent.confirm?.(msgId);
      await decide(msgId, "sent");
    },
    async release(msgId: string): Promise<void> {
      await recent.release?.(msgId);
      await decide(msgId, "failed");
    },
  };
}

function isSentWithin(value: unknown, now: number, windowMs: number): boolean {
  if (typeof value !== "object" || value === null) return false;
  const { outcome, at } = value as { outcome?: unknown; at?: unknown };
  return outcome === "sent" && typeof at === "number" && now - at < windowMs;
}
