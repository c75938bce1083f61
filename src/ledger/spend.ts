import { addExact } from "./amount.js";
import { LedgerOverflowError } from "./errors.js";
import type { LedgerOperation } from "./operations.js";

/** What one agent or one model spent. */
export interface SpendLine {
  /** Whole credits charged. */
  readonly credits: number;
  /** Fee operations counted. */
  readonly operations: number;
  /** Metered units (`memo.units`: tokens, calls) added up. */
  readonly units: number;
}

/** Spend per agent and per model, from fee operations. */
export interface SpendReport {
  readonly total: number;
  /** By agent id (the debited `agent:<id>` account, without the prefix). */
  readonly agents: Readonly<Record<string, SpendLine>>;
  /**
   * By `memo.model`; a fee without a model (a tool call, `ctx.spend`) is
   * listed under its `memo.kind` in parentheses, e.g. `"(tool)"`.
   */
  readonly models: Readonly<Record<string, SpendLine>>;
}

const EMPTY: SpendLine = Object.freeze({ credits: 0, operations: 0, units: 0 });

/**
 * Adds up the `fee` operations among `operations` (other kinds are
 * ignored), e.g. those `store.ledgerOperations({ kind: "fee" })` returns.
 * Exact integer sums; `LedgerOverflowError` if one would leave the range.
 *
 * @example
 * ```ts
 * const report = summarizeSpend(await store.ledgerOperations({ kind: "fee", since }));
 * report.models["gpt-4o-mini"]?.credits;
 * ```
 */
export function summarizeSpend(operations: readonly LedgerOperation[]): SpendReport {
  // Maps, not object literals: an agent or model named "constructor" or
  // "__proto__" would read Object.prototype's member as its line.
  const agents = new Map<string, SpendLine>();
  const models = new Map<string, SpendLine>();
  let total = 0;
  for (const operation of operations) {
    if (operation.kind !== "fee") continue;
    const debit = operation.entries.find((e) => e.delta < 0 && e.account.startsWith("agent:"));
    if (debit === undefined) continue;
    const credits = -debit.delta;
    const units = operation.memo["units"];
    const counted = typeof units === "number" && Number.isSafeInteger(units) ? units : 0;
    const model = operation.memo["model"];
    const modelKey =
      typeof model === "string" ? model : `(${String(operation.memo["kind"] ?? "other")})`;
    const agent = debit.account.slice("agent:".length);
    agents.set(agent, add(agents.get(agent), credits, counted, debit.account));
    models.set(modelKey, add(models.get(modelKey), credits, counted, debit.account));
    total = exact(addExact(total, credits), debit.account);
  }
  return Object.freeze({
    total,
    // fromEntries defines own properties, "__proto__" included.
    agents: Object.freeze(Object.fromEntries(agents)),
    models: Object.freeze(Object.fromEntries(models)),
  });
}

function add(
  line: SpendLine | undefined,
  credits: number,
  units: number,
  account: string,
): SpendLine {
  const current = line ?? EMPTY;
  return Object.freeze({
    credits: exact(addExact(current.credits, credits), account),
    operations: current.operations + 1,
    units: exact(addExact(current.units, units), account),
  });
}

function exact(value: number | undefined, account: string): number {
  if (value === undefined) throw new LedgerOverflowError(account);
  return value;
}
