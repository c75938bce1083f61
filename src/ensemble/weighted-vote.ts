/**
 * Weighted vote over labels: each member's label counts its weight; the label
 * with the most weight wins.
 */
import {
  buildRecord,
  byCodeUnits,
  countAnswers,
  type EnsembleRecord,
  type MemberAnswer,
  type MemberWeights,
  sameWeight,
} from "./answers.js";

/** The outcome of a {@link weightedVote}. */
export interface VoteResult {
  /** The winning label. */
  readonly label: string;
  /** Whether more than one label had the top weight (the tie rule then chose `label`). */
  readonly tie: boolean;
  /** The labels that shared the top weight, sorted; just `[label]` without a tie. */
  readonly tiedLabels: readonly string[];
  /** Total weight per label. */
  readonly tally: Readonly<Record<string, number>>;
}

/** Options of {@link weightedVote}. */
export interface WeightedVoteOptions {
  /** Weight per member; see {@link MemberWeights}. Default: every member counts the same. */
  readonly weights?: MemberWeights;
}

/**
 * Combines label answers by weighted vote.
 *
 * Ties (two labels with the same total weight, up to rounding) are broken by,
 * in order: more members voting for the label, then the label that sorts
 * first by UTF-16 code units. The rule is deterministic (the same answers in
 * any order give the same winner) and the result says `tie: true`, so a caller
 * that prefers to escalate can. Labels are compared exactly: normalise case
 * and whitespace when parsing the members' output.
 *
 * An answer that is not a non-empty string is left out (`rejected`).
 *
 * @throws NoUsableAnswersError when no answer is a label.
 * @throws ConfigError on a negative or non-finite weight.
 *
 * @example
 * ```ts
 * const record = weightedVote(
 *   [
 *     { member: "clf-small-1", answer: "billing" },
 *     { member: "clf-small-2", answer: "billing" },
 *     { member: "clf-large", answer: "outage" },
 *   ],
 *   { weights: { "clf-small-1": 0.4, "clf-small-2": 0.4, "clf-large": 0.9 } },
 * );
 * record.result.label; // "outage": 0.9 beats 0.8
 * record.agreement;    // 0.9 / 1.7 ≈ 0.53
 * ```
 */
export function weightedVote(
  answers: readonly MemberAnswer<unknown>[],
  options: WeightedVoteOptions = {},
): EnsembleRecord<string, VoteResult> {
  const counted = countAnswers<string>("weighted-vote", answers, labelProblem, options.weights);
  const tally = new Map<string, { weight: number; votes: number }>();
  counted.answers.forEach((a, i) => {
    const entry = tally.get(a.answer) ?? { weight: 0, votes: 0 };
    entry.weight += counted.weights[i] as number;
    entry.votes += 1;
    tally.set(a.answer, entry);
  });
  let top = Number.NEGATIVE_INFINITY;
  for (const { weight } of tally.values()) top = Math.max(top, weight);
  const tiedLabels = [...tally.keys()]
    .filter((label) => sameWeight((tally.get(label) as { weight: number }).weight, top))
    .sort(byCodeUnits);
  const label = tiedLabels.reduce((best, candidate) =>
    (tally.get(candidate)?.votes ?? 0) > (tally.get(best)?.votes ?? 0) ? candidate : best,
  );
  const result: VoteResult = {
    label,
    tie: tiedLabels.length > 1,
    tiedLabels,
    tally: Object.fromEntries([...tally].map(([l, { weight }]) => [l, weight])),
  };
  return buildRecord(
    "weighted-vote",
    answers,
    counted,
    result,
    (i) => counted.answers[i]?.answer === label,
  );
}

function labelProblem(answer: unknown): string | undefined {
  return typeof answer === "string" && answer.length > 0 ? undefined : "not a non-empty label";
}
