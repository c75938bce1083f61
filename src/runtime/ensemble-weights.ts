/**
 * The members' learned weights in the runtime: read from the reputation
 * table before a combination (journaled, so a redelivered task combines with
 * the weights its first run read), and updated from a task's ground truth
 * after it, once per task.
 */
import {
  ensembleWeightKey,
  learnedWeights,
  outcomeFromTruth,
  updateWeight,
} from "../ensemble/index.js";
import type { Store } from "../store/port.js";
import type { TaskContext } from "./context.js";

/** Where members' weights are kept: the reputation table, keyed `<member>@<task type>`. */
export type WeightStore = Pick<Store, "reputations" | "updateReputation" | "claimIdempotencyKey">;

/** The weights of `members` for task type `task`; members never audited get the prior. */
export async function storedWeights(
  store: WeightStore,
  task: string,
  members: readonly string[],
): Promise<Map<string, number>> {
  const keys = members.map((m) => ensembleWeightKey(m, task));
  const stored = new Map((await store.reputations(keys)).map((r) => [r.agent, r.score] as const));
  return learnedWeights(task, members, stored);
}

/** The step under which a task journals the weights it combines with. */
export const WEIGHTS_STEP = "ensemble-weights";

/**
 * The weights of `members` for task type `task` as this task first read
 * them: a durable step, so a task redelivered after it learned from its own
 * truth (a crash before the task committed) is decided with the same
 * weights, not ones that already know its answer.
 */
export async function journaledWeights(
  ctx: Pick<TaskContext, "step">,
  store: WeightStore,
  task: string,
  members: readonly string[],
): Promise<Map<string, number>> {
  // A step's result is JSON: the entries, in members' order.
  const entries = await ctx.step(WEIGHTS_STEP, async () => [
    ...(await storedWeights(store, task, members)),
  ]);
  return new Map(entries);
}

/**
 * Folds the ground truth into each member's weight, once per task: the
 * claim of an idempotency key keeps a redelivered task from counting twice
 * (a crash between the claim and the update loses that one update, which a
 * moving average forgives).
 */
export async function learnFromTruth(
  store: WeightStore,
  taskId: string,
  task: string,
  answers: readonly { member: string; answer: unknown }[],
  truth: unknown,
  tolerance: number,
): Promise<void> {
  const claim = await store.claimIdempotencyKey(`ensemble.learn:${taskId}`);
  if (!claim.first) return;
  for (const { member, answer } of answers) {
    const outcome = outcomeFromTruth(member, answer, truth, { tolerance });
    await store.updateReputation(ensembleWeightKey(member, task), (previous) =>
      updateWeight(previous, outcome),
    );
  }
}
