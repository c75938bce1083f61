/**
 * `conclave report roi`: what each way of answering a task type costs and
 * how often it is right, measured from a store rather than asserted — seed
 * 000's comparison of specialised small models against one large one.
 *
 * Read from the ensembles' `ensemble.decided` records (members asked, their
 * answers, the combined answer, the ground truth when the task carried one)
 * and the ledger's `llm` fees, which name the task each model call was made
 * for: a member's child task has an id derived from the ensemble's task and
 * the member (`childTaskId`), so each decision's model spend is found exactly.
 */
import { sameAnswer } from "../ensemble/index.js";
import type { EnsembleDecision } from "../runtime/ensemble.js";
import { ENSEMBLE_DECIDED } from "../runtime/ensemble.js";
import { childTaskId } from "../runtime/step-journal.js";
import type { Store } from "../store/port.js";
import { openStoreTarget, type StoreTarget } from "./store-target.js";

/** One way of answering: an ensemble's task type. */
export interface RoiLine {
  readonly tasks: number;
  /** Share of tasks with a ground truth whose combined answer was right; null without truths. */
  readonly accuracy: number | null;
  readonly callsPerTask: number;
  readonly creditsPerTask: number;
  readonly credits: number;
  /** Share of tasks where the members asked agreed. */
  readonly agreement: number;
}

/** One model, over every ensemble member that used it. */
export interface RoiModelLine {
  readonly calls: number;
  readonly credits: number;
  /** Share of its members' answers that matched the ground truth; null without truths. */
  readonly accuracy: number | null;
}

export interface RoiReport {
  readonly taskTypes: Readonly<Record<string, RoiLine>>;
  readonly models: Readonly<Record<string, RoiModelLine>>;
}

interface Fee {
  readonly model: string;
  readonly credits: number;
  readonly agent: string;
}

/** Builds the report from a store. */
export async function roiReport(store: Store): Promise<RoiReport> {
  const feesByTask = new Map<string, Fee[]>();
  for (const op of await store.ledgerOperations({ kind: "fee", limit: 1_000_000 })) {
    if (op.memo["kind"] !== "llm" || typeof op.memo["task"] !== "string") continue;
    const debit = op.entries.find((e) => e.delta < 0 && e.account.startsWith("agent:"));
    const fee: Fee = {
      model: String(op.memo["model"] ?? "(unknown)"),
      credits: debit ? -debit.delta : 0,
      agent: debit ? debit.account.slice("agent:".length) : "",
    };
    const list = feesByTask.get(op.memo["task"]) ?? [];
    list.push(fee);
    feesByTask.set(op.memo["task"], list);
  }
  const types = new Map<
    string,
    { tasks: number; judged: number; right: number; calls: number; credits: number; agreed: number }
  >();
  const models = new Map<
    string,
    { calls: number; credits: number; judged: number; right: number }
  >();
  for (const effect of await store.effects(ENSEMBLE_DECIDED)) {
    const d = effect.data as EnsembleDecision;
    const line = types.get(d.task) ?? {
      tasks: 0,
      judged: 0,
      right: 0,
      calls: 0,
      credits: 0,
      agreed: 0,
    };
    line.tasks++;
    if (d.agreed) line.agreed++;
    const hasTruth = d.truth !== undefined;
    if (hasTruth) {
      line.judged++;
      if (sameAnswer(d.answer, d.truth)) line.right++;
    }
    const charge = (fee: { model: string; credits: number }) => {
      line.calls++;
      line.credits += fee.credits;
      const m = models.get(fee.model) ?? { calls: 0, credits: 0, judged: 0, right: 0 };
      m.calls++;
      m.credits += fee.credits;
      models.set(fee.model, m);
    };
    const answers = new Map(d.record.answers.map((a) => [a.member, a.answer] as const));
    for (const member of d.asked) {
      const fees = feesByTask.get(childTaskId(d.taskId, `ensemble/${member}`)) ?? [];
      fees.forEach(charge);
      const model = fees.at(-1)?.model;
      if (hasTruth && model !== undefined && answers.has(member)) {
        const m = models.get(model) as { judged: number; right: number };
        m.judged++;
        if (sameAnswer(answers.get(member), d.truth)) m.right++;
      }
    }
    // The reviewer's, judge's or combiner's model calls are part of what the ensemble cost.
    for (const step of d.combinedBy?.steps ?? []) {
      (feesByTask.get(childTaskId(d.taskId, step)) ?? []).forEach(charge);
    }
    types.set(d.task, line);
  }
  const ratio = (a: number, b: number) => (b === 0 ? null : round(a / b));
  return {
    taskTypes: Object.fromEntries(
      [...types].map(([type, l]) => [
        type,
        {
          tasks: l.tasks,
          accuracy: ratio(l.right, l.judged),
          callsPerTask: round(l.calls / l.tasks),
          creditsPerTask: round(l.credits / l.tasks),
          credits: l.credits,
          agreement: round(l.agreed / l.tasks),
        },
      ]),
    ),
    models: Object.fromEntries(
      [...models].map(([model, m]) => [
        model,
        { calls: m.calls, credits: m.credits, accuracy: ratio(m.right, m.judged) },
      ]),
    ),
  };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** `conclave report roi`: prints the report; exit 0, or 1 when the store holds no ensemble decision. */
export async function showRoi(target: StoreTarget, json: boolean): Promise<number> {
  const { store } = await openStoreTarget(target, { create: false });
  let report: RoiReport;
  try {
    report = await roiReport(store);
  } finally {
    await store.close();
  }
  const types = Object.entries(report.taskTypes);
  const models = Object.entries(report.models);
  if (json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else if (types.length > 0) {
    const pct = (v: number | null) => (v === null ? "—" : `${(v * 100).toFixed(1)} %`);
    const lines = [
      "task type                     tasks  accuracy  calls/task  credits/task  agreement",
      ...types.map(
        ([type, l]) =>
          `${type.padEnd(28)}${String(l.tasks).padStart(7)}${pct(l.accuracy).padStart(10)}${l.callsPerTask.toFixed(2).padStart(12)}${l.creditsPerTask.toFixed(1).padStart(14)}${pct(l.agreement).padStart(11)}`,
      ),
      "",
      ...(models.length === 0
        ? ["no model call was charged for these tasks (members without llm:, or without a budget)"]
        : [
            "model                         calls   credits  accuracy of its answers",
            ...models.map(
              ([model, m]) =>
                `${model.padEnd(28)}${String(m.calls).padStart(7)}${String(m.credits).padStart(10)}  ${pct(m.accuracy)}`,
            ),
          ]),
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  }
  if (types.length === 0) {
    process.stderr.write(
      "conclave: no ensemble decision in this store, so nothing to report: the report measures the task types a swarm file's ensembles: section answers (see examples/ensemble-swarm); run such a swarm first, or name its store with --store or --swarm\n",
    );
    return 1;
  }
  return 0;
}
