/**
 * Derives an independent 32-bit seed from a run's seed and a label (a node
 * id, a purpose), so that every part of a simulation draws from its own
 * generator and adding one part does not shift the draws of the others.
 * FNV-1a over the label, mixed with the seed by a murmur3 finaliser.
 *
 * @example
 * ```ts
 * const random = seededRandom(deriveSeed(seed, "byzantine:r3"));
 * ```
 */
export function deriveSeed(seed: number, label: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= seed >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
