import type { Store } from "../store/port.js";
import { ROOT_COMPLETED, ROOT_SUBMITTED } from "./context.js";

/**
 * Where a run's workload stands, measured from the store: root tasks
 * submitted (recorded with the submission), completed (a handler called
 * `ctx.finish()`), dead-lettered (the root or any task descending from it),
 * and effects applied more than once.
 */
export interface WorkloadProgress {
  readonly submitted: number;
  readonly completed: number;
  readonly deadLettered: number;
  /** Neither completed nor dead-lettered: in flight while running, lost once settled. */
  readonly pending: number;
  /** Effect keys applied more than once, over every effect kind. */
  readonly duplicateEffects: number;
}

/**
 * How far a swarm's workload has got, read from the store: root tasks
 * submitted, completed and dead-lettered, and effects applied twice.
 */
export async function workloadProgress(store: Store): Promise<WorkloadProgress> {
  const stats = await store.allEffectStats();
  const submitted = stats.find((s) => s.kind === ROOT_SUBMITTED)?.keys ?? 0;
  const completedKeys = new Set((await store.effects(ROOT_COMPLETED)).map((e) => e.key));
  const roots = new Set((await store.effects(ROOT_SUBMITTED)).map((e) => e.key));
  let deadLettered = 0;
  for (const root of await store.deadLetteredRoots()) {
    if (roots.has(root) && !completedKeys.has(root)) deadLettered++;
  }
  let completed = 0;
  for (const key of completedKeys) if (roots.has(key)) completed++;
  return {
    submitted,
    completed,
    deadLettered,
    pending: submitted - completed - deadLettered,
    duplicateEffects: stats.reduce((sum, s) => sum + s.duplicateKeys, 0),
  };
}
