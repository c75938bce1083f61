import {
  assertAccount,
  type Entry,
  type LedgerOperation,
  type OperationKind,
  WORLD,
} from "../store/ledger-rules.js";
import { parseAmount } from "./amount.js";
import { InvalidOperationError } from "./errors.js";

// The types, the account check, the fingerprint and the rules live below
// this layer, in the store, which enforces them in its transactions.
export {
  applyToBalances,
  assertAccount,
  type Entry,
  type LedgerOperation,
  type OperationKind,
  operationFingerprint,
  WORLD,
} from "../store/ledger-rules.js";

/**
 * Accounts: `agent:<id>` (an agent's credits), `escrow:<task>` (budget held
 * for a delegated task), `treasury` (the swarm's own funds), `fees` (what
 * metered operations cost), and `world`, the one account that may go below
 * zero: minting moves credits from `world`, so `-balance(world)` is what was
 * ever minted and every other account sums to exactly that.
 */
export const TREASURY = "treasury";
export const FEES = "fees";
export const agentAccount = (agent: string) => `agent:${agent}`;
export const escrowAccount = (task: string) => `escrow:${task}`;

function op(
  id: string,
  kind: OperationKind,
  entries: Entry[],
  at: number,
  memo: Record<string, string | number> = {},
): LedgerOperation {
  if (typeof id !== "string" || id.length === 0 || id.length > 200) {
    throw new InvalidOperationError(String(id), "the id must be 1 to 200 characters");
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
