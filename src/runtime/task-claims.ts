/**
 * At most one live delivery of a task runs its handler. A delivery claims
 * its task id in the store (shared by every process) before the handler
 * runs; a second delivery of the same id while the first is alive — a
 * redelivery while the first handler still works on another process, or
 * the same task enqueued twice (an enqueue abandoned after a late confirm
 * and its retry, on RabbitMQ) — finds the claim held and waits, keeping its
 * own lease, without running the work (and its paid model calls) again:
 * when the first completes it is acked as a duplicate; when the first's
 * claim lapses (its process died) it claims the task and runs it.
 *
 * A claim lives as long as the delivery's lease: it expires `ackWaitMs`
 * after it was made and is extended every third of that while the handler
 * runs (as `LeaseKeeper` extends the delivery), so an owner that died
 * blocks its task for at most about one ack wait, the same time the broker
 * takes to redeliver it.
 *
 * On the embedded transport every delivery happens in this process, so its
 * claims are kept in the process (`processClaims`), not in the store: no
 * row is written per task, and nothing needs extending.
 */
import type { Clock } from "../core/clock.js";
import { ClosedError, toError } from "../errors/index.js";
import type { TaskClaim, TaskClaimStore, TaskStore } from "../store/port.js";
import type { Delivery } from "../transport/port.js";
import type { SwarmEvent } from "./events.js";

/** Where claims report a held delivery and their own failures. */
interface EventSink {
  emit(event: SwarmEvent): void;
}

/** A claim this node holds on a task id while its handler runs. */
export interface HeldClaim {
  /**
   * The handler's outcome is committed (or the task needs no run): stop
   * extending the claim. It is left to lapse at its expiry rather than
   * deleted (a write per task saved); a later delivery that finds it finds
   * the task completed, too.
   */
  done(): void;
  /** The handler failed or gave the task back: delete the claim, so its next delivery runs at once. */
  release(): void;
}

/** The claims held with one ack wait, extended together by one timer. */
interface ClaimGroup {
  readonly held: Set<string>;
  cancel: (() => void) | undefined;
}

/**
 * A held claim: a class rather than closures, one small object per task
 * (claims in flight outlive a young garbage collection).
 */
class Claim implements HeldClaim {
  #ended = false;

  constructor(
    private readonly claims: TaskClaims,
    private readonly group: ClaimGroup,
    private readonly taskId: string,
  ) {}

  done(): void {
    this.#end(false);
  }

  release(): void {
    this.#end(true);
  }

  #end(release: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    this.claims.ended(this.group, this.taskId, release);
  }
}

/** How often expired claims are deleted from the store. */
const PRUNE_EVERY_MS = 60_000;

/** The claim owners alive in this process (every node's `TaskClaims` until closed). */
const liveOwners = new Set<string>();

/**
 * The claims of nodes on the embedded transport (`exclusive`), by task id:
 * their owner. Every delivery of such a node's tasks happens in this
 * process, so a claim needs to be seen by this process only: it is kept
 * here, not written to the store (a row per task saved). What another
 * process left in the store is a dead process's, ignored as before.
 */
const processClaims = new Map<string, string>();

/** Claims of the tasks this node's pipelines run, and the wait of a second delivery. */
export class TaskClaims {
  /** This node's name in the claims it writes: unique per node instance. */
  readonly owner: string;
  readonly #store: TaskClaimStore & Pick<TaskStore, "isCompleted">;
  readonly #clock: Clock;
  readonly #events: EventSink;
  /** Task ids claimed (or being claimed) here: a second local delivery waits without asking the store. */
  readonly #local = new Set<string>();
  readonly #groups = new Map<number, ClaimGroup>();
  #lastPrune: number;
  #closed = false;

  /** Every delivery of this node's tasks reaches this process only (the embedded transport). */
  readonly #exclusive: boolean;

  constructor(deps: {
    readonly store: TaskClaimStore & Pick<TaskStore, "isCompleted">;
    readonly clock: Clock;
    readonly events: EventSink;
    readonly owner: string;
    /**
     * The transport delivers only within this process (the embedded one):
     * a claim held by an owner not alive here is a dead process's, left by
     * a crash, and is taken over at once instead of waited out (up to an
     * ack wait: 2 minutes for an LLM swarm's tasks after `kill -9`).
     */
    readonly exclusive?: boolean;
  }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#events = deps.events;
    this.owner = deps.owner;
    this.#exclusive = deps.exclusive ?? false;
    this.#lastPrune = deps.clock.now();
    liveOwners.add(this.owner);
  }

