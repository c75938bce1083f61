export { addExact, parseAmount } from "./amount.js";
export * from "./errors.js";
export {
  agentAccount,
  applyToBalances,
  assertAccount,
  type Entry,
  escrowAccount,
  FEES,
  type LedgerOperation,
  type OperationKind,
  operationFingerprint,
  operations,
  TREASURY,
  WORLD,
} from "./operations.js";
export {
  createPriceTable,
  type PriceTable,
  type PriceTableInput,
  tokenCost,
  toMicros,
} from "./prices.js";
export { type SpendLine, type SpendReport, summarizeSpend } from "./spend.js";
