import type { Clock } from "../core/clock.js";
import { ConfigError, toError, UnpricedModelError } from "../errors/index.js";
import {
  AgentHaltedError,
  agentAccount,
  escrowAccount,
  InsufficientCreditsError,
  type LedgerOperation,
  OperationConflictError,
  operations,
  type PriceTable,
  parseAmount,
  tokenCost,
} from "../ledger/index.js";
import type { Store, TaskOutcome } from "../store/port.js";
import type { Envelope } from "../wire/envelope.js";
import { ulid } from "../wire/ulid.js";
import type { SwarmEvent } from "./events.js";

/** An agent's account settings. */
export interface AgentBudget {
  /** Credits minted once, the first time the swarm starts. */
  readonly initial: number;
  /** Below this the agent is halted until topped up. */
  readonly minBalance: number;
}

/** What a metered operation costs: credits directly, or a model's tokens at the price table. */
export type SpendRequest =
  | { readonly kind: string; readonly credits: number; readonly units?: number }
  | {
      readonly kind: string;
      readonly model: string;
      readonly inputTokens: number;
      readonly outputTokens: number;
    };

/** Audit entry kind of an operator's top-up (`Budgets.fund`). */
export const FUNDED_KIND = "ledger.funded";

/** Headers a delegated task carries so whoever audits it can settle its escrow. */
export const EscrowHeaders = Object.freeze({
  key: "conclave-escrow",
  amount: "conclave-escrow-amount",
  delegator: "conclave-escrow-delegator",
});

/** The escrow key of the `n`-th delegation (from 1) staged under `stableId` (a task id). */
export const delegationEscrow = (stableId: string, n: number): string => `${stableId}.${n}`;

/**
 * The one settlement of an escrow (operation id `settle:<key>`): released
 * to the worker on a pass, refunded to the delegator on a fail.
 */
export function settlement(
  escrowKey: string,
  amount: number,
  verdict: "pass" | "fail",
  party: string,
  at: number,
): LedgerOperation {
  const id = `settle:${escrowKey}`;
  return verdict === "pass"
    ? operations.release(id, escrowKey, party, amount, at)
    : operations.refund(id, escrowKey, party, amount, at);
}

/** A delegation's escrow, as carried by its tasks. */
export interface Escrow {
  /** The escrow account's name in the ledger (`escrow:<key>`). */
  readonly key: string;
  /** Credits held for the delegation. */
  readonly amount: number;
  /** The agent the credits came from, refunded when the work fails. */
  readonly delegator: string;
}

/** Why a task's escrow headers settle nothing: the ledger shows no such hold. */
const notHeld = (escrow: Escrow): string =>
  `it names escrow ${escrow.key} as held by ${escrow.delegator}, which the ledger does not show (its headers were copied, not delegated): it settles nothing`;

/** The task whose escrow headers would settle an escrow: what its envelope says of it. */
export interface EscrowCarrier {
  readonly id: string;
  /** The agent that sent it (the envelope's signer). */
  readonly from: string;
  /** The task it descends from directly. */
  readonly cause?: string;
}

/** How far a settling task may descend from the delegated one (the store is read once per step). */
const MAX_ESCROW_DEPTH = 64;

const notDescended = (escrow: Escrow, carrier: EscrowCarrier, sent: string): string =>
  `task ${carrier.id} from ${carrier.from} names escrow ${escrow.key}, but it is neither the delegated task ${sent} nor descends from it (its headers were copied): it settles nothing`;

/** Header of a task awarded by auction: the auction id (the market's `AuctionHeaders.auction`). */
export const AUCTION_HEADER = "conclave-auction";

/** The escrow key of an auction's clearing price. */
export const auctionEscrowKey = (auction: string): string => `auction-${auction}`;

/**
 * Reads the escrow headers of an envelope. An auction's clearing price is
 * carried by the task the auction awarded alone (the one whose
 * `conclave-auction` header names it): the market releases it when that
 * task completes and refunds it when that task dies. A task it caused (a
 * call, a tool, a submitted task, which inherit its escrow headers) holds
 * none of it: its death refunds nothing, its auditor settles nothing.
 */
