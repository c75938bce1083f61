/**
 * The gateway's per-task escrows (`gateway.pricePerTask`, held from
 * `gateway.as` as `escrow:gateway.<task id>`), settled when their tasks end
 * whether or not any caller asks again: released to the worker that
 * completed the task, refunded to the gateway's agent when it was
 * dead-lettered.
 *
 * A caller that never polls (A2A `returnImmediately`, an MCP call answered
 * "still running", a stream whose client left) must not leave the price in
 * escrow for good. So the gateway watches the tasks it started, reading
 * their outcomes from the store every `pollMs`; and when it opens, it takes
 * up the escrows a previous run left open (read from the ledger), so a
 * restart loses none. Settling is idempotent (one ledger operation per
 * escrow), so a caller's read settling the same escrow first is harmless.
 */
import { ClosedError } from "../errors/index.js";
import { escrowAccount } from "../ledger/index.js";
import type { Swarm } from "../runtime/swarm.js";
import type { TaskOutcome } from "../store/ports/tasks.js";

/** How often the outcomes of the tasks still held in escrow are read. */
export const SETTLE_POLL_MS = 500;

/** The escrow key of a task started from outside. */
export function gatewayEscrowKey(taskId: string): string {
  return `gateway.${taskId}`;
}

/** The ledger account names of the gateway's escrows start with this. */
const ACCOUNT_PREFIX = escrowAccount(gatewayEscrowKey(""));

/** Settles the escrows of the tasks a front door started, once they end. */
export class GatewayEscrows {
  readonly #swarm: Swarm;
  readonly #as: string;
  readonly #pollMs: number;
  /** Task id → credits held for it, of tasks not yet known to have ended. */
  readonly #open = new Map<string, number>();
  #recovered = false;
  #checked = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /**
   * Starts watching: the first check takes up the escrows left open in the
   * store (by this gateway's earlier runs), then each check settles those
   * whose task has ended. Checks run only while some escrow is open.
   *
   * @param as The gateway's agent (`gateway.as`), who paid the escrows.
   */
  constructor(swarm: Swarm, as: string, pollMs = SETTLE_POLL_MS) {
    this.#swarm = swarm;
    this.#as = as;
    this.#pollMs = pollMs;
    this.#arm();
  }

  /** Watches task `taskId`, for which `amount` credits are held, until it ends. */
  watch(taskId: string, amount: number): void {
    if (amount <= 0 || this.#closed) return;
    this.#open.set(taskId, amount);
    this.#arm();
  }

  /**
   * Settles what task `taskId`'s escrow holds by how the task ended: to the
   * worker that completed it, back to the gateway's agent if it was
   * dead-lettered. Applied once per escrow however often asked; a task
   * with no gateway escrow (started inside the swarm, or while the gateway
   * had no price) has nothing to settle.
   */
  async settle(taskId: string, outcome: TaskOutcome): Promise<void> {
    if (this.#swarm.budgets.has(this.#as)) {
      const key = gatewayEscrowKey(taskId);
      // What the escrow holds, not today's price: an earlier run may have
      // held another price, and a task the gateway did not start holds none.
      const held = await this.#swarm.store.balance(escrowAccount(key));
      if (held > 0) {
        const completed = outcome.status === "completed";
        await this.#swarm.budgets.settle(
          key,
          held,
          completed ? "pass" : "fail",
          completed ? outcome.agent : this.#as,
        );
      }
    }
    this.#open.delete(taskId);
  }

  /** Stops watching; escrows still open are taken up by the next gateway that opens. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    if (this.#closed || this.#timer !== undefined) return;
    if (this.#recovered && this.#open.size === 0) return;
    // The first check at once; the next ones (a failed recovery's retry too) at the polling pace.
    this.#timer = setTimeout(() => void this.#check(), this.#checked ? this.#pollMs : 0);
    this.#timer.unref();
  }

  async #check(): Promise<void> {
    this.#checked = true;
    try {
      if (!this.#recovered) await this.#recover();
      for (const taskId of [...this.#open.keys()]) {
        if (this.#closed) return;
        await this.#settleIfEnded(taskId);
      }
    } catch (error) {
      // The swarm closed: the next gateway takes up what is still open.
      if (error instanceof ClosedError) this.close();
      // Anything else (the store unreachable for a while): the next check tries again.
    } finally {
      this.#timer = undefined;
      this.#arm();
    }
  }

  /** Settles one escrow if its task has ended; a failure other than a closed swarm waits for the next check. */
  async #settleIfEnded(taskId: string): Promise<void> {
    try {
      const outcome = await this.#swarm.outcome(taskId);
      if (outcome !== undefined) await this.settle(taskId, outcome);
    } catch (error) {
      if (error instanceof ClosedError) throw error;
    }
  }

  /** Takes up the escrows still holding credits in the ledger. */
  async #recover(): Promise<void> {
    for (const { account, balance } of await this.#swarm.store.balances()) {
      if (balance > 0 && account.startsWith(ACCOUNT_PREFIX)) {
        const taskId = account.slice(ACCOUNT_PREFIX.length);
        if (!this.#open.has(taskId)) this.#open.set(taskId, balance);
      }
    }
    this.#recovered = true;
  }
}
