/**
 * The rules of the credit ledger, written once as pure functions and
 * enforced by every store inside its transactions: `applyToBalances` is the
 * reference model, `prepareLedgerOperation` checks what a store is handed,
 * and `planLedgerBatch` decides a group-committed batch over what the store
 * read. A store (of this package or a third party's) imports them from here;
 * nothing in this file knows about a database.
 */
import type { ConclaveError } from "../errors/index.js";
import { assertAccount, WORLD } from "./accounts.js";
import { addExact } from "./amount.js";
import {
  InsufficientCreditsError,
  InvalidAmountError,
  InvalidOperationError,
  LedgerOverflowError,
  OperationConflictError,
  UnknownAccountError,
} from "./errors.js";
import {
  assertOperationId,
  type Entry,
  type LedgerOperation,
  type OperationKind,
  operationFingerprint,
} from "./operations.js";

const KINDS: ReadonlySet<string> = new Set<OperationKind>([
  "mint",
  "transfer",
  "hold",
  "release",
  "refund",
  "fee",
]);

/**
 * Applies `operation` to `balances` (mutated only on success), enforcing the
 * rules every ledger backend shares: entries balance, no account but `world`
 * goes negative, no value leaves the exact-integer range, and only `mint` and
 * `transfer` may create an account that does not exist yet (escrow and fee
 * accounts are created by their first credit). Entries apply in order, so
 * an account debited before it is credited within one operation must hold
 * the debit already. The SQL backends implement the same rules in one
 * transaction; this is their reference model.
 */
export function applyToBalances(balances: Map<string, number>, operation: LedgerOperation): void {
  const next = new Map<string, number>();
  let sum = 0;
  for (const { account, delta } of operation.entries) {
    const current = next.get(account) ?? balances.get(account);
    if (current === undefined && delta < 0 && account !== WORLD)
      throw new UnknownAccountError(account);
    const value = addExact(current ?? 0, delta);
    if (value === undefined) throw new LedgerOverflowError(account);
    if (value < 0 && account !== WORLD)
      throw new InsufficientCreditsError(account, current ?? 0, -delta);
    next.set(account, value);
    sum += delta;
  }
  if (sum !== 0) throw new InvalidOperationError(operation.id, `entries sum to ${sum}, not 0`);
  for (const [account, value] of next) balances.set(account, value);
}

// ---- what the stores share ---------------------------------------------------

/** An operation checked and serialised for a store: a frozen copy, its fingerprint and memo JSON. */
export interface PreparedLedgerOperation {
  readonly operation: LedgerOperation;
  readonly fingerprint: string;
  /** `JSON.stringify(memo)`, as stored. */
  readonly memo: string;
}

/**
 * Checks the shape of an operation handed to a store, which may not come
 * from the builders: the id (1 to 200 characters, no NUL), the kind, at least two
 * entries with well-formed accounts and non-zero whole deltas that sum to
 * zero, a flat memo of strings and finite numbers, and `at` in whole
 * milliseconds. Throws `InvalidOperationError`, `InvalidAmountError` or
 * `UnknownAccountError`; returns a frozen copy ready to store.
 */
