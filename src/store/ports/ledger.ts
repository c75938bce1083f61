/**
 * `LedgerStore`: the double-entry credit ledger held durably. The store
 * applies operations built by the ledger (`src/ledger`) and enforces the
 * ledger's rules inside its transactions, with the pure rules of
 * `src/ledger/rules.ts` (`prepareLedgerOperation`, `planLedgerBatch`,
 * `applyToBalances`) as the reference model.
 *
 * Contract (checked by `src/testkit/conformance/store/ledger.ts`):
 * - `applyLedgerOperation` is atomic and idempotent by operation id, across
 *   handles and processes, and enforces the ledger's rules: no account but
 *   `world` below zero, no debit of an account that does not exist, no
 *   balance out of the exact-integer range. A refused operation writes
 *   nothing and leaves its id unused.
 * - Closing the handle first applies the operations already requested.
 * - `ledgerCheck` is consistent after any sequence of applied and refused
 *   operations: `sum === minted` and every list empty.
 */
import type { LedgerOperation, OperationKind } from "../../ledger/operations.js";

/** An account and what it holds. */
export interface AccountBalance {
  readonly account: string;
  /** Whole credits; negative only for `world`. */
  readonly balance: number;
}

/** One entry of the ledger as stored, with its operation's kind and time. */
export interface LedgerEntryRecord {
  readonly operationId: string;
  /** The entry's position in its operation: 0, 1, … */
  readonly seq: number;
  readonly kind: OperationKind;
  readonly account: string;
  readonly delta: number;
  readonly at: number;
}

/**
 * The ledger recomputed from its entries and compared with the maintained
 * balances. Consistent when `sum === minted` and every list is empty.
 */
export interface LedgerCheck {
  /** `-balance(world)`: every credit ever minted. */
  readonly minted: number;
  /** The balances of every account but `world`, added up. */
  readonly sum: number;
  /** Accounts other than `world` below zero. */
  readonly negative: string[];
  /** Accounts whose balance differs from the sum of their entries (or that have one without the other). */
  readonly mismatched: string[];
  /** Operations that are not a whole balanced set: fewer than two entries, entries not summing to zero, or entries without an operation. */
  readonly unbalanced: string[];
  /** Operations applied (rows in the operations table). */
  readonly operations: number;
  readonly entries: number;
}

/** Double-entry credit accounts: balanced operations applied once, balances, entries. */
export interface LedgerStore {
  /**
   * Applies a ledger operation (a balanced set of entries) atomically: all
   * its entries and balance changes are committed in one transaction, or
   * nothing is. Idempotent by `operation.id`, across handles and processes:
   * the first call that applies an id gets `{ applied: true }`; a later call
   * with the same operation (same fingerprint: kind, entries and memo; the
   * time may differ) writes nothing and gets `{ applied: false }`; a call
   * reusing the id for a different operation is refused with
   * `OperationConflictError`.
   *
   * Enforces exactly the rules of `applyToBalances`, in entry order, and
   * writes nothing when one fails: `InsufficientCreditsError` (an account
   * other than `world` would go below zero; carries its balance),
   * `UnknownAccountError` (debit of an account that never existed, or a
   * malformed account id), `LedgerOverflowError` (a balance would leave
   * the exact-integer range). A malformed operation is refused before the
   * database is touched (`InvalidOperationError`, `InvalidAmountError`). A
   * refused operation leaves its id unused: retrying it later may succeed.
   *
   * Concurrent calls are safe on every backend: operations touching the
   * same accounts are serialised (Postgres: row locks in account order;
   * SQLite: the file's write lock), so no interleaving can overdraw an
   * account. Calls made in the same event-loop turn are group committed
   * (one transaction per batch), each still decided on its own, in call
   * order.
   *
   * @example
   * ```ts
   * const op = operations.transfer(ulid(), agentAccount("lead"), agentAccount("dev-1"), 500, Date.now());
   * await store.applyLedgerOperation(op); // { applied: true }
   * await store.applyLedgerOperation(op); // { applied: false }: a retry applies nothing
   * ```
   */
  applyLedgerOperation(operation: LedgerOperation): Promise<{ applied: boolean }>;
  /** An account's balance from the maintained balance table; 0 for an account that does not exist. */
  balance(account: string): Promise<number>;
  /** Every account that exists, by account id (code-point order on every backend, whatever the database's collation). */
  balances(): Promise<AccountBalance[]>;
  /**
   * Ledger entries, oldest operation first (by time, then operation id in
   * code-point order, then position); of one account, or all; at most
   * `limit` (default 10,000).
   */
  ledgerEntries(options?: { account?: string; limit?: number }): Promise<LedgerEntryRecord[]>;
  /**
   * Applied operations with their entries, oldest first (by time, then id
   * in code-point order):
   * those at or after `since` (ms since epoch), of one `kind` when given,
   * at most `limit` (default 10,000). The spend report reads the `fee`
   * operations: the agent is the debited account, the memo says what was
   * metered (`kind`, `model`, `units`, `priceVersion`). With `ids`, only
   * the operations of those ids (an escrow's `hold:<key>`, to check who
   * held it).
   */
  ledgerOperations(options?: {
    since?: number;
    kind?: OperationKind;
    limit?: number;
    ids?: readonly string[];
  }): Promise<LedgerOperation[]>;
  /** Recomputes every balance from the entries and checks the ledger's invariants. */
  ledgerCheck(): Promise<LedgerCheck>;
}
