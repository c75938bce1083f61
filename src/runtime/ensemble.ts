/**
 * Ensembles in the runtime: a task type answered by several member agents
 * (`ensembles:` in the swarm file). The coordinating agent's handler asks the
 * members as durable child tasks (`ctx.call`, one journaled step each, so a
 * redelivered task asks nobody twice), adaptively — the first members listed
 * (the cheapest) first, more only when they disagree — and combines their
 * answers with the members' learned weights (src/ensemble). The record of the
 * combination is committed with the task as an `ensemble.decided` effect and
 * published as an event once the task commits. When the task carries its ground truth
 * (`body.truth`), each member's weight for the task type is updated from it.
 */
import type { EnsembleConfig } from "../config/ensembles.js";
import {
  createAdaptivePlan,
  type EnsembleRecord,
  ensembleWeightKey,
  labelsAgree,
  learnedWeights,
  type MemberReply,
  numbersWithin,
  outcomeFromTruth,
  updateWeight,
  weightedMean,
  weightedVote,
} from "../ensemble/index.js";
import { toError } from "../errors/index.js";
import type { Store } from "../store/port.js";
import type { TaskContext } from "./context.js";
import type { TaskHandler } from "./task-pipeline.js";

/** The effect (and event type) recording one combination. */
export const ENSEMBLE_DECIDED = "ensemble.decided";

/** An ensemble ready to run: its settings and the role through which each member is asked. */
export interface EnsembleSpec extends EnsembleConfig {
  readonly task: string;
  /** Member agent id → its role (the member is that role's only agent). */
  readonly roles: ReadonlyMap<string, string>;
}

/** What `ensemble.decided` carries. */
export interface EnsembleDecision {
  readonly task: string;
  readonly taskId: string;
  readonly record: EnsembleRecord<unknown, unknown>;
  /** The combined answer: the winning label, or the weighted mean. */
  readonly answer: unknown;
  readonly asked: readonly string[];
  readonly failures: readonly { member: string; error: string }[];
  /** Calls saved against asking `maxMembers` members. */
  readonly callsSaved: number;
  /** Whether the members asked agreed (adaptive asking stopped early). */
  readonly agreed: boolean;
  /** The task's ground truth, when it carried one (kept from the members). */
  readonly truth?: unknown;
}

/**
 * The handler of an ensemble's task type: asks, combines, records, learns,
 * and returns the combined answer (the task's result; a root task is
 * finished with it).
 */
export function ensembleHandler(spec: EnsembleSpec, store: WeightStore): TaskHandler {
  const mean = spec.combine === "weighted-mean";
  return async (ctx: TaskContext) => {
    const weights = spec.weights === "learned" ? await storedWeights(store, spec) : undefined;
    const plan = createAdaptivePlan<unknown>({
      // Listed order is cost order: the first listed is asked first.
      members: spec.members.map((id, i) => ({ id, cost: i })),
      start: spec.adaptive.start,
      addOnDisagreement: spec.adaptive.addOnDisagreement,
      maxMembers: spec.adaptive.maxMembers,
      agree: (mean ? numbersWithin(spec.tolerance) : labelsAgree) as (
        a: readonly unknown[],
      ) => boolean,
    });
    // The members never see the ground truth.
    const { truth, question } = splitTruth(ctx.body);
    const replies: MemberReply<unknown>[] = [];
    let step = plan.next(replies);
    while (step.kind === "ask") {
      const asked = step.members;
      const settled = await Promise.allSettled(
        asked.map((member) =>
          ctx.call(spec.roles.get(member) as string, spec.task, question, {
            step: `ensemble/${member}`,
          }),
        ),
      );
      settled.forEach((s, i) => {
        const member = asked[i] as string;
        replies.push(
          s.status === "fulfilled"
            ? { member, answer: s.value }
            : { member, error: toError(s.reason).message },
        );
      });
      step = plan.next(replies);
    }
    if (step.kind !== "done")
      throw new Error(`ensemble ${spec.task}: the plan waits on ${step.members.join(", ")}`);
    const outcome = step.outcome;
    const record = (
      mean
        ? weightedMean(outcome.answers, {
            ...(weights ? { weights } : {}),
            tolerance: spec.tolerance,
          })
        : weightedVote(outcome.answers, weights ? { weights } : {})
    ) as EnsembleRecord<unknown, unknown>;
    const answer = mean
      ? (record.result as { mean: number }).mean
      : (record.result as { label: string }).label;
    const decision: EnsembleDecision = {
      task: spec.task,
      taskId: ctx.task.id,
      record,
      answer,
      asked: outcome.asked,
      failures: outcome.failures,
      callsSaved: outcome.callsSaved,
      agreed: outcome.agreed,
      ...(truth === undefined ? {} : { truth }),
    };
    // Committed with the task, and published once it is.
    ctx.effect(ENSEMBLE_DECIDED, ctx.task.id, decision);
    ctx.emit(ENSEMBLE_DECIDED, decision);
    if (truth !== undefined && spec.weights === "learned") {
      await learn(store, ctx.task.id, spec, outcome.answers, truth);
    }
    // A root task (a workload item) is done with the ensemble's answer.
    if (ctx.task.corr === undefined) ctx.finish(answer);
    return answer;
  };
}

/** Where members' weights are kept: the reputation table, keyed `<member>@<task type>`. */
export type WeightStore = Pick<Store, "reputations" | "updateReputation" | "claimIdempotencyKey">;

async function storedWeights(store: WeightStore, spec: EnsembleSpec): Promise<Map<string, number>> {
  const keys = spec.members.map((m) => ensembleWeightKey(m, spec.task));
  const stored = new Map((await store.reputations(keys)).map((r) => [r.agent, r.score] as const));
  return learnedWeights(spec.task, spec.members, stored);
}

/**
 * Folds the ground truth into each member's weight, once per task: the
 * claim of an idempotency key keeps a redelivered task from counting twice
 * (a crash between the claim and the update loses that one update, which a
 * moving average forgives).
 */
async function learn(
  store: WeightStore,
  taskId: string,
  spec: EnsembleSpec,
  answers: readonly { member: string; answer: unknown }[],
  truth: unknown,
): Promise<void> {
  const claim = await store.claimIdempotencyKey(`ensemble.learn:${taskId}`);
  if (!claim.first) return;
  for (const { member, answer } of answers) {
    const outcome = outcomeFromTruth(member, answer, truth, { tolerance: spec.tolerance });
    await store.updateReputation(ensembleWeightKey(member, spec.task), (previous) =>
      updateWeight(previous, outcome),
    );
  }
}

/** A task body without its `truth` field (what members are asked), and the truth. */
function splitTruth(body: unknown): { truth: unknown; question: unknown } {
  if (typeof body !== "object" || body === null || Array.isArray(body) || !("truth" in body)) {
    return { truth: undefined, question: body };
  }
  const { truth, ...question } = body as Record<string, unknown>;
  return { truth, question };
}
