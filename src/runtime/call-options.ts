import type { SubmitOptions } from "./messages.js";

/**
 * Options of `ctx.call` (`TaskContext.call`). No `id`: the child's id is
 * derived from the calling task and the step, so that a retried caller
 * never submits it twice (name the step to keep it stable).
 */
export interface CallOptions extends Omit<SubmitOptions, "id"> {
  /** Credits moved into the child task's escrow from this agent (as `delegate`). */
  readonly budget?: number;
  /** The step's name; default `call/<role>.<task>/<n>` (n counts the calls of this task). */
  readonly step?: string;
  /** Give up waiting after this long (`TimeoutError`; the task is retried). Default: no limit. */
  readonly timeoutMs?: number;
}

/** One child of `ctx.gather` (`TaskContext.gather`): a task to submit to a role. */
export interface GatherCall {
  /** The role whose queue gets the child. */
  readonly role: string;
  /** The child's task type, as `ctx.submit` takes it. */
  readonly task: string;
  /** The child's body. */
  readonly body: unknown;
  /** Credits moved into this child's escrow from the caller (as `delegate`). */
  readonly budget?: number;
  /** Delegate it to this team's members of the role only (see `SubmitOptions.team`). */
  readonly team?: string;
}

/** How one gathered child ended: its handler's result, or why it was dead-lettered. */
export type Gathered<TResult = unknown> =
  | { readonly status: "completed"; readonly taskId: string; readonly result: TResult }
  | { readonly status: "dead_lettered"; readonly taskId: string; readonly reason: string };