  /**
   * Claims `taskId` for this node, waiting while another live delivery holds
   * it (keeping `delivery`'s lease). Resolves with the claim, or undefined
   * when the task is completed (by an earlier delivery or by the one waited
   * for): the caller acks it as a duplicate and runs nothing.
   */
  async acquire(
    taskId: string,
    ackWaitMs: number,
    delivery: Pick<Delivery, "working">,
    agent: string,
  ): Promise<HeldClaim | undefined> {
    this.#maybePrune();
    const poll = Math.min(500, Math.max(10, Math.floor(ackWaitMs / 6)));
    let reported = false;
    for (;;) {
      let owner = "this node";
      if (this.#exclusive && !this.#local.has(taskId)) {
        const holder = processClaims.get(taskId);
        if (holder !== undefined && liveOwners.has(holder)) {
          owner = holder;
        } else {
          return this.#claimInProcess(taskId, ackWaitMs);
        }
      } else if (!this.#local.has(taskId)) {
        this.#local.add(taskId);
        const now = this.#clock.now();
        // Both asked at once (each store batches its calls of one turn), both
        // awaited before either failure is thrown: none is left unhandled.
        // Plain awaits rather than Promise.allSettled: this runs per task.
        const claiming = this.#store.claimTask(taskId, this.owner, {
          now,
          expiresAt: now + ackWaitMs,
        });
        const checking = this.#store.isCompleted(taskId);
        // Handled from now on: it may fail while the claim is still awaited
        // (a rejection with no handler for a turn would crash the process).
        checking.catch(() => undefined);
        let claim: TaskClaim | undefined;
        let completed: boolean | undefined;
        let claimError: unknown;
        let checkError: unknown;
        try {
          claim = await claiming;
        } catch (error) {
          claimError = error ?? new Error("claiming the task failed");
        }
        try {
          completed = await checking;
        } catch (error) {
          checkError = error ?? new Error("checking the task's completion failed");
        }
        const granted = claim?.claimed === true;
        if (claim === undefined || completed === undefined) {
          this.#local.delete(taskId);
          if (granted) this.#release(taskId);
          throw completed === undefined ? checkError : claimError;
        }
        if (granted) {
          const handle = this.#hold(taskId, ackWaitMs);
          if (!completed) return handle;
          handle.done();
          return undefined;
        }
        this.#local.delete(taskId);
        if (completed) return undefined;
        owner = claim.claimed ? this.owner : claim.owner;
        if (this.#exclusive && !liveOwners.has(owner)) {
          // A crashed process's claim: nobody else can be running the task.
          await this.#store.releaseTaskClaim(taskId, owner);
          continue;
        }
      }
      if (!reported) {
        reported = true;
        this.#events.emit({ type: "task.held", id: taskId, agent, owner });
      }
      delivery.working();
      await new Promise<void>((resolve) => this.#clock.setTimer(resolve, poll));
      // The node stopped while this delivery waited: it goes back to the broker.
      if (this.#closed) throw new ClosedError("the node's task claims");
    }
  }

  /** Claims a task in this process (the embedded transport), resolving as `acquire` does. */
  async #claimInProcess(taskId: string, ackWaitMs: number): Promise<HeldClaim | undefined> {
    processClaims.set(taskId, this.owner);
    this.#local.add(taskId);
    let completed: boolean;
    try {
      completed = await this.#store.isCompleted(taskId);
    } catch (error) {
      this.#forget(taskId);
      throw error;
    }
    const handle = this.#hold(taskId, ackWaitMs);
    if (!completed) return handle;
    handle.done();
    return undefined;
  }

  /** Drops an in-process claim of this node's. */
  #forget(taskId: string): void {
    this.#local.delete(taskId);
    if (processClaims.get(taskId) === this.owner) processClaims.delete(taskId);
  }

  /** Stops extending claims (the node stops); the store's rows lapse at their expiry. */
  close(): void {
    this.#closed = true;
    liveOwners.delete(this.owner);
    for (const group of this.#groups.values()) {
      group.cancel?.();
      group.cancel = undefined;
      if (this.#exclusive) for (const taskId of group.held) this.#forget(taskId);
      group.held.clear();
    }
  }

  #hold(taskId: string, ackWaitMs: number): HeldClaim {
    let group = this.#groups.get(ackWaitMs);
    if (group === undefined) {
      group = { held: new Set(), cancel: undefined };
      this.#groups.set(ackWaitMs, group);
    }
    group.held.add(taskId);
    // An in-process claim has no row to keep from lapsing.
    if (group.cancel === undefined && !this.#exclusive) this.#arm(group, ackWaitMs);
    return new Claim(this, group, taskId);
  }

  /** A claim ended (`Claim`): stop extending it, and delete its row when it was given back. */
  ended(group: ClaimGroup, taskId: string, release: boolean): void {
    group.held.delete(taskId);
    if (this.#exclusive) {
      this.#forget(taskId);
      return;
    }
    this.#local.delete(taskId);
    if (release) this.#release(taskId);
  }

  /** Every third of the ack wait, moves the expiry of every claim held with it, in one statement. */
  #arm(group: ClaimGroup, ackWaitMs: number): void {
    group.cancel = this.#clock.setTimer(
      () => {
        group.cancel = undefined;
        if (group.held.size === 0 || this.#closed) return;
        this.#store
          .extendTaskClaims(this.owner, [...group.held], this.#clock.now() + ackWaitMs)
          .catch((error: unknown) => this.#report("extending task claims", error));
        this.#arm(group, ackWaitMs);
      },
      Math.max(10, Math.floor(ackWaitMs / 3)),
    );
  }

  #release(taskId: string): void {
    this.#store
      .releaseTaskClaim(taskId, this.owner)
      .catch((error: unknown) => this.#report(`releasing the claim on ${taskId}`, error));
  }

  #maybePrune(): void {
    const now = this.#clock.now();
    if (now - this.#lastPrune < PRUNE_EVERY_MS) return;
    this.#lastPrune = now;
    this.#store
      .pruneTaskClaims(now - PRUNE_EVERY_MS)
      .catch((error: unknown) => this.#report("pruning task claims", error));
  }

  #report(what: string, error: unknown): void {
    if (this.#closed) return;
    this.#events.emit({ type: "error", error: `${what} failed: ${toError(error).message}` });
  }
}
