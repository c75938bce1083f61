import { createHash } from "node:crypto";
import { addExact, parseAmount } from "./amount.js";
import {
  InsufficientCreditsError,
  LedgerOverflowError,
  OperationConflictError,
  UnknownAccountError,
} from "./errors.js";

/**
 * Accounts: `agent:<id>` (an agent's credits), `escrow:<task>` (budget held
 * for a delegated task), `treasury` (the swarm's own funds), `fees` (what
 * metered operations cost), and `world`, the one account that may go below
 * zero: minting moves credits from `world`, so `-balance(world)` is what was
 * ever minted and every other account sums to exactly that.
 */
export const WORLD = "world";
export const TREASURY = "treasury";
export const FEES = "fees";
export const agentAccount = (agent: string) => `agent:${agent}`;
export const escrowAccount = (task: string) => `escrow:${task}`;

const ACCOUNT = /^(?:(?:agent|escrow):[A-Za-z0-9_:.-]{1,200}|treasury|fees|world)$/;

export function assertAccount(account: string): void {
  if (typeof account !== "string" || !ACCOUNT.test(account))
    throw new UnknownAccountError(String(account));
}

export type OperationKind = "mint" | "transfer" | "hold" | "release" | "refund" | "fee";

/** One side of an operation: credits into (positive) or out of (negative) an account. */
export interface Entry {
  readonly account: string;
  readonly delta: number;
}

/**
 * A balanced set of entries applied atomically, at most once per `id`.
 * Entries sum to zero. `memo` says why (task, model, units, price version).
 */
export interface LedgerOperation {
  readonly id: string;
  readonly kind: OperationKind;
  readonly entries: readonly Entry[];
  readonly memo: Readonly<Record<string, string | number>>;
  readonly at: number;
}

function op(
  id: string,
  kind: OperationKind,
  entries: Entry[],
  at: number,
  memo: Record<string, string | number> = {},
): LedgerOperation {
  if (typeof id !== "string" || id.length === 0 || id.length > 200) {
    throw new OperationConflictError(String(id));
  }
  for (const e of entries) assertAccount(e.account);
  return Object.freeze({
    id,
    kind,
    entries: Object.freeze(entries),
    memo: Object.freeze(memo),
    at,
  });
}

/** Builders of the balanced operations the ledger knows. Amounts are validated (`InvalidAmountError`). */
export const operations = Object.freeze({
  mint: (id: string, to: string, amount: unknown, at: number) => {
    const n = parseAmount(amount);
    return op(
      id,
      "mint",
      [
        { account: WORLD, delta: -n },
        { account: to, delta: n },
      ],
      at,
    );
  },
  transfer: (
    id: string,
    from: string,
    to: string,
    amount: unknown,
    at: number,
    memo?: Record<string, string | number>,
  ) => {
    const n = parseAmount(amount);
    return op(
      id,
      "transfer",
      [
        { account: from, delta: -n },
        { account: to, delta: n },
      ],
      at,
      memo,
    );
  },
  /** Moves a delegated budget from the delegator into the task's escrow. */
  hold: (id: string, delegator: string, task: string, amount: unknown, at: number) => {
    const n = parseAmount(amount);
    return op(
      id,
      "hold",
      [
        { account: agentAccount(delegator), delta: -n },
        { account: escrowAccount(task), delta: n },
      ],
      at,
      { task, delegator },
    );
  },
  /** Pays the escrow of a task to the worker whose result passed the audit. */
  release: (id: string, task: string, worker: string, amount: unknown, at: number) => {
    const n = parseAmount(amount);
    return op(
      id,
      "release",
      [
        { account: escrowAccount(task), delta: -n },
        { account: agentAccount(worker), delta: n },
      ],
      at,
      { task, worker },
    );
  },
  /** Returns the escrow of a task to its delegator when the result failed the audit. */
  refund: (id: string, task: string, delegator: string, amount: unknown, at: number) => {
    const n = parseAmount(amount);
    return op(
      id,
      "refund",
      [
        { account: escrowAccount(task), delta: -n },
        { account: agentAccount(delegator), delta: n },
      ],
      at,
      { task, delegator },
    );
  },
  /** Charges an agent for a metered operation (LLM tokens, tool calls). */
  fee: (
    id: string,
    agent: string,
    amount: unknown,
    at: number,
    memo: Record<string, string | number>,
  ) => {
    const n = parseAmount(amount);
    return op(
      id,
      "fee",
      [
        { account: agentAccount(agent), delta: -n },
        { account: FEES, delta: n },
      ],
      at,
      memo,
    );
  },
});

/** What makes two operations "the same" for idempotency: everything but the time. */
export function operationFingerprint(operation: LedgerOperation): string {
  const body = JSON.stringify([
    operation.kind,
    operation.entries.map((e) => [e.account, e.delta]),
    Object.entries(operation.memo).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  ]);
  return createHash("sha256").update(body).digest("hex");
}

/**
 * Applies `operation` to `balances` (mutated only on success), enforcing the
 * rules every ledger backend shares: entries balance, no account but `world`
 * goes negative, no value leaves the exact-integer range, and only `mint` and
 * `transfer` may create an account that does not exist yet (escrow and fee
 * accounts are created by their first credit). The SQL backends implement
 * the same rules in one transaction; this is their reference model.
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
  if (sum !== 0) throw new Error(`operation ${operation.id} does not balance (sum ${sum})`);
  for (const [account, value] of next) balances.set(account, value);
}
