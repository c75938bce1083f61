/**
 * Weighted mean over numeric answers, with how uncertain it is.
 */
import { ConfigError } from "../errors/index.js";
import {
  buildRecord,
  countAnswers,
  type EnsembleRecord,
  type MemberAnswer,
  type MemberWeights,
} from "./answers.js";

/** The outcome of a {@link weightedMean}. */
export interface MeanResult {
  /** `Σ wᵢxᵢ / Σ wᵢ`. */
  readonly mean: number;
  /**
   * The weighted (population) variance `Σ wᵢ(xᵢ − mean)² / Σ wᵢ`: how far the
   * members are from their consensus. 0 when they all answered the same.
   */
  readonly variance: number;
  /** `√variance`, in the answers' unit. */
  readonly standardDeviation: number;
  /**
   * Kish's effective sample size `(Σ wᵢ)² / Σ wᵢ²`: how many equally weighted
   * answers the mean is worth. n for equal weights, near 1 when one member
   * dominates. `standardDeviation / √effectiveSampleSize` estimates the
   * standard error of the mean.
   */
  readonly effectiveSampleSize: number;
}

/** Options of {@link weightedMean}. */
export interface WeightedMeanOptions {
  /** Weight per member; see {@link MemberWeights}. Default: every member counts the same. */
  readonly weights?: MemberWeights;
  /**
   * An answer within this distance of the mean counts as agreeing with it (for
   * the record's `agreement`). Default 0: only answers equal to the mean agree.
   */
  readonly tolerance?: number;
}

/**
 * Combines numeric answers by weighted mean, with the weighted variance and
 * effective sample size as its uncertainty. An answer that is not a finite
 * number is left out (`rejected`).
 *
 * @throws NoUsableAnswersError when no answer is a finite number.
 * @throws ConfigError on a negative or non-finite weight or tolerance.
 *
 * @example
 * ```ts
 * const record = weightedMean(
 *   [{ member: "a", answer: 10 }, { member: "b", answer: 20 }],
 *   { weights: { a: 3, b: 1 } },
 * );
 * record.result; // { mean: 12.5, variance: 18.75, standardDeviation: 4.33…, effectiveSampleSize: 1.6 }
 * ```
 */
export function weightedMean(
  answers: readonly MemberAnswer<unknown>[],
  options: WeightedMeanOptions = {},
): EnsembleRecord<number, MeanResult> {
  const tolerance = options.tolerance ?? 0;
  if (!(Number.isFinite(tolerance) && tolerance >= 0)) {
    throw new ConfigError(`weighted-mean tolerance must be a finite number ≥ 0, got ${tolerance}`);
  }
  const counted = countAnswers<number>("weighted-mean", answers, numberProblem, options.weights);
  const { weights, totalWeight } = counted;
  const values = counted.answers.map((a) => a.answer);
  // Work with shares wᵢ / Σw: tiny weights would otherwise underflow when squared.
  const shares = weights.map((w) => w / totalWeight);
  let mean = 0;
  let squaredShares = 0;
  values.forEach((x, i) => {
    const share = shares[i] as number;
    mean += share * x;
    squaredShares += share * share;
  });
  let variance = 0;
  values.forEach((x, i) => {
    variance += (shares[i] as number) * (x - mean) ** 2;
  });
  const result: MeanResult = {
    mean,
    variance,
    standardDeviation: Math.sqrt(variance),
    effectiveSampleSize: 1 / squaredShares,
  };
  return buildRecord(
    "weighted-mean",
    answers,
    counted,
    result,
    (i) => Math.abs((values[i] as number) - mean) <= tolerance,
  );
}

function numberProblem(answer: unknown): string | undefined {
  return typeof answer === "number" && Number.isFinite(answer) ? undefined : "not a finite number";
}
