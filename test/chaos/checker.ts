/**
 * What a chaos scenario checks once every process has stopped, read from the
 * shared store with the functions the CLI's own summary uses
 * (`workloadProgress`, `ledgerCheck`, `verifyStoredAuditLog`): nothing lost,
 * nothing applied twice, the ledger conserved, every decision sealed, and
 * the swarm not stuck after the faults healed.
 */

import { ledgerReport } from "../../src/cli/ledger.js";
import type { SwarmConfig } from "../../src/config/schema.js";
import { verifyStoredAuditLog } from "../../src/runtime/consensus/audit-log.js";
import { type WorkloadProgress, workloadProgress } from "../../src/runtime/workload.js";
import { openStore } from "../../src/store/open-store.js";
import type { Store } from "../../src/store/port.js";

export interface Verdict {
  /** Root tasks submitted. */
  readonly tasks: number;
  readonly completed: number;
  readonly deadLettered: number;
  /**
   * Dead letters (any task, not only roots) refused because their sender's
   * key was unknown: the faults, not the work, sent them there. Reported,
   * not a failure: nothing is lost, but the work was not done.
   */
  readonly untrustedDeadLetters: number;
  /** Root tasks neither completed nor dead-lettered. */
  readonly lost: number;
  /** Effect keys applied more than once. */
  readonly duplicateEffects: number;
  /** minted === sum, no negative account, no mismatched or unbalanced operation. */
  readonly ledgerBalanced: boolean;
  /** The audit log and every decision's seal verify (true when the swarm has no privileged actions). */
  readonly auditVerified: boolean;
  /** No progress for the bound after the last fault healed, while work was pending. */
  readonly stuck: boolean;
  /** Each broken promise in words; empty when the scenario is ok. */
  readonly problems: readonly string[];
  readonly ok: boolean;
}

/** Checks the store at `storeUrl` after a scenario; `stuck` comes from {@link watchProgress}. */
export async function checkStore(
  storeUrl: string,
  config: SwarmConfig,
  stuck: boolean,
): Promise<Verdict> {
  const store = await openStore(storeUrl, { create: false });
  try {
    const progress = await workloadProgress(store);
    const untrustedDeadLetters = (await store.deadLetters({ limit: 1_000_000 })).filter((d) =>
      d.reason.startsWith("UnknownSignerError"),
    ).length;
    const ledger = await store.ledgerCheck();
    const audit =
      Object.keys(config.privileged ?? {}).length === 0
        ? undefined
        : await verifyStoredAuditLog(store, config);
    const problems: string[] = [];
    if (progress.submitted === 0) problems.push("no root task was submitted");
    if (progress.pending > 0) {
      problems.push(
        `${progress.pending} task(s) lost (${progress.followUps} of them approved privileged actions that never ran)`,
      );
    }
    if (progress.duplicateEffects > 0)
      problems.push(`${progress.duplicateEffects} effect key(s) applied more than once`);
    const ledgerBalanced =
      ledger.sum === ledger.minted &&
      ledger.negative.length === 0 &&
      ledger.mismatched.length === 0 &&
      ledger.unbalanced.length === 0;
    if (!ledgerBalanced) {
      problems.push(
        `ledger: minted ${ledger.minted}, sum ${ledger.sum}, negative [${ledger.negative}], mismatched [${ledger.mismatched}], unbalanced [${ledger.unbalanced}]`,
      );
    }
    const stranded = (await ledgerReport(store)).strandedEscrow;
    if (stranded.length > 0) {
      problems.push(
        `${stranded.length} escrow account(s) hold credits for no live task (${stranded[0]?.account}: ${stranded[0]?.reason})`,
      );
    }
    if (audit && !audit.ok) problems.push(`audit log entry ${audit.seq}: ${audit.reason}`);
    if (stuck) problems.push("stuck: no progress for the bound after the faults healed");
    return {
      tasks: progress.submitted,
      completed: progress.completed,
      deadLettered: progress.deadLettered,
      untrustedDeadLetters,
      lost: progress.pending,
      duplicateEffects: progress.duplicateEffects,
      ledgerBalanced,
      auditVerified: audit === undefined || audit.ok,
      stuck,
      problems,
      ok: problems.length === 0,
    };
  } finally {
    await store.close();
  }
}

/**
 * Follows the workload in the store while the scenario runs: resolves once
 * every root task settled (`settled`), or when nothing moved for
 * `stuckAfterMs` counted from `healedAt()` (the last heal, or the start when
 * no fault is pending), or at `deadline`.
 */
export async function watchProgress(options: {
  readonly storeUrl: string;
  readonly expected: number;
  readonly stuckAfterMs: number;
  readonly deadline: number;
  /** When the last fault healed; undefined while a fault is in force (a stall then is expected). */
  readonly healedAt: () => number | undefined;
  readonly everyMs?: number;
}): Promise<{ settled: boolean; stuck: boolean; last?: WorkloadProgress }> {
  let store: Store | undefined;
  let last: WorkloadProgress | undefined;
  let movedAt = Date.now();
  try {
    for (;;) {
      // The store file appears once the first process opened it.
      store ??= await openStore(options.storeUrl, { create: false }).catch(() => undefined);
      if (store) {
        const now = await workloadProgress(store).catch(() => last);
        if (
          now &&
          (!last || settledCount(now) !== settledCount(last) || now.submitted !== last.submitted)
        )
          movedAt = Date.now();
        last = now;
        if (now && now.submitted >= options.expected && now.pending === 0)
          return { settled: true, stuck: false, last: now };
      }
      const healed = options.healedAt();
      if (healed !== undefined && Date.now() - Math.max(movedAt, healed) > options.stuckAfterMs)
        return { settled: false, stuck: true, ...(last ? { last } : {}) };
      if (Date.now() > options.deadline)
        return { settled: false, stuck: false, ...(last ? { last } : {}) };
      await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 250));
    }
  } finally {
    await store?.close();
  }
}

/** Changes whenever a root or a privileged follow-up settles (or a follow-up is queued). */
const settledCount = (p: WorkloadProgress) => `${p.completed}/${p.deadLettered}/${p.followUps}`;
