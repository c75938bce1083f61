/**
 * How the runtime turns the members' answers into one, per rule. The vote
 * and the mean are computed here; best-of, judge and stacking ask someone
 * else — the reviewer, judge or combiner role named in the ensemble — as a
 * durable child task (`ctx.call`, a journaled step), so a redelivered task
 * replays the reply instead of asking again.
 */
import { ASKED_BY_RULE, type AskingRuleName } from "../config/ensembles.js";
import {
  bestOf,
  CombinerRepliesUnusableError,
  CombinerReplyError,
  type EnsembleRecord,
  judgeRecord,
  type MemberAnswer,
  parseJudgeVerdict,
  parseReviewScores,
  parseStackingAnswer,
  prepareJudgeInput,
  prepareReviewInput,
  prepareStackingInput,
  type ShownAnswer,
  stackingRecord,
  weightedMean,
  weightedVote,
} from "../ensemble/index.js";
import { PermanentError } from "../errors/index.js";
import type { TaskContext } from "./context.js";

/** Who a best-of, judge or stacking ensemble asks, resolved from the swarm file. */
export interface AskedRole {
  /** The role the question goes to (the named agent's role, or the named role). */
  readonly role: string;
  /** The task type it is asked: `ensemble.review`, `ensemble.judge` or `ensemble.combine`. */
  readonly task: string;
}

/** What {@link combineAnswers} needs of the ensemble. */
export interface CombineSpec {
  readonly task: string;
  readonly combine: "weighted-vote" | "weighted-mean" | AskingRuleName;
  readonly tolerance: number;
  readonly instructions?: string;
  readonly asks?: AskedRole;
}

/** The combination: the record, the answer it gives, and whom it asked. */
export interface Combination {
  readonly record: EnsembleRecord<unknown, unknown>;
  /** The combined answer: the winning label, the weighted mean, or the chosen or written answer. */
  readonly answer: unknown;
  /** The judge's (or combiner's) reasons, when it gave them. */
  readonly reason?: string;
  /** The steps that asked the reviewer, judge or combiner, in order (more than one when a reply was unusable). */
  readonly steps: readonly string[];
}

/**
 * How often the reviewer, judge or combiner is asked before an unusable
 * reply fails the task: a second ask, told what was wrong with the first
 * reply, fixes most slips of a model; a third rarely does.
 */
export const COMBINER_ASKS = 2;

/** What the reviewer, judge or combiner receives as its task's body. */
export interface CombinerQuestion {
  /** The ensemble's task type. */
  readonly ensemble: string;
  readonly rule: AskingRuleName;
  /**
   * What to do and how to reply. An LLM agent reads the whole body (as JSON)
   * as its prompt, so the answers are not repeated in a rendered prompt:
   * long answers would cost their tokens twice.
   */
  readonly instructions: string;
  /** The task as the members were asked it. */
  readonly question: unknown;
  /** The answers under letters (the members stay anonymous); stacking also shows the weights. */
  readonly candidates: readonly { key: string; answer: unknown; weight?: number }[];
  /** Why the previous reply could not be used, when this is a second ask. */
  readonly previousError?: string;
}

/** Combines the members' answers by the ensemble's rule. */
export async function combineAnswers(
  ctx: TaskContext,
  spec: CombineSpec,
  answers: readonly MemberAnswer<unknown>[],
  weights: ReadonlyMap<string, number> | undefined,
  question: unknown,
): Promise<Combination> {
  const weighted = weights ? { weights } : {};
  switch (spec.combine) {
    case "weighted-mean": {
      const record = weightedMean(answers as MemberAnswer<number>[], {
        ...weighted,
        tolerance: spec.tolerance,
      });
      return { record, answer: record.result.mean, steps: [] };
    }
    case "weighted-vote": {
      const record = weightedVote(answers as MemberAnswer<string>[], weighted);
      return { record, answer: record.result.label, steps: [] };
    }
    default:
      return askCombiner(ctx, spec, spec.combine, answers, weighted, question);
  }
}

