/**
 * Randomness comes from an injected generator so protocol runs replay from a
 * seed. `Random.next()` returns a float in [0, 1).
 */
export interface Random {
  next(): number;
}

/** Math.random, for production paths where replay does not matter. */
export const systemRandom: Random = Object.freeze({ next: () => Math.random() });

/**
 * A small, fast, seeded generator (mulberry32). Same seed, same sequence, on
 * every platform. Not for cryptography: keys and nonces use node:crypto.
 */
export function seededRandom(seed: number): Random & { int(maxExclusive: number): number } {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (maxExclusive: number) => Math.floor(next() * maxExclusive) };
}
