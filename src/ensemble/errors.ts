import { ConclaveError, PermanentError } from "../errors/index.js";

/**
 * A combination had nothing to combine: no member answered, or every answer
 * was unusable (a label that is not a non-empty string, a number that is not
 * finite, an answer the reviewer did not score). `rejected` says why each
 * answer was left out. Permanent: a task that ran the combination replays
 * the same answers from its journal, so it is dead-lettered at once rather
 * than retried up to `maxDeliver` times.
 *
 * @example
 * ```ts
 * try { weightedVote(answers); }
 * catch (err) { if (err instanceof NoUsableAnswersError) escalate(err.rejected); }
 * ```
 */
export class NoUsableAnswersError extends PermanentError {
  override readonly code: string = "E_NO_USABLE_ANSWERS";

  constructor(
    readonly rule: string,
    readonly rejected: readonly { readonly member: string; readonly reason: string }[],
    /** `failed`: `rejected` lists members that gave no answer at all (their tasks died). */
    why: "unusable" | "failed" = "unusable",
  ) {
    const listed = rejected.map((r) => `${r.member}: ${r.reason}`).join("; ");
    super(
      rejected.length === 0
        ? `${rule}: no member answered; ask at least one member before combining`
        : why === "failed"
          ? `${rule}: no member answered, every one asked failed (${listed}); fix what made their tasks fail, or add members`
          : `${rule}: none of the ${rejected.length} answer(s) could be used (${listed}); check the members' output parsing or ask other members`,
    );
  }
}

/**
 * A reviewer's, judge's or combiner's reply could not be used: not JSON,
 * missing its fields, choosing or scoring a candidate that does not exist,
 * or an answer the caller's validator refused. Retrying the model call (or another model) may
 * help; the original parse or validation error is kept as `cause`.
 */
export class CombinerReplyError extends ConclaveError {
  constructor(
    readonly rule: "best-of" | "judge" | "stacking",
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      "E_COMBINER_REPLY",
      `${rule} reply unusable: ${reason}; retry the call, or give the model clearer instructions or a stronger model`,
      options,
    );
  }
}

/**
 * The reviewer, judge or combiner was asked as often as the runtime asks
 * (the second time told what was wrong) and no reply could be used; `cause`
 * is the last reply's {@link CombinerReplyError}. Permanent: the replies are
 * journaled, so a retry of the task would read the same ones.
 *
 * @example
 * ```ts
 * if (err instanceof CombinerRepliesUnusableError) console.log(err.role, err.asks);
 * ```
 */
export class CombinerRepliesUnusableError extends PermanentError {
  override readonly code: string = "E_COMBINER_REPLIES_UNUSABLE";

  constructor(
    /** The ensemble's task type. */
    readonly ensemble: string,
    /** The role asked. */
    readonly role: string,
    /** The task type it was asked (`ensemble.review`, `ensemble.judge`, `ensemble.combine`). */
    readonly askedTask: string,
    readonly asks: number,
    last: CombinerReplyError,
  ) {
    super(
      `ensemble ${ensemble}: role "${role}" was asked ${asks} times (${askedTask}) and no reply could be used (${last.message})`,
      { cause: last },
    );
  }
}

/**
 * An outcome would have let a member grade itself: the auditor of an ensemble
 * member's answer is that member. Weights are learned only from someone
 * else's verdict (an auditor agent, a reviewer, or the task's ground truth).
 */
export class SelfAssessmentError extends ConclaveError {
  constructor(readonly member: string) {
    super(
      "E_SELF_ASSESSMENT",
      `member "${member}" cannot audit its own answer; have another agent (or the ground truth) judge it`,
    );
  }
}
