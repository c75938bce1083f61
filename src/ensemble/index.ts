/**
 * Ensembles: several members answer the same task and a rule combines their
 * answers: `weighted-vote` (labels), `weighted-mean` (numbers, with an
 * uncertainty), `best-of` (scored by a reviewer), `judge` and `stacking` (a
 * model chooses or combines; the call to the reviewer, judge or combiner is
 * injected). Adaptive asking
 * asks the cheapest members first and more only on disagreement; weights are
 * learned per (member, task type) from audited outcomes. Pure: no IO, no
 * clock; the runtime calls the members and the models and stores the weights.
 *
 * @example
 * ```ts
 * const plan = createAdaptivePlan({ members, start: 2, addOnDisagreement: true, agree: labelsAgree });
 * let step = plan.next([]);
 * while (step.kind !== "done") step = plan.next(await askAll(step.members));
 * const record = weightedVote(step.outcome.answers, { weights: learnedWeights(type, ids, stored) });
 * ```
 */
export {
  type AdaptiveConfig,
  type AdaptiveMember,
  type AdaptiveOutcome,
  type AdaptivePlan,
  type AdaptiveStep,
  type AgreementTest,
  createAdaptivePlan,
  labelsAgree,
  type MemberFailure,
  type MemberReply,
  numbersWithin,
} from "./adaptive.js";
export {
  type AgreementOptions,
  type CombineRule,
  combineRules,
  DEFAULT_MEMBER_WEIGHT,
  type EnsembleRecord,
  type MemberAnswer,
  type MemberWeights,
  type RejectedAnswer,
  sameAnswer,
} from "./answers.js";
export { type BestOfOptions, type BestOfResult, bestOf } from "./best-of.js";
export {
  CombinerRepliesUnusableError,
  CombinerReplyError,
  NoUsableAnswersError,
  SelfAssessmentError,
} from "./errors.js";
export {
  decideByJudge,
  type JudgeInput,
  type JudgeOptions,
  type JudgeResult,
  type JudgeVerdict,
  judgeRecord,
  parseJudgeVerdict,
  prepareJudgeInput,
} from "./judge.js";
export {
  type AuditedOutcome,
  type AuditScore,
  type AuditVerdict,
  ENSEMBLE_WEIGHT_ALPHA,
  ENSEMBLE_WEIGHT_PRIOR,
  ensembleWeightKey,
  GROUND_TRUTH_AUDITOR,
  learnedWeights,
  outcomeFromTruth,
  updateWeight,
} from "./learned-weights.js";
export {
  type AskingRule,
  candidateKey,
  type ModelCall,
  type ModelPrompt,
  type ModelReply,
  type ShownAnswer,
} from "./model-reply.js";
export {
  parseReviewScores,
  prepareReviewInput,
  type ReviewInput,
  type ReviewOptions,
} from "./review.js";
export {
  decideByStacking,
  parseStackingAnswer,
  prepareStackingInput,
  type StackingInput,
  type StackingOptions,
  type StackingResult,
  stackingRecord,
} from "./stacking.js";
export { type MeanResult, type WeightedMeanOptions, weightedMean } from "./weighted-mean.js";
export { type VoteResult, type WeightedVoteOptions, weightedVote } from "./weighted-vote.js";
