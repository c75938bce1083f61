/**
 * Best-of: a reviewer scores each member's answer and the best one is taken.
 */
import {
  type AgreementOptions,
  buildRecord,
  byCodeUnits,
  countAnswers,
  type EnsembleRecord,
  type MemberAnswer,
  sameAnswer,
} from "./answers.js";

/** The outcome of a {@link bestOf}. */
export interface BestOfResult<T> {
  /** The member whose answer was chosen. */
  readonly member: string;
  readonly answer: T;
  /** The reviewer's score of the chosen answer. */
  readonly score: number;
  /** Whether another answer had the same score (the tie rule then chose `member`). */
  readonly tie: boolean;
  /** The members whose answers shared the top score, in tie-break order; `[member]` without a tie. */
  readonly tiedMembers: readonly string[];
}

/** Options of {@link bestOf}: weights break equal scores and weigh `agreement`. */
export type BestOfOptions = AgreementOptions;

/**
 * Takes the answer the reviewer scored highest. `scores` maps member ids to
 * the reviewer's score (any finite number, higher is better); an answer
 * without a finite score is left out (`rejected`).
 *
 * Equal scores are broken by, in order: the member's higher weight (the one
 * the ensemble has learned to trust more), then the member id that sorts first
 * by UTF-16 code units. Deterministic whatever order the answers came in; the
 * result says `tie: true`.
 *
 * `agreement` is the share of weight whose answer is the same as the chosen one.
 *
 * @throws NoUsableAnswersError when no answer has a score.
 * @throws ConfigError on a negative or non-finite weight.
 *
 * @example
 * ```ts
 * const record = bestOf(
 *   [{ member: "writer-1", answer: draftA }, { member: "writer-2", answer: draftB }],
 *   { "writer-1": 7, "writer-2": 9 },
 * );
 * record.result.member; // "writer-2"
 * ```
 */
export function bestOf<T>(
  answers: readonly MemberAnswer<T>[],
  scores: ReadonlyMap<string, number> | Readonly<Record<string, number>>,
  options: BestOfOptions = {},
): EnsembleRecord<T, BestOfResult<T>> {
  const scoreOf = (member: string): number | undefined =>
    scores instanceof Map
      ? scores.get(member)
      : Object.hasOwn(scores, member)
        ? (scores as Readonly<Record<string, number>>)[member]
        : undefined;
  const scored = answers.map((a) => ({
    member: a.member,
    answer: scoreOf(a.member),
    cost: a.cost,
  }));
  const counted = countAnswers<number>("best-of", scored, scoreProblem, options.weights);
  const ranked = counted.answers
    .map((a, i) => ({ member: a.member, score: a.answer, weight: counted.weights[i] as number }))
    .sort((x, y) => y.score - x.score || y.weight - x.weight || byCodeUnits(x.member, y.member));
  const best = ranked[0] as (typeof ranked)[number];
  const tiedMembers = ranked.filter((r) => r.score === best.score).map((r) => r.member);
  // The scored list stands in for the answers while counting; map back to the members' answers.
  const byMember = new Map<string, MemberAnswer<T>>();
  for (const a of answers) if (!byMember.has(a.member)) byMember.set(a.member, a);
  const chosen = byMember.get(best.member) as MemberAnswer<T>;
  const same = options.same ?? sameAnswer;
  const memberAnswers = counted.answers.map((a) => byMember.get(a.member) as MemberAnswer<T>);
  const result: BestOfResult<T> = {
    member: best.member,
    answer: chosen.answer,
    score: best.score,
    tie: tiedMembers.length > 1,
    tiedMembers,
  };
  return buildRecord("best-of", answers, { ...counted, answers: memberAnswers }, result, (i) =>
    same((memberAnswers[i] as MemberAnswer<T>).answer, chosen.answer),
  );
}

function scoreProblem(score: unknown): string | undefined {
  return typeof score === "number" && Number.isFinite(score)
    ? undefined
    : "not scored by the reviewer (no finite score)";
}