export function escrowOf(envelope: Envelope | undefined): Escrow | undefined {
  const h = envelope?.headers;
  const key = h?.[EscrowHeaders.key];
  const amount = Number(h?.[EscrowHeaders.amount]);
  const delegator = h?.[EscrowHeaders.delegator];
  if (!key || !delegator || !Number.isSafeInteger(amount) || amount < 1) return undefined;
  if (key.startsWith(auctionEscrowKey("")) && key !== auctionEscrowKey(h?.[AUCTION_HEADER] ?? "")) {
    return undefined;
  }
  return { key, amount, delegator };
}

export interface BudgetHost {
  readonly store: Store;
  readonly clock: Clock;
  readonly prices: PriceTable | undefined;
  emit(event: SwarmEvent): void;
  /** Stops an agent taking tasks (its queued work goes to the others); must not wait for its in-flight tasks. */
  halt(agentId: string): void;
  /** Lets a halted agent take tasks again. */
  resume(agentId: string): void;
}

/**
 * Per-agent credit budgets over the store's double-entry ledger. Every
 * debit is an idempotent ledger operation that fails closed
 * (`InsufficientCreditsError`) before any work; an agent that falls below its
 * minimum balance is halted at once and resumes when topped up.
 */
export class Budgets {
  readonly #budgets = new Map<string, AgentBudget>();
  readonly #halted = new Set<string>();
  /**
   * Call holds open in this process, by key: a hold is a call's most, mostly
   * returned at its charge, so the halt judges the balance with them put back.
   */
  readonly #openCalls = new Map<string, { agent: string; credits: number }>();
  /** Every agent halted at some point during this node's life (for reports). */
  readonly everHalted = new Set<string>();

  constructor(private readonly host: BudgetHost) {}

  /** Meters an agent hosted on this node. */
  add(agentId: string, budget: AgentBudget): void {
    this.#budgets.set(agentId, budget);
  }

  has(agentId: string): boolean {
    return this.#budgets.has(agentId);
  }

  isHalted(agentId: string): boolean {
    return this.#halted.has(agentId);
  }