async function askCombiner(
  ctx: TaskContext,
  spec: CombineSpec,
  rule: AskingRuleName,
  answers: readonly MemberAnswer<unknown>[],
  weighted: { weights?: ReadonlyMap<string, number> },
  question: unknown,
): Promise<Combination> {
  const asks = spec.asks;
  if (asks === undefined) {
    throw new PermanentError(
      `ensemble ${spec.task}: combine: ${rule} has nobody to ask; name the ensemble's ${ASKED_BY_RULE[rule].field} (an agent or role)`,
    );
  }
  const text = `${spec.task}: ${typeof question === "string" ? question : JSON.stringify(question)}`;
  const extra = spec.instructions;
  const input =
    rule === "best-of"
      ? prepareReviewInput(text, answers, {
          ...weighted,
          ...(extra ? { instructions: extra } : {}),
        })
      : rule === "judge"
        ? prepareJudgeInput(text, answers, { ...weighted, ...(extra ? { rubric: extra } : {}) })
        : prepareStackingInput(text, answers, {
            ...weighted,
            ...(extra ? { instructions: extra } : {}),
          });
  const shown: readonly ShownAnswer<unknown>[] =
    "members" in input ? input.members : input.candidates;
  const body: CombinerQuestion = {
    ensemble: spec.task,
    rule,
    instructions: input.system,
    question,
    candidates: shown.map((c) => ({
      key: c.key,
      answer: c.answer,
      ...(rule === "stacking" ? { weight: c.weight } : {}),
    })),
  };
  const steps: string[] = [];
  let previousError: string | undefined;
  for (;;) {
    const step = `ensemble-${rule}/${steps.length + 1}`;
    steps.push(step);
    const reply = await ctx.call(
      asks.role,
      asks.task,
      previousError === undefined ? body : { ...body, previousError },
      { step },
    );
    try {
      return { ...fromReply(rule, answers, weighted, input, reply), steps };
    } catch (err) {
      if (!(err instanceof CombinerReplyError)) throw err;
      if (steps.length >= COMBINER_ASKS) {
        // The replies are journaled: a retry of the task would read the same ones.
        throw new CombinerRepliesUnusableError(spec.task, asks.role, asks.task, steps.length, err);
      }
      previousError = err.message;
    }
  }
}

type AnyInput =
  | ReturnType<typeof prepareReviewInput<unknown>>
  | ReturnType<typeof prepareJudgeInput<unknown>>
  | ReturnType<typeof prepareStackingInput<unknown>>;

function fromReply(
  rule: AskingRuleName,
  answers: readonly MemberAnswer<unknown>[],
  weighted: { weights?: ReadonlyMap<string, number> },
  input: AnyInput,
  reply: unknown,
): Omit<Combination, "steps"> {
  if (rule === "best-of") {
    const review = input as ReturnType<typeof prepareReviewInput<unknown>>;
    const record = bestOf(answers, parseReviewScores(reply, review), weighted);
    return { record, answer: record.result.answer };
  }
  if (rule === "judge") {
    const judged = input as ReturnType<typeof prepareJudgeInput<unknown>>;
    const verdict = parseJudgeVerdict(reply, judged);
    const record = judgeRecord(answers, judged, verdict, undefined, weighted);
    return { record, answer: record.result.answer, reason: record.result.reason };
  }
  const result = parseStackingAnswer(reply, likeTheMembers(answers));
  const record = stackingRecord(answers, result, undefined, weighted);
  return {
    record,
    answer: result.answer,
    ...(result.reason === undefined ? {} : { reason: result.reason }),
  };
}

/**
 * The stacking combiner's answer must be of the members' kind: a finite
 * number when they all answered numbers, a non-empty string when they all
 * answered strings, and anything but null otherwise. A member that answered
 * nothing (null) is no candidate the combiner was shown, so it has no kind:
 * its null must not make numeric answers look mixed.
 */
function likeTheMembers(answers: readonly MemberAnswer<unknown>[]): (value: unknown) => unknown {
  const kinds = new Set(
    answers.filter((a) => a.answer !== null && a.answer !== undefined).map((a) => typeof a.answer),
  );
  return (value) => {
    if (kinds.size === 1 && kinds.has("number") && !Number.isFinite(value)) {
      throw new Error("the members answered numbers: answer a finite number");
    }
    if (kinds.size === 1 && kinds.has("string") && !(typeof value === "string" && value !== "")) {
      throw new Error("the members answered text: answer a non-empty string");
    }
    if (value === null || value === undefined) throw new Error("the answer is empty");
    return value;
  };
}