export function prepareLedgerOperation(operation: LedgerOperation): PreparedLedgerOperation {
  if (typeof operation !== "object" || operation === null)
    throw new InvalidOperationError(String(operation), "not an object");
  const { id, kind, entries, memo, at } = operation;
  assertOperationId(id);
  if (typeof kind !== "string" || !KINDS.has(kind))
    throw new InvalidOperationError(id, `unknown kind ${JSON.stringify(kind)}`);
  if (!Array.isArray(entries) || entries.length < 2)
    throw new InvalidOperationError(id, "an operation needs at least two entries");
  let sum = 0;
  const copied: Entry[] = [];
  for (const entry of entries as readonly Entry[]) {
    if (typeof entry !== "object" || entry === null)
      throw new InvalidOperationError(id, "an entry is not an object");
    assertAccount(entry.account);
    if (!Number.isSafeInteger(entry.delta) || entry.delta === 0) {
      throw new InvalidAmountError(
        entry.delta,
        `entry for ${entry.account} must move a non-zero whole number of credits`,
      );
    }
    const next = addExact(sum, entry.delta);
    if (next === undefined) throw new LedgerOverflowError(entry.account);
    sum = next;
    copied.push(Object.freeze({ account: entry.account, delta: entry.delta }));
  }
  if (sum !== 0) throw new InvalidOperationError(id, `entries sum to ${sum}, not 0`);
  if (typeof memo !== "object" || memo === null || Array.isArray(memo))
    throw new InvalidOperationError(id, "the memo must be an object");
  const memoCopy: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(memo)) {
    if (typeof value !== "string" && !(typeof value === "number" && Number.isFinite(value)))
      throw new InvalidOperationError(id, `memo.${key} must be a string or a finite number`);
    memoCopy[key] = value;
  }
  if (!Number.isSafeInteger(at) || at < 0)
    throw new InvalidOperationError(id, `at must be whole milliseconds since the epoch, got ${at}`);
  const frozen: LedgerOperation = Object.freeze({
    id,
    kind: kind as OperationKind,
    entries: Object.freeze(copied),
    memo: Object.freeze(memoCopy),
    at,
  });
  return {
    operation: frozen,
    fingerprint: operationFingerprint(frozen),
    memo: JSON.stringify(memoCopy),
  };
}

/** What applying one operation came to: applied now, already applied before, or refused. */
export type LedgerOutcome = { readonly applied: boolean } | { readonly error: ConclaveError };

/** What a store read, inside its transaction, for the accounts and ids of a batch. */
export interface LedgerLookup {
  /** The stored fingerprint of operation `id`, or undefined when it was never applied. */
  fingerprint(id: string): string | undefined;
  /** The balance of `account`, or undefined when the account does not exist. */
  balance(account: string): number | undefined;
}

/** What a store writes for a batch, in the same transaction as its reads. */
export interface LedgerPlan {
  /** Per operation of the batch, in order. */
  readonly outcomes: LedgerOutcome[];
  /** The operations to write (rows and entries), in order. */
  readonly applied: PreparedLedgerOperation[];
  /** New balances of every account the applied operations changed. */
  readonly balances: Map<string, number>;
}

/**
 * Decides a batch of operations as if each ran alone, in order: an id
 * already applied (before, or earlier in the batch) is a replay (same
 * fingerprint: `{ applied: false }`) or a conflict (`OperationConflictError`);
 * otherwise `applyToBalances` decides, and a refused operation changes
 * nothing for those after it. Reads go through `lookup`, each account and id
 * at most once.
 */
export function planLedgerBatch(
  batch: readonly PreparedLedgerOperation[],
  lookup: LedgerLookup,
): LedgerPlan {
  const known = new Map<string, number>();
  const loaded = new Set<string>();
  const changed = new Set<string>();
  const appliedNow = new Map<string, string>();
  const outcomes: LedgerOutcome[] = [];
  const applied: PreparedLedgerOperation[] = [];
  for (const prepared of batch) {
    const { id } = prepared.operation;
    const stored = appliedNow.get(id) ?? lookup.fingerprint(id);
    if (stored !== undefined) {
      outcomes.push(
        stored === prepared.fingerprint
          ? { applied: false }
          : { error: new OperationConflictError(id) },
      );
      continue;
    }
    for (const { account } of prepared.operation.entries) {
      if (loaded.has(account)) continue;
      loaded.add(account);
      const balance = lookup.balance(account);
      if (balance !== undefined) known.set(account, balance);
    }
    try {
      applyToBalances(known, prepared.operation);
    } catch (error) {
      outcomes.push({ error: error as ConclaveError });
      continue;
    }
    for (const { account } of prepared.operation.entries) changed.add(account);
    appliedNow.set(id, prepared.fingerprint);
    applied.push(prepared);
    outcomes.push({ applied: true });
  }
  const balances = new Map<string, number>();
  for (const account of changed) balances.set(account, known.get(account) as number);
  return { outcomes, applied, balances };
}
