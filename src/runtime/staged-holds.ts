/**
 * The escrow holds one handler stages: a delegation's budget, an auction's
 * clearing price, a root task's budget (`swarm.delegate`). They commit with
 * the handler's completion, in the same store transaction as the tasks they
 * pay for, or not at all: a handler that fails, crash-loops or cannot
 * afford its whole plan leaves no credits in escrow.
 */
import { agentAccount, type LedgerOperation } from "../ledger/index.js";
import { type Budgets, delegationEscrow } from "./budget.js";

export class StagedHolds {
  /** The staged hold operations, in order. */
  readonly operations: LedgerOperation[] = [];
  #delegations = 0;
  /** What the staged holds move out of the agent's own account in all. */
  #held = 0;

  constructor(
    private readonly budgets: Budgets,
    private readonly agentId: string,
  ) {}

  /** The escrow key of the handler's next delegation: stable across retries of the same handler. */
  nextEscrow(stableId: string): string {
    return delegationEscrow(stableId || this.agentId, ++this.#delegations);
  }

  /**
   * `InsufficientCreditsError` (or `AgentHaltedError`) at once when the agent
   * cannot pay `amount` on top of what the staged holds already take (the
   * store checks again at the commit, against concurrent handlers).
   */
  check(amount: number): Promise<void> {
    return this.budgets.checkHold(this.agentId, amount, this.#held + amount);
  }

  /** Stages `hold`, checked first (`check`) when it is paid from the agent's own account. */
  async stage(hold: LedgerOperation, checked = false): Promise<void> {
    const own = agentAccount(this.agentId);
    const paid = -(hold.entries.find((e) => e.account === own && e.delta < 0)?.delta ?? 0);
    if (paid > 0 && !checked) await this.check(paid);
    this.#held += paid;
    this.operations.push(hold);
  }
}
