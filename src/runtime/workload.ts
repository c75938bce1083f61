import type { Store } from "../store/port.js";
import { PRIVILEGED_SUBMITTED, ROOT_COMPLETED, ROOT_SUBMITTED } from "./context.js";

/**
 * Where a run's workload stands, measured from the store: root tasks
 * submitted (recorded with the submission), completed (a handler called
 * `ctx.finish()`), dead-lettered (the root, or a task descending from it
 * once the root's own handler is done), privileged follow-ups not run yet,
 * and effects applied more than once.
 */
export interface WorkloadProgress {
  readonly submitted: number;
  readonly completed: number;
  readonly deadLettered: number;
  /**
   * Root tasks neither completed nor dead-lettered, plus the `followUps`:
   * in flight while running, lost once settled.
   */
  readonly pending: number;
  /**
   * Privileged tasks submitted with their approval (often after their root
   * was finished) that have neither completed nor been dead-lettered.
   */
  readonly followUps: number;
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
  // A root with a dead descendant is dead only once its own handler is done
  // (returned or dead-lettered): while it runs, it may be waiting on that
  // child (`ctx.call`, `ctx.gather`, an ensemble) and try another way.
  const candidates = (await store.deadLetteredRoots()).filter(
    (root) => roots.has(root) && !completedKeys.has(root),
  );
  const dead = await Promise.all(
    candidates.map(
      async (root) =>
        (await store.isCompleted(root)) || (await store.deadLetter(root)) !== undefined,
    ),
  );
  const deadLettered = dead.filter(Boolean).length;
  let completed = 0;
  for (const key of completedKeys) if (roots.has(key)) completed++;
  let followUps = 0;
  if (stats.some((s) => s.kind === PRIVILEGED_SUBMITTED)) {
    const ids = new Set((await store.effects(PRIVILEGED_SUBMITTED)).map((e) => e.key));
    // Asked together, not one round trip after another (SQLite answers the
    // checks of one turn from one read transaction); a run polls this every second.
    const unsettled = await Promise.all(
      [...ids].map(
        async (id) => !(await store.isCompleted(id)) && (await store.deadLetter(id)) === undefined,
      ),
    );
    followUps = unsettled.filter(Boolean).length;
  }
  return {
    submitted,
    completed,
    deadLettered,
    pending: submitted - completed - deadLettered + followUps,
    followUps,
    duplicateEffects: stats.reduce((sum, s) => sum + s.duplicateKeys, 0),
  };
}
