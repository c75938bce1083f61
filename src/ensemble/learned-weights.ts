/**
 * Learned weights: how much an ensemble trusts each member for one task type,
 * learned from audited outcomes.
 *
 * A weight is the same concept as the market's reputation (a number in
 * [0, 1] learned by an exponentially weighted moving average of outcome
 * scores), kept per (member, task type) instead of per agent. So it reuses
 * `updateMarketReputation` for the update, starts from the same neutral prior,
 * and is stored in the same reputation table under {@link ensembleWeightKey}.
 */
import { ConfigError } from "../errors/index.js";
import { NEUTRAL_REPUTATION, updateMarketReputation } from "../market/reputation.js";
import { sameAnswer } from "./answers.js";
import { SelfAssessmentError } from "./errors.js";

/**
 * Weight of the newest outcome in the moving average: 0.2, so the last ~5
 * audits dominate and a member that starts failing loses half its lead in
 * about 3 audits, while one lucky answer moves a weight by at most 0.2.
 */
export const ENSEMBLE_WEIGHT_ALPHA = 0.2;

/**
 * The weight of a member never audited for a task type: 0.5, the market's
 * neutral reputation, halfway between always wrong (0) and always right (1).
 */
export const ENSEMBLE_WEIGHT_PRIOR = NEUTRAL_REPUTATION;

/** The auditor name of outcomes that come from a task's ground-truth label. */
export const GROUND_TRUTH_AUDITOR = "ground-truth";

/** An auditor's pass or fail on one member's answer. */
export interface AuditVerdict {
  readonly member: string;
  /** Who judged: an auditor agent's id, or {@link GROUND_TRUTH_AUDITOR}. */
  readonly auditor: string;
  readonly verdict: "pass" | "fail";
}

/** A graded verdict on one member's answer. */
export interface AuditScore {
  readonly member: string;
  /** Who judged: an auditor agent's id, or {@link GROUND_TRUTH_AUDITOR}. */
  readonly auditor: string;
  /** In [0, 1], 1 = right; values outside are clamped. */
  readonly score: number;
}

/** Someone else's verdict on one member's answer. Never produced by the member. */
export type AuditedOutcome = AuditVerdict | AuditScore;

/**
 * The next weight of a member after one audited outcome:
 * `previous + alpha × (score − previous)`, where `score` is 1 for a pass, 0
 * for a fail, or the graded score; `previous` undefined means
 * {@link ENSEMBLE_WEIGHT_PRIOR}. Always in [0, 1], and always between the
 * previous weight and the score: a member that is always right tends to 1,
 * one that is always wrong to 0.
 *
 * Has the shape the store's `updateReputation(key, update)` expects.
 *
 * @throws SelfAssessmentError when the auditor is the member itself (a
 * {@link GROUND_TRUTH_AUDITOR} verdict never is: the truth is no agent's).
 * @throws ConfigError when `alpha` is not in (0, 1] or the score is NaN.
 *
 * @example
 * ```ts
 * await store.updateReputation(ensembleWeightKey("clf-small-1", "classify.ticket"), (previous) =>
 *   updateWeight(previous, { member: "clf-small-1", auditor: "auditor-1", verdict: "pass" }),
 * ); // 0.5 → 0.6
 * ```
 */
export function updateWeight(
  previous: number | undefined,
  outcome: AuditedOutcome,
  alpha: number = ENSEMBLE_WEIGHT_ALPHA,
): number {
  // The task's truth is nobody's verdict, even for a member whose id is
  // "ground-truth" (a valid agent id): only an agent can grade itself.
  if (outcome.auditor === outcome.member && outcome.auditor !== GROUND_TRUTH_AUDITOR) {
    throw new SelfAssessmentError(outcome.member);
  }
  const score = "verdict" in outcome ? (outcome.verdict === "pass" ? 1 : 0) : outcome.score;
  if (Number.isNaN(score)) {
    throw new ConfigError(
      `the audited score of "${outcome.member}" is NaN; give a number in [0, 1]`,
    );
  }
  return updateMarketReputation(previous, score, alpha);
}

/**
 * The outcome of a member's answer against the task's ground truth: a pass
 * when the answer equals the truth (labels, exactly) or lies within
 * `tolerance` of it (numbers), a fail otherwise.
 *
 * @example
 * ```ts
 * outcomeFromTruth("est-1", 12, 10, { tolerance: 2 }); // { …, verdict: "pass" }
 * ```
 */
export function outcomeFromTruth(
  member: string,
  answer: unknown,
  truth: unknown,
  options: { readonly tolerance?: number } = {},
): AuditVerdict {
  const tolerance = options.tolerance ?? 0;
  // Labels and JSON answers (best-of, judge, stacking) are equal as the
  // ensemble compares them: an object equal to the truth is right.
  const right =
    typeof answer === "number" && typeof truth === "number"
      ? Math.abs(answer - truth) <= tolerance
      : sameAnswer(answer, truth);
  return { member, auditor: GROUND_TRUTH_AUDITOR, verdict: right ? "pass" : "fail" };
}

/**
 * The reputation-table key of a member's weight for a task type:
 * `<member>@<taskType>`. Agent ids cannot contain `@`, so these keys never
 * collide with an agent's own market reputation.
 */
export function ensembleWeightKey(member: string, taskType: string): string {
  return `${member}@${taskType}`;
}

/**
 * The weights of `members` for `taskType`, from stored scores keyed by
 * {@link ensembleWeightKey}; members without a stored score get the prior.
 */
export function learnedWeights(
  taskType: string,
  members: readonly string[],
  stored: ReadonlyMap<string, number>,
): Map<string, number> {
  return new Map(
    members.map((m) => [m, stored.get(ensembleWeightKey(m, taskType)) ?? ENSEMBLE_WEIGHT_PRIOR]),
  );
}
