import { createHash, randomBytes } from "node:crypto";
import { type Clock, systemClock } from "../core/clock.js";
import type { Random } from "../core/random.js";

/** Crockford's base32: no I, L, O or U, so ids survive being read aloud or retyped. */
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * Canonical upper-case form only. The first character is at most `7` because
 * 10 characters hold 50 bits and the time is 48. Lower-case input is refused
 * rather than folded: envelope ids are dedup keys, so one ULID must have one
 * spelling.
 */
const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

/** Largest time a ULID can carry: 2^48 - 1 ms, in the year 10889. */
export const ULID_MAX_TIME = 2 ** 48 - 1;

/** The 80 random bits are held as two 40-bit halves so each stays a safe integer. */
const HALF = 2 ** 40;

/** Makes ULIDs; see {@link createUlidFactory}. */
export type UlidFactory = (time?: number) => string;

/**
 * Creates a ULID generator with its own monotonic state: ids it returns sort
 * strictly in the order they were made, even within one millisecond (the
 * random part is incremented) and even if the clock steps backwards (the last
 * time is reused until the clock catches up). If the 80-bit random part would
 * overflow within one millisecond, the generator moves to the next
 * millisecond instead of failing.
 *
 * Randomness comes from `node:crypto` unless a `Random` is injected; an
 * injected one (e.g. `seededRandom`) makes the sequence replayable and is for
 * tests and simulations only.
 *
 * The returned function takes an optional explicit time in ms; without it the
 * clock is read.
 *
 * @throws RangeError if the clock (or the explicit time) is negative, not a
 *   number, or beyond {@link ULID_MAX_TIME}: that is a broken clock, not bad input.
 *
 * @example
 * ```ts
 * const nextId = createUlidFactory(new ManualClock(1_700_000_000_000), seededRandom(7));
 * nextId() < nextId(); // true: same millisecond, still ordered
 * ```
 */
export function createUlidFactory(clock: Clock = systemClock, random?: Random): UlidFactory {
  const draw = random ? randomHalvesFrom(random) : cryptoRandomHalves;
  let lastTime = -1;
  let high = 0;
  let low = 0;
  return (time?: number): string => {
    const now = checkTime(time ?? clock.now());
    if (now > lastTime) {
      lastTime = now;
      [high, low] = draw();
    } else {
      low += 1;
      if (low === HALF) {
        low = 0;
        high += 1;
      }
      if (high === HALF) {
        lastTime = checkTime(lastTime + 1);
        [high, low] = draw();
      }
    }
    return encodeBase32(lastTime, 10) + encodeBase32(high, 8) + encodeBase32(low, 8);
  };
}

const factories = new WeakMap<Clock, WeakMap<Random | typeof cryptoRandomHalves, UlidFactory>>();

/**
 * The shared factory for this clock and random source, so that separate calls
 * with the same seams still continue one monotonic sequence.
 * @internal
 */
export function sharedUlidFactory(clock: Clock, random?: Random): UlidFactory {
  let byRandom = factories.get(clock);
  if (!byRandom) {
    byRandom = new WeakMap();
    factories.set(clock, byRandom);
  }
  const key = random ?? cryptoRandomHalves;
  let factory = byRandom.get(key);
  if (!factory) {
    factory = createUlidFactory(clock, random);
    byRandom.set(key, factory);
  }
  return factory;
}

/**
 * Returns a new ULID: 26 characters of Crockford base32, a 48-bit millisecond
 * timestamp then 80 random bits, so ids sort by creation time as plain
 * strings. Calls with the same `clock` and `random` objects share one
 * monotonic sequence (see {@link createUlidFactory}).
 *
 * @example
 * ```ts
 * const id = ulid(); // "01JD5Q7Y8V3N4W6X2Z9A0B1C2D"
 * ulidTime(id);      // ms since the epoch, when it was made
 * ```
 */
export function ulid(clock: Clock = systemClock, random?: Random): string {
  return sharedUlidFactory(clock, random)();
}

/**
 * True if `value` is a ULID in canonical form (26 characters, upper-case
 * Crockford base32, time within 48 bits).
 *
 * @example
 * ```ts
 * isUlid("01JD0000000000000000000000"); // true
 * isUlid("01jd0000000000000000000000"); // false: not canonical
 * ```
 */
export function isUlid(value: unknown): value is string {
  return typeof value === "string" && ULID_PATTERN.test(value);
}

/** The regular expression behind {@link isUlid}, for schemas in other modules. */
export const ulidPattern: RegExp = ULID_PATTERN;

/**
 * The creation time (ms since the epoch) encoded in a ULID.
 *
 * @throws RangeError if `id` is not a canonical ULID.
 *
 * @example
 * ```ts
 * ulidTime(createUlidFactory(new ManualClock(1234))()); // 1234
 * ```
 */
export function ulidTime(id: string): number {
  if (!isUlid(id)) {
    throw new RangeError(
      `"${String(id).slice(0, 40)}" is not a ULID (26 upper-case Crockford base32 characters)`,
    );
  }
  let time = 0;
  for (let i = 0; i < 10; i++) time = time * 32 + ALPHABET.indexOf(id.charAt(i));
  return time;
}

/**
 * A ULID derived instead of drawn: `time` (or the first 10 characters of a
 * ULID whose time to reuse), then 16 characters of a SHA-256 of `seed` in
 * Crockford base32 (each of the digest's first 16 bytes, its low 5 bits).
 * The same inputs give the same id, so a replayed step or a retried award
 * names the very same task, and the bus and the outbox drop the repeat
 * (PROTOCOL.md, "Child task ids").
 */
export function derivedUlid(time: number | string, seed: string): string {
  const head =
    typeof time === "string"
      ? time.slice(0, 10)
      : encodeBase32(Math.min(Math.max(0, Math.floor(time) || 0), ULID_MAX_TIME), 10);
  const digest = createHash("sha256").update(seed).digest();
  let tail = "";
  for (let i = 0; i < 16; i++) tail += ALPHABET.charAt((digest[i] as number) & 31);
  return head + tail;
}

function checkTime(time: number): number {
  const ms = Math.floor(time);
  if (!(ms >= 0 && ms <= ULID_MAX_TIME)) {
    throw new RangeError(`clock returned ${time}; a ULID needs ms since the epoch in [0, 2^48)`);
  }
  return ms;
}

function encodeBase32(value: number, length: number): string {
  let out = "";
  let rest = value;
  for (let i = 0; i < length; i++) {
    out = ALPHABET.charAt(rest % 32) + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}

/** Random bytes drawn from node:crypto a pool at a time: one call per 102 ids, not one per id. */
const POOL_SIZE = 1020;
let pool = Buffer.alloc(0);
let poolOffset = POOL_SIZE;

function cryptoRandomHalves(): [number, number] {
  if (poolOffset + 10 > pool.length) {
    pool = randomBytes(POOL_SIZE);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += 10;
  return [pool.readUIntBE(at, 5), pool.readUIntBE(at + 5, 5)];
}

/** Four draws of 20 bits: `Random.next()` promises a float, not 40 good bits at once. */
function randomHalvesFrom(random: Random): () => [number, number] {
  const bits20 = (): number => Math.floor(random.next() * 2 ** 20) % 2 ** 20;
  return () => [bits20() * 2 ** 20 + bits20(), bits20() * 2 ** 20 + bits20()];
}
