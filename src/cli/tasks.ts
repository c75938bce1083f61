/**
 * `conclave tasks show <id>`: everything the store knows about one task, so
 * a user can follow a task without reading conclave's tables: its outcome
 * (result or dead-letter reason), the root it descends from, the tasks that
 * descend from it (for a root: every task with its `corr`), the steps it
 * journaled, the effects its completion applied, its dead letter, and the
 * ledger operations charged to it. Reads only: never creates a store.
 */

import { type TaskReport, taskReport } from "../runtime/task-report.js";
import { openStoreTarget, type StoreTarget } from "./store-target.js";
import { timeText } from "./time-text.js";

/** The report as a person reads it. */
function render(report: TaskReport): string {
  const lines: string[] = [];
  const kind =
    report.role !== undefined || report.type !== undefined
      ? `  ${report.role ?? "?"}.${report.type ?? "?"}`
      : "";
  lines.push(`task ${report.taskId}${kind}  ${report.status}`);
  lines.push(
    report.isRoot
      ? "root: this task is a root"
      : `root: ${report.root ?? "unknown (the store recorded none)"}`,
  );
  if (report.status === "completed") {
    lines.push(`completed by ${report.agent} at ${timeText(report.at ?? 0)}`);
    lines.push(`result: ${"result" in report ? JSON.stringify(report.result) : "(none returned)"}`);
  } else if (report.status === "dead_lettered") {
    lines.push(`dead-lettered at ${timeText(report.at ?? 0)}: ${report.reason}`);
  }
  if (report.attempts !== undefined) lines.push(`attempts: ${report.attempts}`);
  if (report.deadLetter)
    lines.push(
      `dead letter: ${report.deadLetter.subject}  ×${report.deadLetter.deliveries}  ${report.deadLetter.reason}`,
    );
  lines.push(`steps (${report.steps.length}):`);
  for (const s of report.steps) lines.push(`  ${s.position}  ${s.name}  ${timeText(s.at)}`);
  lines.push(`effects (${report.effects.length}):`);
  for (const e of report.effects)
    lines.push(`  ${e.kind}  ${e.key}${e.data === undefined ? "" : `  ${JSON.stringify(e.data)}`}`);
  if (report.isRoot) {
    lines.push(`descendants (${report.descendants.length}):`);
    for (const d of report.descendants)
      lines.push(
        d.status === "completed"
          ? `  ${d.taskId}  completed by ${d.agent}  ${timeText(d.at)}`
          : `  ${d.taskId}  ${d.type ?? "?"}  dead-lettered: ${d.reason}`,
      );
  }
  lines.push(`ledger (${report.ledger.length}):`);
  for (const op of report.ledger) {
    const entries = op.entries
      .map((e) => `${e.account} ${e.delta > 0 ? "+" : ""}${e.delta}`)
      .join(", ");
    lines.push(`  ${op.id}  ${op.kind}  ${entries}`);
  }
  return `${lines.join("\n")}\n`;
}

/** Prints one task's report; exit 1 when the store has never heard of it. */
export async function showTask(
  target: StoreTarget,
  taskId: string,
  json: boolean,
): Promise<number> {
  const { store } = await openStoreTarget(target, { create: false });
  let report: TaskReport | undefined;
  try {
    report = await taskReport(store, taskId);
  } finally {
    await store.close();
  }
  if (report === undefined) {
    process.stderr.write(
      `conclave: no task ${taskId} in this store (conclave results lists the root tasks)\n`,
    );
    return 1;
  }
  process.stdout.write(json ? `${JSON.stringify(report)}\n` : render(report));
  return 0;
}