  /** Mints each agent's initial credits, once per store, and halts those already below their minimum. */
  async start(): Promise<void> {
    for (const agent of this.#budgets.keys()) await this.open(agent);
  }

  /**
   * Mints one metered agent's initial credits, once per store, and halts it
   * if it is already below its minimum: at start, or when the agent joins a
   * running node (a pool's worker).
   */
  async open(agentId: string): Promise<void> {
    const budget = this.#budgets.get(agentId);
    if (budget === undefined) return;
    if (budget.initial > 0) {
      const at = this.host.clock.now();
      try {
        await this.host.store.applyLedgerOperation(
          operations.mint(`budget-initial:${agentId}`, agentAccount(agentId), budget.initial, at),
        );
      } catch (error) {
        // Minted before with another `initial` (the config changed since, or
        // another node hosts the agent with its own): credits are minted
        // once, the first time, so that mint stands and the start goes on.
        if (!(error instanceof OperationConflictError)) throw error;
      }
    }
    await this.#checkBalance(agentId);
  }

  /**
   * Mints `credits` to an agent (an operator's top-up), recorded in the
   * audit log with who did it (`ledger.funded`); a halted agent hosted here
   * resumes at once (elsewhere, at its node's next poll). Returns the
   * agent's balance.
   */
  async fund(agentId: string, credits: number, by: string): Promise<number> {
    await fundAgent(this.host.store, agentId, credits, by, this.host.clock);
    await this.#checkBalance(agentId);
    return this.balance(agentId);
  }

  /** Throws `AgentHaltedError` when the agent may not bid, delegate or spend. */
  assertActive(agentId: string): void {
    if (this.#halted.has(agentId)) throw new AgentHaltedError(agentId);
  }

  /**
   * Charges a metered operation to the agent. Idempotent by `operationId`.
   * Fails closed with `InsufficientCreditsError` (nothing charged) when the
   * agent cannot pay; halts the agent when the charge takes it below its
   * minimum. Returns the credits charged (0 for an agent without a budget:
   * it is not metered).
   */
  async spend(agentId: string, operationId: string, request: SpendRequest): Promise<number> {
    this.assertActive(agentId);
    // A bad charge is refused metered or not: the mistake shows before the agent has a budget.
    if ("credits" in request) {
      if (request.credits !== 0) parseAmount(request.credits);
      const units = request.units;
      if (units !== undefined && (!Number.isSafeInteger(units) || units < 0)) {
        throw new ConfigError(
          `spend units must be a whole number ≥ 0 (tokens, calls), got ${String(units)}; leave units out when there is nothing to count`,
        );
      }
    }
    // An agent without a budget is not metered.
    if (!this.#budgets.has(agentId)) return 0;
    const credits = "credits" in request ? request.credits : this.#price(request);
    if (credits === 0) return 0;
    const memo: Record<string, string | number> =
      "credits" in request
        ? { kind: request.kind, ...(request.units === undefined ? {} : { units: request.units }) }
        : {
            kind: request.kind,
            model: request.model,
            inputTokens: request.inputTokens,
            outputTokens: request.outputTokens,
            priceVersion: this.host.prices?.version ?? "none",
          };
    await this.host.store.applyLedgerOperation(
      operations.fee(operationId, agentId, credits, this.host.clock.now(), memo),
    );
    await this.#checkBalance(agentId);
    return credits;
  }

  /**
   * Why `escrow`, as `carrier`'s headers name it (which any sender can
   * write), must not be settled by `carrier`; undefined when it may be.
   * The ledger's `hold:<key>` must name that delegator and have put at
   * least that amount in; and `carrier` must be the task the hold paid for
   * (its `sent`, signed by its `sentBy`) or descend from it, each task on
   * the way sent by the agent the store shows completed its cause. A task
   * copying a delegation's headers is neither: its death would refund the
   * escrow early, its auditor's verdict would pay whoever it names, and the
   * real worker would go unpaid.
   */
  async whyNotHeld(escrow: Escrow, carrier: EscrowCarrier): Promise<string | undefined> {
    const { store } = this.host;
    const [hold] = await store.ledgerOperations({ ids: [`hold:${escrow.key}`] });
    const put = hold?.entries.find((e) => e.account === escrowAccount(escrow.key))?.delta ?? 0;
    if (
      hold?.kind !== "hold" ||
      hold.memo["delegator"] !== escrow.delegator ||
      put < escrow.amount
    ) {
      return notHeld(escrow);
    }
    const sent = hold.memo["sent"];
    // A hold made without its task's id (an older store's) is checked as before.
    if (typeof sent !== "string") return undefined;
    // Who signs the task the hold paid for; an older store's holds do not say.
    const sentBy = hold.memo["sentBy"];
    let task: EscrowCarrier | undefined = carrier;
    for (let depth = 0; task !== undefined && depth <= MAX_ESCROW_DEPTH; depth++) {
      if (task.id === sent) {
        return sentBy === undefined || task.from === sentBy
          ? undefined
          : notDescended(escrow, carrier, sent);
      }
      const cause: TaskOutcome | undefined =
        task.cause === undefined ? undefined : await store.taskOutcome(task.cause);
      if (cause?.status !== "completed" || cause.agent !== task.from) break;
      task =
        cause.sender === undefined
          ? undefined
          : {
              id: cause.taskId,
              from: cause.sender,
              ...(cause.cause === undefined ? {} : { cause: cause.cause }),
            };
    }
    return notDescended(escrow, carrier, sent);
  }

  /**
   * {@link settle}s the escrow `carrier`'s headers name, once the ledger and
   * the store show it may ({@link whyNotHeld}); returns why it settled
   * nothing, or undefined when it settled.
   */
  async settleEscrow(
    escrow: Escrow,
    verdict: "pass" | "fail",
    party: string,
    carrier: EscrowCarrier,
  ): Promise<string | undefined> {
    const problem = await this.whyNotHeld(escrow, carrier);
    if (problem === undefined) await this.settle(escrow.key, escrow.amount, verdict, party);
    return problem;
  }

  /** Moves a delegated budget from the delegator into the task's escrow. */
  async hold(delegator: string, escrowKey: string, amount: number): Promise<void> {
    this.assertActive(delegator);
    await this.host.store.applyLedgerOperation(
      operations.hold(`hold:${escrowKey}`, delegator, escrowKey, amount, this.host.clock.now()),
    );
    await this.#checkBalance(delegator);
  }

  /**
   * Checks a delegation's hold before it is staged (it commits later, with
   * the task it pays for, in the delegating handler's completion: no hold
   * without its task, none left behind by a handler that fails), so a
   * handler learns at once that it cannot pay. `pending` is what this
   * handler's delegations hold in all, this one included:
   * `InsufficientCreditsError` when the balance is below it. The store
   * checks again when it commits (concurrent handlers of the same agent),
   * and then the whole completion fails.
   */
  async checkHold(delegator: string, amount: number, pending: number): Promise<void> {
    this.assertActive(delegator);
    parseAmount(amount);
    const balance = await this.balance(delegator);
    if (balance < pending) {
      throw new InsufficientCreditsError(agentAccount(delegator), balance, pending);
    }
  }

  /** After holds committed with a task (`stageHold`): halts the delegator if it went below its minimum. */
  async held(delegator: string): Promise<void> {
    await this.#checkBalance(delegator);
  }

  /**
   * Settles an escrow after an audit: released to the worker on a pass,
   * refunded to the delegator on a fail. At most one settlement applies per
   * escrow, however often it is asked for; one asked differently after the
   * first (another verdict, party or amount) is not applied, and emits
   * `escrow.settled_before`.
   */
  async settle(
    escrowKey: string,
    amount: number,
    verdict: "pass" | "fail",
    party: string,
  ): Promise<void> {
    const operation = settlement(escrowKey, amount, verdict, party, this.host.clock.now());
    try {
      await this.host.store.applyLedgerOperation(operation);
    } catch (error) {
      if (!(error instanceof OperationConflictError)) throw error;
      // Already settled the other way (e.g. released, then a later stage
      // dead-lettered): the first settlement stands, and this one is said.
      this.host.emit({ type: "escrow.settled_before", escrow: escrowKey, verdict, party });
      return;
    }
    await this.#checkBalance(party);
  }

  /**
   * Holds `credits` of the agent's balance for one metered call under `key`
   * (an escrow account of its own), atomically: concurrent holds can never
   * together exceed the balance. The same call asked again after a crash
   * reuses its hold while it is still open. A call run again after its
   * hold was settled (a failed attempt released it, then the task was
   * retried; or a crash came between the charge and the journal's record)
   * is a new call: it holds anew, under `<key>.2`, `<key>.3`…, and is
   * refused when the agent can no longer cover it. Returns the key held
   * under, which the charge or release must use.
   */
  async holdCall(agentId: string, key: string, credits: number): Promise<string> {
    this.assertActive(agentId);
    if (credits === 0 || !this.#budgets.has(agentId)) return key;
    const { store, clock } = this.host;
    for (let attempt = 1; ; attempt++) {
      const held = attempt === 1 ? key : `${key}.${attempt}`;
      let fresh = false;
      try {
        const hold = operations.hold(`hold:${held}`, agentId, held, credits, clock.now());
        fresh = (await store.applyLedgerOperation(hold)).applied;
      } catch (error) {
        // Held before for another amount (prices changed since): a new hold.
        if (!(error instanceof OperationConflictError)) throw error;
      }
      const open = fresh ? credits : await store.balance(escrowAccount(held));
      if (open === credits) {
        // No halt for a hold: see #openCalls.
        this.#openCalls.set(held, { agent: agentId, credits });
        return held;
      }
      // A stale hold of another amount: what it still holds goes back to the agent.
      if (open > 0) await this.releaseCall(agentId, held, open);
    }
  }

  /**
   * Settles a call's hold: the hold returns to the agent and `charged` is
   * taken as the fee (with `memo`: model, tokens, price version), in one
   * operation, once per `key`. A charge above the hold takes the rest from
   * the balance as far as it goes. Returns the credits charged.
   */
  async settleCall(
    agentId: string,
    key: string,
    held: number,
    charged: number,
    memo: Record<string, string | number>,
  ): Promise<number> {
    this.#openCalls.delete(key);
    if (!this.#budgets.has(agentId)) return 0;
    const at = this.host.clock.now();
    const settle = async (amount: number) =>
      held === 0 && amount === 0
        ? undefined
        : held === 0
          ? this.host.store.applyLedgerOperation(
              operations.fee(`settle:${key}`, agentId, amount, at, memo),
            )
          : this.host.store.applyLedgerOperation(
              operations.settleHold(`settle:${key}`, agentId, key, held, amount, at, memo),
            );
    let taken = charged;
    try {
      await settle(taken);
    } catch (error) {
      if (error instanceof OperationConflictError) return 0;
      if (!(error instanceof InsufficientCreditsError) || charged <= held) throw error;
      // More than held and more than the agent has: take what there is.
      taken = held + Math.max(0, await this.balance(agentId));
      await settle(taken);
    }
    await this.#checkBalance(agentId);
    return taken;
  }

  /** Releases a call's hold unspent (the call was not made, or failed unpaid). Once per `key`. */
  async releaseCall(agentId: string, key: string, held: number): Promise<void> {
    this.#openCalls.delete(key);
    if (held === 0 || !this.#budgets.has(agentId)) return;
    try {
      await this.host.store.applyLedgerOperation(
        operations.refund(`settle:${key}`, key, agentId, held, this.host.clock.now()),
      );
    } catch (error) {
      if (!(error instanceof OperationConflictError)) throw error;
    }
    await this.#checkBalance(agentId);
  }

  /** The balance of an agent's account (0 when it has none yet). */
  balance(agentId: string): Promise<number> {
    return this.host.store.balance(agentAccount(agentId));
  }

  /** Resumes halted agents whose balance is back above their minimum (someone funded them). */
  async poll(): Promise<void> {
    for (const agent of [...this.#halted]) await this.#checkBalance(agent);
  }

  async #checkBalance(agentId: string): Promise<void> {
    const budget = this.#budgets.get(agentId);
    if (!budget) return;
    let balance: number;
    try {
      balance = await this.host.store.balance(agentAccount(agentId));
    } catch (error) {
      this.host.emit({
        type: "error",
        error: `reading the balance of ${agentId}: ${toError(error).message}`,
      });
      return;
    }
    for (const call of this.#openCalls.values()) {
      if (call.agent === agentId) balance += call.credits;
    }
    if (balance < budget.minBalance && !this.#halted.has(agentId)) {
      this.#halted.add(agentId);
      this.everHalted.add(agentId);
      this.host.emit({
        type: "agent.halted",
        agent: agentId,
        balance,
        minBalance: budget.minBalance,
      });
      this.host.halt(agentId);
    } else if (balance >= budget.minBalance && this.#halted.has(agentId)) {
      this.#halted.delete(agentId);
      this.host.emit({ type: "agent.resumed", agent: agentId, balance });
      this.host.resume(agentId);
    }
  }

  #price(request: { model: string; inputTokens: number; outputTokens: number }): number {
    const prices = this.host.prices;
    if (!prices?.models.has(request.model)) {
      throw new UnpricedModelError(request.model, prices?.version);
    }
    return tokenCost(prices, request.model, request);
  }
}

/**
 * Mints `credits` to an agent's account and records who did it in the audit
 * log (`ledger.funded`): an operator's top-up, from the dashboard, the
 * library (`swarm.fund`) or `conclave ledger fund` alike. Returns the
 * operation's id.
 */
export async function fundAgent(
  store: Pick<Store, "applyLedgerOperation" | "appendAudit">,
  agentId: string,
  credits: number,
  by: string,
  clock: Clock,
): Promise<string> {
  const at = clock.now();
  const id = `fund:${ulid(clock)}`;
  await store.applyLedgerOperation(operations.mint(id, agentAccount(agentId), credits, at));
  await store.appendAudit({
    kind: FUNDED_KIND,
    data: { agent: agentId, credits, by, operation: id, at },
  });
  return id;
}
