/**
 * A per-agent token bucket on injected time: the bid gate's defence against
 * an agent flooding auctions. One limiter is meant to be shared by every
 * auction a node runs, so the limit is per agent, not per auction.
 */
import { ConfigError } from "../errors/index.js";

/** Configuration of {@link createRateLimiter}. */
export interface RateLimiterConfig {
  /** Most bids an agent may place in a burst (bucket size), ≥ 1. */
  readonly capacity: number;
  /** Tokens added per second of `now` time, > 0. */
  readonly refillPerSecond: number;
}

/**
 * Token buckets keyed by agent id. Every bucket starts full; each `take`
 * costs one token; tokens come back at `refillPerSecond` as `now` advances,
 * up to `capacity`. Time is whatever `now` the caller passes: a `now`
 * earlier than the last one seen for that agent refills nothing (a clock that
 * steps back never mints tokens). Buckets full again are forgotten as new
 * agents arrive (see `prune`), so agents that come and go (autoscaled
 * workers) leave nothing behind: the limiter holds at most about twice as
 * many buckets as there are agents still refilling, or 1024.
 */
export interface RateLimiter {
  readonly capacity: number;
  readonly refillPerSecond: number;
  /** Buckets held now: agents whose bucket is not known to be full again. */
  readonly size: number;
  /** Spends one token of `agent` at time `now`; false (nothing spent) when its bucket is empty. */
  take(agent: string, now: number): boolean;
  /** Tokens `agent` has at `now`, fractional. */
  available(agent: string, now: number): number;
  /**
   * Forgets buckets that are full again at `now` (indistinguishable from new
   * ones), so the limiter holds only recently active agents. Returns how
   * many were dropped. `take` calls it itself whenever the number of
   * buckets doubled since the last pruning.
   */
  prune(now: number): number;
}

/** Buckets held before `take` first prunes the full ones. */
const PRUNE_AT_LEAST = 1024;

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Creates an empty limiter.
 *
 * @throws ConfigError if `capacity` is not a whole number ≥ 1 or
 *   `refillPerSecond` not a finite number > 0.
 *
 * @example
 * ```ts
 * const limiter = createRateLimiter({ capacity: 5, refillPerSecond: 1 });
 * limiter.take("dev-1", now); // true, 4 left
 * ```
 */
export function createRateLimiter(config: RateLimiterConfig): RateLimiter {
  const { capacity, refillPerSecond } = config;
  if (!Number.isSafeInteger(capacity) || capacity < 1) {
    throw new ConfigError(
      `rate limiter capacity must be a whole number ≥ 1 (the largest burst of bids), got ${capacity}`,
    );
  }
  if (!Number.isFinite(refillPerSecond) || refillPerSecond <= 0) {
    throw new ConfigError(
      `rate limiter refillPerSecond must be a finite number > 0, got ${refillPerSecond}`,
    );
  }
  const buckets = new Map<string, Bucket>();
  // Pruning costs one pass over the buckets: run when their number doubled
  // since the last pass, so each `take` pays O(1) amortized.
  let pruneAt = PRUNE_AT_LEAST;

  const refill = (agent: string, now: number): Bucket => {
    const bucket = buckets.get(agent);
    if (bucket === undefined) {
      if (buckets.size >= pruneAt) {
        prune(now);
        pruneAt = Math.max(PRUNE_AT_LEAST, buckets.size * 2);
      }
      const fresh = { tokens: capacity, at: now };
      buckets.set(agent, fresh);
      return fresh;
    }
    if (now > bucket.at) {
      bucket.tokens = Math.min(
        capacity,
        bucket.tokens + ((now - bucket.at) / 1000) * refillPerSecond,
      );
      bucket.at = now;
    }
    return bucket;
  };

  // A stored bucket is never full (each take spends a token), so one full
  // again at `now` has `at` before `now`: a clock stepping back prunes nothing.
  const prune = (now: number): number => {
    let dropped = 0;
    for (const [agent, bucket] of buckets) {
      const elapsed = Math.max(0, now - bucket.at);
      if (bucket.tokens + (elapsed / 1000) * refillPerSecond >= capacity) {
        buckets.delete(agent);
        dropped++;
      }
    }
    return dropped;
  };

  return {
    capacity,
    refillPerSecond,
    get size() {
      return buckets.size;
    },
    take(agent, now) {
      const bucket = refill(agent, now);
      if (bucket.tokens < 1) return false;
      bucket.tokens -= 1;
      return true;
    },
    available(agent, now) {
      const bucket = buckets.get(agent);
      if (bucket === undefined) return capacity;
      const elapsed = Math.max(0, now - bucket.at);
      return Math.min(capacity, bucket.tokens + (elapsed / 1000) * refillPerSecond);
    },
    prune,
  };
}
