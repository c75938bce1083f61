export {
  accountAgent,
  agentAccount,
  assertAccount,
  escrowAccount,
  FEES,
  TREASURY,
  WORLD,
} from "./accounts.js";
export { addExact, parseAmount } from "./amount.js";
export * from "./errors.js";
export {
  type Entry,
  type LedgerOperation,
  type OperationKind,
  operationFingerprint,
  operations,
} from "./operations.js";
export {
  createPriceTable,
  type PriceTable,
  type PriceTableInput,
  tokenCost,
  toMicros,
} from "./prices.js";
export {
  applyToBalances,
  type LedgerLookup,
  type LedgerOutcome,
  type LedgerPlan,
  type PreparedLedgerOperation,
  planLedgerBatch,
  prepareLedgerOperation,
} from "./rules.js";
export { type SpendLine, type SpendReport, summarizeSpend } from "./spend.js";
