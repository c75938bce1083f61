import { type Clock, systemClock } from "../../core/clock.js";

/**
 * Remembers which message ids were enqueued recently, for `enqueue`
 * deduplication. RabbitMQ has no publish-side deduplication, so the AMQP
 * adapter asks this store before it publishes.
 *
 * The default (`createWindowDedupStore`) lives in the process: it catches a
 * retry from the same node but not the same id enqueued by two processes.
 * For cross-process deduplication pass a shared implementation (e.g. backed
 * by the swarm store); the runtime additionally dedups on completion markers.
 */
export interface DedupStore {
  /**
   * Records `msgId` for `windowMs` and resolves `true` when it was not seen in
   * the window (the caller should publish), `false` for a duplicate.
   */
  claim(msgId: string, windowMs: number): Promise<boolean>;
  /**
   * Forgets a claim whose publish failed, so that the producer may retry the
   * same id. Optional: without it, a failed enqueue blocks its id for the window.
   */
  release?(msgId: string): Promise<void>;
}

/**
 * An in-process `DedupStore`: a map from id to expiry, pruned as it goes.
 *
 * @example
 * ```ts
 * const dedup = createWindowDedupStore();
 * await dedup.claim("01J…", 120_000); // true
 * await dedup.claim("01J…", 120_000); // false
 * ```
 */
export function createWindowDedupStore(clock: Clock = systemClock): DedupStore {
  // Insertion order is expiry order as long as the window is constant, which
  // it is per transport; pruning stops at the first live entry.
  const seen = new Map<string, number>();
  const prune = (now: number) => {
    for (const [id, expiresAt] of seen) {
      if (expiresAt > now) break;
      seen.delete(id);
    }
  };
  return {
    async claim(msgId: string, windowMs: number): Promise<boolean> {
      const now = clock.now();
      prune(now);
      const expiresAt = seen.get(msgId);
      if (expiresAt !== undefined && expiresAt > now) return false;
      seen.delete(msgId);
      seen.set(msgId, now + windowMs);
      return true;
    },
    async release(msgId: string): Promise<void> {
      seen.delete(msgId);
    },
  };
}
