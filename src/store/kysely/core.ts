/**
 * What every role's implementation over Kysely shares: the database and its
 * dialect, the clock, the lifecycle guard (wait for the schema, refuse once
 * closing, track calls in flight) and the translation of driver errors into
 * `StoreError`; plus the small helpers the queries share (chunked inserts,
 * exact integers, retries of transactions that lost to a concurrent writer).
 */
import type { Kysely, Transaction } from "kysely";
import { isDiskFull } from "../../core/disk-full.js";
import type { Clock } from "../../core/index.js";
import { ClosedError, ConclaveError, StoreError, StoreFullError } from "../../errors/index.js";
import type { Database, StoreDialect } from "../schema.js";

/** Rows per multi-row insert: far below SQLite's 32,766 and Postgres' 65,535 bound parameters. */
const ROWS_PER_INSERT = 500;
/** Attempts for a transaction that lost a deadlock or a lock wait to a concurrent writer. */
const ATTEMPTS = 3;

/** What the core is built from (a subset of `KyselyStoreConfig`, resolved). */
export interface StoreCoreConfig {
  readonly db: Kysely<Database>;
  readonly dialect: StoreDialect;
  readonly description: string;
  readonly ready: Promise<void>;
  readonly clock: Clock;
}

/**
 * One store handle's shared state. The role implementations (`tasks.ts`,
 * `ledger.ts`, …) run every call through `run` or `transaction`; the
 * composition (`KyselyStore`) marks the core closing and waits for `settled`.
 */
export class StoreCore {
  readonly db: Kysely<Database>;
  readonly dialect: StoreDialect;
  /** Names the store in messages, e.g. `the SQLite store at ./swarm.db`. */
  readonly description: string;
  /** Settles when the schema is ready; a rejection is every call's error. */
  readonly ready: Promise<void>;
  /** Default timestamps (registry saves, idempotency claims, reputations). */
  readonly clock: Clock;
  /** Set once `close()` was called: every new call is refused with `ClosedError`. */
  closing = false;
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(config: StoreCoreConfig) {
    this.db = config.db;
    this.dialect = config.dialect;
    this.description = config.description;
    this.ready = config.ready;
    // Reported to each caller; not an unhandled rejection when nobody calls.
    this.ready.catch(() => {});
    this.clock = config.clock;
  }

  /** The error for a call made once closing. */
  closedError(): ClosedError {
    return new ClosedError(this.description);
  }

  /**
   * Runs one operation: refused with `ClosedError` once `close()` was
   * called, after the schema is ready, with driver errors turned into
   * `StoreError`. `close()` waits for operations still running.
   */
  run<T>(what: string, operation: () => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(this.closedError());
    const result = this.ready.then(operation).catch((cause: unknown) => {
      throw this.storeError(what, cause);
    });
    this.#inFlight.add(result);
    const forget = () => this.#inFlight.delete(result);
    result.then(forget, forget);
    return result;
  }

  /** Settles once every operation started through `run` has. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
  }

  /** A transaction, retried when it lost to a concurrent writer. */
  transaction<T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    return retried(() => this.db.transaction().execute(work));
  }

  storeError(what: string, cause: unknown): ConclaveError {
    if (cause instanceof ConclaveError) return cause;
    if (isDiskFull(cause)) return new StoreFullError(what, this.description, { cause });
    if (isNulInText(cause)) {
      return new StoreError(
        `${what} failed on ${this.description}: a text value holds a NUL character (\\u0000), which Postgres cannot store; remove it from the value (JSON data may hold it: it is escaped there)`,
        { cause },
      );
    }
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new StoreError(`${what} failed on ${this.description}: ${reason}`, { cause });
  }
}

/**
 * Postgres refusing a NUL character in text (22021, "invalid byte sequence
 * for encoding "UTF8": 0x00"): its words name neither the character nor
 * the fix.
 */
function isNulInText(cause: unknown): boolean {
  return (
    cause instanceof Error &&
    (cause as { code?: unknown }).code === "22021" &&
    /0x00\b/.test(cause.message)
  );
}

/**
 * Thrown inside a ledger transaction on Postgres when an operation id it
 * decided to apply was committed meanwhile by another transaction (its
 * decision read no such id): the transaction rolls back and runs again,
 * and then sees that operation.
 */
export class LedgerRaceError extends Error {
  readonly code = "CONCLAVE_LEDGER_RACE";
}

/**
 * Runs a transaction again when it lost to a concurrent writer (Postgres
 * deadlock or serialisation failure, SQLite still busy after its timeout).
 */
export async function retried<T>(transaction: () => Promise<T>, attempts = ATTEMPTS): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction();
    } catch (error) {
      if (attempt >= attempts || !lostToConcurrentWriter(error)) throw error;
    }
  }
}

/** Errors after which the same transaction may well succeed. */
export function lostToConcurrentWriter(error: unknown): boolean {
  const code =
    typeof error === "object" && error !== null && "code" in error ? String(error.code) : "";
  // 40P01 deadlock_detected, 40001 serialization_failure; SQLITE_BUSY* after busy_timeout.
  return (
    code === "40P01" ||
    code === "40001" ||
    code.startsWith("SQLITE_BUSY") ||
    error instanceof LedgerRaceError
  );
}

/** Splits rows for multi-row statements that stay within every dialect's parameter limit. */
export function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += ROWS_PER_INSERT) {
    out.push(items.slice(i, i + ROWS_PER_INSERT));
  }
  return out;
}

export function sorted(items: Iterable<string>): string[] {
  return [...items].sort(compare);
}

/** Code-unit order, the same in every locale (and what `order by` gives for the ASCII account ids). */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A bigint column or sum as the driver returns it (number, string or bigint), exactly. */
export function bigInteger(value: unknown): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new StoreError(`ledger value ${value} is not exact`);
    return BigInt(value);
  }
  if (typeof value === "string" && /^-?[0-9]+$/.test(value)) return BigInt(value);
  throw new StoreError(`ledger value ${String(value)} is not a whole number`);
}

export function exactNumber(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new StoreError(`ledger total ${value} is outside the exact-integer range`);
  }
  return Number(value);
}

/** A stored whole number as a JS number, refusing one that would lose precision. */
export function integer(value: unknown): number {
  return exactNumber(bigInteger(value));
}

/**
 * `JSON.stringify(value)`, throwing where it would return nothing: a
 * function, a symbol, or a `toJSON` that returns undefined has no JSON form,
 * and storing it as no value (or `null`) would lose it without a word.
 *
 * @throws TypeError for such a value, and whatever `JSON.stringify` throws (a bigint, a cycle).
 */
export function strictJson(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) {
    throw new TypeError(
      `a ${typeof value} has no JSON form (a function, a symbol, or a toJSON that returns undefined)`,
    );
  }
  return json;
}
