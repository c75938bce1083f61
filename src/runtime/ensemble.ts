/**
 * Ensembles in the runtime: a task type answered by several member agents
 * (`ensembles:` in the swarm file). The coordinating agent's handler asks the
 * members as durable child tasks (`ctx.call`, one journaled step each, so a
 * redelivered task asks nobody twice), adaptively — the first members listed
 * (the cheapest) first, more only when they disagree — and combines their
 * answers with the members' learned weights (ensemble-combine.ts: a vote, a
 * mean, or a reviewer, judge or combiner asked as one more durable child
 * task). The record of the combination is committed with the task as an
 * `ensemble.decided` effect and published as an event once the task
 * commits. When the task carries its ground truth (`body.truth`), each
 * member's weight for the task type is updated from it; the weights a task
 * combines with are journaled as its first step, so a redelivered task never
 * counts weights that learned its own truth.
 */
import { ASKED_BY_RULE, type EnsembleConfig } from "../config/ensembles.js";
import {
  createAdaptivePlan,
  type EnsembleRecord,
  labelsAgree,
  type MemberReply,
  NoUsableAnswersError,
  numbersWithin,
  sameAnswer,
} from "../ensemble/index.js";
import { ChildTaskFailedError, toError } from "../errors/index.js";
import type { TaskContext } from "./context.js";
import { type AskedRole, combineAnswers } from "./ensemble-combine.js";
import { journaledWeights, learnFromTruth, type WeightStore } from "./ensemble-weights.js";
import type { TaskHandler } from "./task-pipeline.js";

export type { AskedRole, CombinerQuestion } from "./ensemble-combine.js";
export type { WeightStore } from "./ensemble-weights.js";

/** The effect (and event type) recording one combination. */
export const ENSEMBLE_DECIDED = "ensemble.decided";

/** An ensemble ready to run: its settings and the roles through which members (and the combiner) are asked. */
export interface EnsembleSpec extends EnsembleConfig {
  readonly task: string;
  /** Member agent id → its role (the member is that role's only agent). */
  readonly roles: ReadonlyMap<string, string>;
  /** best-of, judge, stacking: the role asked to review, judge or combine, and the task type. */
  readonly asks?: AskedRole;
}

/**
 * The spec of the ensemble of task type `task`: each member's role, and the
 * role of the reviewer, judge or combiner (the named agent's role, or the
 * named role), from the swarm file's agents.
 */
export function ensembleSpec(
  task: string,
  ensemble: EnsembleConfig,
  agents: readonly { readonly id: string; readonly role: string }[],
): EnsembleSpec {
  const roleOf = (name: string) => agents.find((a) => a.id === name)?.role ?? name;
  const roles = new Map(ensemble.members.map((m) => [m, roleOf(m)] as const));
  const rule = ensemble.combine;
  if (!(rule in ASKED_BY_RULE)) return { ...ensemble, task, roles };
  const asked = ASKED_BY_RULE[rule as keyof typeof ASKED_BY_RULE];
  const name = ensemble[asked.field];
  return {
    ...ensemble,
    task,
    roles,
    ...(name === undefined ? {} : { asks: { role: roleOf(name), task: asked.task } }),
  };
}

/** What `ensemble.decided` carries. */
export interface EnsembleDecision {
  readonly task: string;
  readonly taskId: string;
  readonly record: EnsembleRecord<unknown, unknown>;
  /** The combined answer: the winning label, the weighted mean, or the chosen or written answer. */
  readonly answer: unknown;
  readonly asked: readonly string[];
  readonly failures: readonly { member: string; error: string }[];
  /** Calls saved against asking `maxMembers` members. */
  readonly callsSaved: number;
  /** Whether the members asked agreed (adaptive asking stopped early). */
  readonly agreed: boolean;
  /** judge (and stacking, when the combiner gave them): why this answer. */
  readonly reason?: string;
  /** best-of, judge, stacking: the role asked, and the steps that asked it (the child tasks' ids derive from them). */
  readonly combinedBy?: { readonly role: string; readonly steps: readonly string[] };
  /** The task's ground truth, when it carried one (kept from the members). */
  readonly truth?: unknown;
}

