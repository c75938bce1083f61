/**
 * Ledger operations: balanced sets of entries, the builders of the kinds the
 * ledger knows, and the fingerprint that makes a retry "the same" operation.
 */
import { createHash } from "node:crypto";
import { agentAccount, assertAccount, escrowAccount, FEES, WORLD } from "./accounts.js";
import { parseAmount } from "./amount.js";
import { InvalidOperationError } from "./errors.js";

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
 * Throws `InvalidOperationError` unless `id` is 1 to 200 characters without
 * a NUL character: Postgres cannot store NUL in text, so such an id was
 * applied on SQLite and failed on Postgres with a `StoreError`.
 */
export function assertOperationId(id: unknown): asserts id is string {
  if (typeof id !== "string" || id.length === 0 || id.length > 200)
    throw new InvalidOperationError(String(id), "the id must be 1 to 200 characters");
  if (id.includes("\u0000"))
    throw new InvalidOperationError(
      id,
      "the id holds a NUL character (\\u0000), which a Postgres store cannot hold; remove it",
    );
}

function op(
  id: string,
  kind: OperationKind,
  entries: Entry[],
  at: number,
  memo: Record<string, string | number> = {},
): LedgerOperation {
  assertOperationId(id);
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
  /**
   * Moves a delegated budget from the delegator into the task's escrow.
   * `sent`: the id of the task the hold pays for, when there is one (a
   * delegation's hold commits with it; `ledger show` checks it), and
   * `sentBy` the agent that signs that task (the delegator, or an auction's
   * auctioneer): only that task, or one it caused, settles the escrow.
   */
  hold: (
    id: string,
    delegator: string,
    task: string,
    amount: unknown,
    at: number,
    sent?: string,
    sentBy?: string,
  ) => {
    const n = parseAmount(amount);
    return op(
      id,
      "hold",
      [
        { account: agentAccount(delegator), delta: -n },
        { account: escrowAccount(task), delta: n },
      ],
      at,
      sent === undefined
        ? { task, delegator }
        : { task, delegator, sent, ...(sentBy === undefined ? {} : { sentBy }) },
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
  /**
   * Settles credits held for a metered call (`hold` into `escrow:<key>`):
   * the whole hold goes back to the agent and `charged` is taken from it as
   * the fee, in one operation, so the agent is never without the hold and
   * unable to pay. A fee: spend reports count `charged` against the agent.
   * `charged` may exceed `held` (the provider counted more than estimated):
   * the rest comes from the agent's balance, or the operation is refused.
   */
  settleHold: (
    id: string,
    agent: string,
    key: string,
    held: unknown,
    charged: unknown,
    at: number,
    memo: Record<string, string | number>,
  ) => {
    const h = parseAmount(held);
    const c = charged === 0 ? 0 : parseAmount(charged);
    const entries: Entry[] = [
      { account: escrowAccount(key), delta: -h },
      { account: agentAccount(agent), delta: h },
    ];
    if (c > 0) {
      entries.push({ account: agentAccount(agent), delta: -c }, { account: FEES, delta: c });
    }
    return op(id, "fee", entries, at, { ...memo, held: h, key });
  },
});
