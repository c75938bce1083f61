import { ChildTaskFailedError, ClosedError, TimeoutError } from "../errors/index.js";
import type { TaskOutcome } from "../store/ports/tasks.js";
import { ROOT_COMPLETED } from "./context.js";
import { awardedTaskId } from "./market/settlement.js";
import type { NodeContext, TaskOutcomes, WaitOptions } from "./node-context.js";

/** Longest pause between two reads of the store while waiting. */
const MAX_POLL_MS = 250;

/**
 * Waiting for a task's outcome (completed with its result, or dead-lettered),
 * durably: the outcome is read from the store, so a waiter restarted after a
 * crash finds it wherever it was decided. A task decided on this node wakes
 * its waiters at once; one decided on another node is found by reading the
 * store again, at most every quarter second.
 */
export class Outcomes implements TaskOutcomes {
  readonly #node: NodeContext;
  readonly #waiters = new Map<string, Set<() => void>>();

  constructor(node: NodeContext) {
    this.#node = node;
  }

  /** Tasks someone on this node is waiting for right now. */
  get waited(): number {
    return this.#waiters.size;
  }

  /** A task was completed or dead-lettered here: wake whoever waits for it. */
  decided(taskId: string): void {
    const waiters = this.#waiters.get(taskId);
    if (waiters === undefined) return;
    this.#waiters.delete(taskId);
    for (const wake of waiters) wake();
  }

  /**
   * Resolves with task `taskId`'s result once it is completed.
   * @throws ChildTaskFailedError once it is dead-lettered (with the reason).
   */
  async result<TResult>(taskId: string, options: WaitOptions = {}): Promise<TResult> {
    const outcome = await this.wait(taskId, options);
    if (outcome.status !== "completed") throw new ChildTaskFailedError(taskId, outcome.reason);
    return outcome.result as TResult;
  }

  /** What root task `rootId` was finished with (`ctx.finish`), or undefined while it is not. */
  async finished(
    rootId: string,
  ): Promise<{ readonly data?: unknown; readonly by: string; readonly at: number } | undefined> {
    const effects = await this.#node.store.effects(ROOT_COMPLETED);
    const finished = effects.find((e) => e.key === rootId);
    if (finished === undefined) return undefined;
    return {
      by: finished.agent,
      at: finished.at,
      ...(finished.data === undefined ? {} : { data: finished.data }),
    };
  }

  /** Resolves with the task's outcome once there is one. */
  async wait(taskId: string, options: WaitOptions = {}): Promise<TaskOutcome> {
    const { clock } = this.#node;
    const giveUpAt =
      options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : clock.now() + options.timeoutMs;
    let pause = 5;
    for (;;) {
      const outcome = await this.outcome(taskId);
      if (outcome !== undefined) return outcome;
      if (options.signal?.aborted) {
        throw new ClosedError(`stopped waiting for task ${taskId}: its waiter was aborted`);
      }
      const now = clock.now();
      if (now >= giveUpAt) {
        throw new TimeoutError(
          `task ${taskId} was neither completed nor dead-lettered within ${options.timeoutMs} ms`,
        );
      }
      await this.#pause(taskId, Math.min(pause, giveUpAt - now), options.signal);
      pause = Math.min(pause * 2, MAX_POLL_MS);
    }
  }

  /**
   * The task's outcome; for a task allocated by auction (its request
   * completed as `auction:<id>`), the outcome of the task awarded for it:
   * the winner runs that one, under an id of its own. An unsold task keeps
   * its id (queued to its role, or dead-lettered).
   */
  async outcome(taskId: string): Promise<TaskOutcome | undefined> {
    const { store } = this.#node;
    const outcome = await store.taskOutcome(taskId);
    if (outcome !== undefined || !(await store.isCompleted(`auction:${taskId}`))) return outcome;
    const auction = await store.getAuction(taskId);
    if (auction?.status !== "awarded") return undefined;
    const awarded = await store.taskOutcome(awardedTaskId(taskId, auction.at));
    return awarded === undefined ? undefined : { ...awarded, taskId };
  }

  #pause(taskId: string, ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      let waiters = this.#waiters.get(taskId);
      if (waiters === undefined) {
        waiters = new Set();
        this.#waiters.set(taskId, waiters);
      }
      const set = waiters;
      const done = () => {
        cancel();
        set.delete(done);
        // The last waiter of a task gone: its entry too (a task decided on
        // another node, or waited for with a timeout, is never woken here).
        if (set.size === 0 && this.#waiters.get(taskId) === set) this.#waiters.delete(taskId);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const cancel = this.#node.clock.setTimer(done, ms);
      set.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }
}