/**
 * The handler of an ensemble's task type: asks, combines, records, learns,
 * and returns the combined answer (the task's result; a root task is
 * finished with it).
 */
export function ensembleHandler(spec: EnsembleSpec, store: WeightStore): TaskHandler {
  const same =
    spec.combine === "weighted-mean"
      ? (numbersWithin(spec.tolerance) as (answers: readonly unknown[]) => boolean)
      : spec.combine === "weighted-vote"
        ? labelsAgree
        : (answers: readonly unknown[]) => answers.every((a) => sameAnswer(a, answers[0]));
  // Answers the rule cannot use (two empty labels, a null beside a 0) are no agreement: ask on.
  const usable =
    spec.combine === "weighted-mean"
      ? (a: unknown) => typeof a === "number" && Number.isFinite(a)
      : spec.combine === "weighted-vote"
        ? (a: unknown) => typeof a === "string" && a.length > 0
        : (a: unknown) => a !== null && a !== undefined;
  const agree = (answers: readonly unknown[]) => answers.every(usable) && same(answers);
  return async (ctx: TaskContext) => {
    // The first durable step: a redelivered task combines with the weights its first run read.
    const weights =
      spec.weights === "learned"
        ? await journaledWeights(ctx, store, spec.task, spec.members)
        : undefined;
    const plan = createAdaptivePlan<unknown>({
      // Listed order is cost order: the first listed is asked first.
      members: spec.members.map((id, i) => ({ id, cost: i })),
      start: spec.adaptive.start,
      addOnDisagreement: spec.adaptive.addOnDisagreement,
      maxMembers: spec.adaptive.maxMembers,
      agree,
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
        if (s.status === "rejected" && !(s.reason instanceof ChildTaskFailedError)) {
          // Not the member's failure (this task's deadline passed, the node
          // stopped, the store or the journal failed): stop with the task,
          // rather than ask a replacement and decide from fewer answers.
          throw s.reason;
        }
        replies.push(
          s.status === "fulfilled"
            ? // As the step journal replays it: a member that returned nothing answered null.
              { member, answer: s.value === undefined ? null : s.value }
            : { member, error: toError(s.reason).message },
        );
      });
      step = plan.next(replies);
    }
    if (step.kind !== "done")
      throw new Error(`ensemble ${spec.task}: the plan waits on ${step.members.join(", ")}`);
    const outcome = step.outcome;
    if (outcome.answers.length === 0 && outcome.failures.length > 0) {
      // Say why each member gave nothing, not only that nothing came.
      const failed = outcome.failures.map((f) => ({ member: f.member, reason: f.error }));
      throw new NoUsableAnswersError(spec.combine, failed, "failed");
    }
    const combined = await combineAnswers(ctx, spec, outcome.answers, weights, question);
    const decision: EnsembleDecision = {
      task: spec.task,
      taskId: ctx.task.id,
      record: combined.record,
      answer: combined.answer,
      asked: outcome.asked,
      failures: outcome.failures,
      callsSaved: outcome.callsSaved,
      agreed: outcome.agreed,
      ...(combined.reason === undefined ? {} : { reason: combined.reason }),
      ...(spec.asks === undefined
        ? {}
        : { combinedBy: { role: spec.asks.role, steps: combined.steps } }),
      ...(truth === undefined ? {} : { truth }),
    };
    // Committed with the task, and published once it is.
    ctx.effect(ENSEMBLE_DECIDED, ctx.task.id, decision);
    ctx.emit(ENSEMBLE_DECIDED, decision);
    if (truth !== undefined && spec.weights === "learned") {
      await learnFromTruth(store, ctx.task.id, spec.task, outcome.answers, truth, spec.tolerance);
    }
    // A root task (a workload item) is done with the ensemble's answer.
    if (ctx.task.corr === undefined) ctx.finish(combined.answer);
    return combined.answer;
  };
}

/** A task body without its `truth` field (what members are asked), and the truth. */
function splitTruth(body: unknown): { truth: unknown; question: unknown } {
  if (typeof body !== "object" || body === null || Array.isArray(body) || !("truth" in body)) {
    return { truth: undefined, question: body };
  }
  const { truth, ...question } = body as Record<string, unknown>;
  return { truth, question };
}
