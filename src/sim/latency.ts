import type { Random } from "../core/random.js";
import { ConfigError } from "../errors/index.js";

/**
 * How long a message takes from sender to receiver, in virtual milliseconds.
 * Every sample comes from the network's seeded generator, so a run replays
 * from its seed. Jitter (any model but `fixed`) is what reorders messages.
 *
 * - `fixed`: always `ms`.
 * - `uniform`: uniformly in `[minMs, maxMs)`.
 * - `normal`: Gaussian with `meanMs` and `stdDevMs`, clamped to at least
 *   `minMs` (default 0): a long tail is cut, not mirrored.
 * - `exponential`: `minMs` (default 0) plus an exponential with mean `meanMs`:
 *   mostly fast, sometimes very late, the classic model of queueing delay.
 */
export type LatencyModel =
  | { readonly kind: "fixed"; readonly ms: number }
  | { readonly kind: "uniform"; readonly minMs: number; readonly maxMs: number }
  | {
      readonly kind: "normal";
      readonly meanMs: number;
      readonly stdDevMs: number;
      readonly minMs?: number;
    }
  | { readonly kind: "exponential"; readonly meanMs: number; readonly minMs?: number };

/** Draws one latency sample. */
export type LatencySampler = () => number;

/**
 * Compiles a latency model into a sampler over `random`.
 *
 * @throws ConfigError if a parameter is negative, not finite, or `maxMs < minMs`.
 *
 * @example
 * ```ts
 * const sample = latencySampler({ kind: "uniform", minMs: 5, maxMs: 15 }, seededRandom(1));
 * sample(); // e.g. 11.3
 * ```
 */
export function latencySampler(model: LatencyModel, random: Random): LatencySampler {
  switch (model.kind) {
    case "fixed": {
      const ms = nonNegative(model.ms, "latency.ms");
      return () => ms;
    }
    case "uniform": {
      const min = nonNegative(model.minMs, "latency.minMs");
      const max = nonNegative(model.maxMs, "latency.maxMs");
      if (max < min) throw new ConfigError("latency.maxMs must be at least latency.minMs");
      const span = max - min;
      return () => min + random.next() * span;
    }
    case "normal": {
      const mean = nonNegative(model.meanMs, "latency.meanMs");
      const sd = nonNegative(model.stdDevMs, "latency.stdDevMs");
      const min = nonNegative(model.minMs ?? 0, "latency.minMs");
      // Box-Muller gives two independent samples per pair of draws; the spare is kept.
      let spare = Number.NaN;
      return () => {
        let z: number;
        if (!Number.isNaN(spare)) {
          z = spare;
          spare = Number.NaN;
        } else {
          const u = 1 - random.next(); // (0, 1]: log(0) would be -Infinity
          const v = random.next();
          const r = Math.sqrt(-2 * Math.log(u));
          z = r * Math.cos(2 * Math.PI * v);
          spare = r * Math.sin(2 * Math.PI * v);
        }
        const sample = mean + sd * z;
        return sample < min ? min : sample;
      };
    }
    case "exponential": {
      const mean = nonNegative(model.meanMs, "latency.meanMs");
      const min = nonNegative(model.minMs ?? 0, "latency.minMs");
      return () => min - mean * Math.log(1 - random.next());
    }
    default: {
      const kind = (model as { kind?: unknown }).kind;
      throw new ConfigError(
        `unknown latency model ${JSON.stringify(kind)}; use "fixed", "uniform", "normal" or "exponential"`,
      );
    }
  }
}

function nonNegative(value: number, name: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new ConfigError(`${name} must be a finite number of milliseconds >= 0, got ${value}`);
  }
  return value;
}
