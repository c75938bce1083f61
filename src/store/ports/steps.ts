/**
 * `StepStore`: the journal of durable steps (`ctx.step`, each model call and
 * tool call of an LLM agent's loop). A step's result is recorded under
 * (task, position) once its function resolved; a redelivered task reads its
 * records and replays them instead of running the steps again, so a model
 * request sent before a crash is not sent, nor paid for, twice.
 *
 * Contract (checked by `src/testkit/conformance/store/steps.ts`):
 * - `recordStep` is idempotent by (task, position): the first record wins,
 *   from this handle or any other on the same database; every call returns
 *   the record kept (`stored`) and whether it was this call's (`recorded`).
 * - `steps` lists a task's records by position.
 * - `pruneSteps` deletes the records written before a time and returns how
 *   many; a task's steps are needed only until the task completes.
 */

/** One step of a task's execution, as recorded. */
export interface StepRecord {
  readonly taskId: string;
  /** 0, 1, 2, … in the order the handler called its steps. */
  readonly position: number;
  readonly name: string;
  /** The step's result as JSON would round-trip it (`null` for none). */
  readonly result: unknown;
  readonly at: number;
}

/** The journal of durable steps (`ctx.step`, `ctx.call`, `ctx.gather`), by task and position. */
export interface StepStore {
  /** Records a step unless (task, position) already has one; returns the record kept. */
  recordStep(record: StepRecord): Promise<{ recorded: boolean; stored: StepRecord }>;
  /** The task's steps, by position. */
  steps(taskId: string): Promise<StepRecord[]>;
  /** Deletes the steps recorded before `before` (ms); returns how many. */
  pruneSteps(before: number): Promise<number>;
}
