/**
 * The ledger's errors. Those the store reports when it refuses an operation
 * are defined next to the store (`src/store/ledger-errors.ts`, which may not
 * import from this layer) and re-exported here, so callers import every
 * ledger error from one place.
 */
import { ConclaveError } from "../errors/index.js";

export {
  InsufficientCreditsError,
  InvalidAmountError,
  InvalidOperationError,
  LedgerOverflowError,
  OperationConflictError,
  UnknownAccountError,
} from "../store/ledger-errors.js";

/** The agent is halted (below its minimum balance): it may not bid, delegate or spend until topped up. */
export class AgentHaltedError extends ConclaveError {
  constructor(readonly agent: string) {
    super(
      "E_AGENT_HALTED",
      `agent "${agent}" is halted below its minimum balance; top it up with \`conclave ledger fund ${agent} <amount>\``,
    );
  }
}
