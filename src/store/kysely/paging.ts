/**
 * The paging options of the store's list reads (`limit`, `fromSeq`), read
 * the same way on every dialect. Passed through as they came, SQLite and
 * Postgres disagreed: a negative limit read everything on SQLite and failed
 * on Postgres, `Infinity` read nothing or failed, a fractional one failed
 * on both with the driver's words, and `fromSeq: NaN` read nothing.
 */
import { StoreError } from "../../errors/index.js";

/**
 * A list's `limit`: a number from 0 up; a fraction is rounded down, and
 * anything above 2^53 - 1 (`Infinity` included) reads everything.
 *
 * @throws StoreError for a negative limit, `NaN` or a non-number.
 */
export function pageLimit(what: string, limit: number | undefined): number | undefined {
  if (limit === undefined) return undefined;
  if (typeof limit !== "number" || Number.isNaN(limit) || limit < 0) {
    throw new StoreError(
      `${what}: limit ${String(limit)} is not a count; pass a whole number from 0 up (Infinity, or leave it out for the default)`,
    );
  }
  return Math.min(Math.floor(limit), Number.MAX_SAFE_INTEGER);
}

/**
 * A list's first position (`fromSeq`): any number; a fraction is rounded up
 * (the first whole position at or after it), and ±`Infinity` is clamped to
 * the exact-integer range (nothing lies beyond it).
 *
 * @throws StoreError for `NaN` or a non-number.
 */
export function pageStart(what: string, from: number | undefined): number | undefined {
  if (from === undefined) return undefined;
  if (typeof from !== "number" || Number.isNaN(from)) {
    throw new StoreError(
      `${what}: fromSeq ${String(from)} is not a position; pass a whole number (1 for the start)`,
    );
  }
  return Math.max(Math.min(Math.ceil(from), Number.MAX_SAFE_INTEGER), -Number.MAX_SAFE_INTEGER);
}

/**
 * `options` with its `limit` and `fromSeq` read by {@link pageLimit} and
 * {@link pageStart}; the other fields unchanged.
 */
export function paged<O extends { readonly limit?: number; readonly fromSeq?: number }>(
  what: string,
  options: O | undefined,
): O | undefined {
  if (options === undefined) return undefined;
  const limit = pageLimit(what, options.limit);
  const fromSeq = pageStart(what, options.fromSeq);
  return {
    ...options,
    ...(limit === undefined ? {} : { limit }),
    ...(fromSeq === undefined ? {} : { fromSeq }),
  };
}

/** Runs `read` with `options` {@link paged}; a bad option is the returned promise's rejection. */
export function readPage<O extends { readonly limit?: number; readonly fromSeq?: number }, T>(
  what: string,
  options: O | undefined,
  read: (options: O | undefined) => Promise<T>,
): Promise<T> {
  let checked: O | undefined;
  try {
    checked = paged(what, options);
  } catch (error) {
    return Promise.reject(error);
  }
  return read(checked);
}

/**
 * A time bound of a prune or a filtered read (`before`, `sentBefore`,
 * `since`; ms since the epoch), read the same way on every dialect:
 * ±`Infinity` is clamped to the exact-integer range (no stored time lies
 * beyond it), and with `round` a fraction is rounded to the whole time
 * that selects the same whole-ms rows (`"up"` for `< before` and
 * `>= since`, `"down"` for `<= sentBefore`): Postgres stores only whole
 * times and takes only whole bounds, SQLite compares the fraction as it is
 * (`"none"`). Passed through as they came, Postgres refused `Infinity` and
 * fractions ("invalid input syntax for type bigint") where SQLite compared
 * them, and `NaN` matched nothing on SQLite without a word.
 *
 * @throws StoreError for `NaN` or a non-number.
 */
export function timeBound(
  what: string,
  name: string,
  value: number,
  round: "up" | "down" | "none",
): number {
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw new StoreError(
      `${what}: ${name} ${String(value)} is not a time; pass ms since the epoch (e.g. Date.now() - 3_600_000)`,
    );
  }
  const rounded = round === "up" ? Math.ceil(value) : round === "down" ? Math.floor(value) : value;
  return Math.max(Math.min(rounded, Number.MAX_SAFE_INTEGER), -Number.MAX_SAFE_INTEGER);
}

/** Runs `read` with `value` read by {@link timeBound}; a bad bound is the returned promise's rejection. */
export function withTimeBound<T>(
  what: string,
  name: string,
  value: number,
  round: "up" | "down" | "none",
  read: (bound: number) => Promise<T>,
): Promise<T> {
  let bound: number;
  try {
    bound = timeBound(what, name, value, round);
  } catch (error) {
    return Promise.reject(error);
  }
  return read(bound);
}
