/**
 * The errors of the credit ledger: those a store reports when it refuses an
 * operation (it enforces the ledger's rules inside its transactions, see
 * `rules.ts`), and the halt of an agent below its minimum balance.
 */
import { ConclaveError } from "../errors/index.js";

/** An amount is not a positive whole number of credits within range. */
export class InvalidAmountError extends ConclaveError {
  constructor(
    readonly value: unknown,
    reason: string,
  ) {
    super(
      "E_INVALID_AMOUNT",
      `invalid amount ${describe(value)}: ${reason}; amounts are whole credits from 1 to ${Number.MAX_SAFE_INTEGER}`,
    );
  }
}

/** An operation names an account that does not exist (or a malformed account id). */
export class UnknownAccountError extends ConclaveError {
  constructor(readonly account: string) {
    super(
      "E_UNKNOWN_ACCOUNT",
      `account "${account}" does not exist; fund it first (conclave ledger fund) or check the id`,
    );
  }
}

/** The operation would take an account below zero (or below its minimum): nothing was done. */
export class InsufficientCreditsError extends ConclaveError {
  constructor(
    readonly account: string,
    readonly balance: number,
    readonly needed: number,
  ) {
    super(
      "E_INSUFFICIENT_CREDITS",
      `account "${account}" holds ${balance} credits and the operation needs ${needed}; nothing was done — fund it or lower the amount`,
    );
  }
}

/** An operation id was reused for a different operation. */
export class OperationConflictError extends ConclaveError {
  constructor(readonly operationId: string) {
    super(
      "E_OPERATION_CONFLICT",
      `operation id "${operationId}" was already used for a different operation; use a fresh id for new work (retries must repeat the same operation exactly)`,
    );
  }
}

/** A balance or total would leave the range of exact integers. */
export class LedgerOverflowError extends ConclaveError {
  constructor(readonly account: string) {
    super(
      "E_LEDGER_OVERFLOW",
      `account "${account}" would exceed ${Number.MAX_SAFE_INTEGER} credits; split the amount or lower the credit rate`,
    );
  }
}

/**
 * An operation is malformed: no id or one over 200 characters, an unknown
 * kind, no entries, entries that do not sum to zero, a memo that is not flat
 * strings and numbers, or a time that is not whole milliseconds. Build
 * operations with `operations.*` from `conclave`'s ledger, which cannot
 * produce these.
 */
export class InvalidOperationError extends ConclaveError {
  constructor(
    readonly operationId: string,
    reason: string,
  ) {
    super(
      "E_INVALID_OPERATION",
      `ledger operation ${describe(operationId)} is malformed: ${reason}; build it with the ledger's operations.* builders`,
    );
  }
}

/** The agent is halted (below its minimum balance): it may not bid, delegate or spend until topped up. */
export class AgentHaltedError extends ConclaveError {
  constructor(readonly agent: string) {
    super(
      "E_AGENT_HALTED",
      `agent "${agent}" is halted below its minimum balance; top it up with \`conclave ledger fund ${agent} <amount>\``,
    );
  }
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  return String(value);
}
