/**
 * What every combination rule shares: members' answers, the weights they are
 * counted with, the record a combination returns, and the helpers that fill
 * it in the same way for every rule.
 */
import { ConfigError } from "../errors/index.js";
import { NEUTRAL_REPUTATION } from "../market/reputation.js";
import { NoUsableAnswersError } from "./errors.js";

/** The combination rules an ensemble can use, as named in `swarm.yaml`. */
export const combineRules = [
  "weighted-vote",
  "weighted-mean",
  "best-of",
  "judge",
  "stacking",
] as const;

/** One of {@link combineRules}. */
export type CombineRule = (typeof combineRules)[number];

/** One member's answer to the ensemble's task. */
export interface MemberAnswer<T> {
  /** The member's agent id. */
  readonly member: string;
  readonly answer: T;
  /** What asking this member cost, in integer credits, when it was metered. */
  readonly cost?: number;
}

/** An answer a rule could not use, and why. */
export interface RejectedAnswer {
  readonly member: string;
  readonly reason: string;
}

/**
 * How much each member counts: a map or a plain record from agent id to a
 * finite weight ≥ 0. A member missing from it counts
 * {@link DEFAULT_MEMBER_WEIGHT}, the same value the learned weights start from,
 * so a member nobody has audited yet counts like an average one.
 */
export type MemberWeights = ReadonlyMap<string, number> | Readonly<Record<string, number>>;

/** How a rule weighs members and decides that two answers agree. */
export interface AgreementOptions {
  /** Weight per member; see {@link MemberWeights}. Default: every member counts the same. */
  readonly weights?: MemberWeights;
  /** How `agreement` decides that two answers are the same. Default {@link sameAnswer}. */
  readonly same?: (a: unknown, b: unknown) => boolean;
}

/** The weight of a member without one: the prior of the learned weights. */
export const DEFAULT_MEMBER_WEIGHT = NEUTRAL_REPUTATION;

/**
 * What one combination did, for the `ensemble.decided` event and the ROI
 * report: who answered what, how much each answer counted, the result, how
 * much the members agreed with it, and what it cost.
 */
export interface EnsembleRecord<T, R> {
  readonly rule: CombineRule;
  /** Every member whose answer was handed to the rule, usable or not, in the order given. */
  readonly asked: readonly string[];
  /** The answers the rule counted. */
  readonly answers: readonly MemberAnswer<T>[];
  /** The answers the rule left out, with the reason. */
  readonly rejected: readonly RejectedAnswer[];
  /**
   * The weight each counted answer had. When every weight was 0 (every member
   * learned to be wrong) the rule counts each answer 1 so that it still
   * decides, and these are the 1s; when their sum is not finite, each is
   * counted relative to the largest (which counts 1).
   */
  readonly weights: Readonly<Record<string, number>>;
  readonly result: R;
  /**
   * In [0, 1]: the share of the counted weight whose answer agrees with the
   * result (the same answer, or for numbers within the tolerance of the mean).
   * 1 is unanimity.
   */
  readonly agreement: number;
  /**
   * Credits spent: the members' metered costs plus, for `judge` and
   * `stacking`, the model call's. Undefined when nothing was metered.
   */
  readonly cost: number | undefined;
}

/** Answers split into the usable ones (with their weights) and the rejected ones. */
export interface CountedAnswers<T> {
  readonly answers: MemberAnswer<T>[];
  readonly rejected: RejectedAnswer[];
  readonly weights: number[];
  readonly totalWeight: number;
}

/**
 * Checks each answer with `problem` (a reason to reject it, or undefined),
 * looks up the weights of the usable ones, and falls back to equal weights
 * when they are all 0. A member that answers twice is counted once (its
 * first answer), so a retried call cannot double a vote.
 *
 * @throws ConfigError on a negative, NaN or infinite weight.
 * @throws NoUsableAnswersError when no answer is usable.
 */
export function countAnswers<T>(
  rule: CombineRule,
  answers: readonly MemberAnswer<unknown>[],
  problem: (answer: unknown) => string | undefined,
  weights: MemberWeights | undefined,
): CountedAnswers<T> {
  const counted: MemberAnswer<T>[] = [];
  const rejected: RejectedAnswer[] = [];
  const seen = new Set<string>();
  for (const entry of answers) {
    if (seen.has(entry.member)) {
      rejected.push({ member: entry.member, reason: "answered more than once; first answer kept" });
      continue;
    }
    seen.add(entry.member);
    const reason = problem(entry.answer);
    if (reason === undefined) counted.push(entry as MemberAnswer<T>);
    else rejected.push({ member: entry.member, reason });
  }
  if (counted.length === 0) throw new NoUsableAnswersError(rule, rejected);
  let list = counted.map((a) => weightOf(weights, a.member));
  let totalWeight = sum(list);
  if (!Number.isFinite(totalWeight)) {
    // Finite weights whose sum overflows (two of 1e308): only their ratios
    // matter to every rule, so count them relative to the largest.
    const largest = Math.max(...list);
    list = list.map((w) => w / largest);
    totalWeight = sum(list);
  }
  if (totalWeight === 0) {
    list = counted.map(() => 1);
    totalWeight = counted.length;
  }
  return { answers: counted, rejected, weights: list, totalWeight };
}

/** The weight of `member`, validated. */
export function weightOf(weights: MemberWeights | undefined, member: string): number {
  const value =
    weights === undefined
      ? undefined
      : weights instanceof Map
        ? weights.get(member)
        : Object.hasOwn(weights, member)
          ? (weights as Readonly<Record<string, number>>)[member]
          : undefined;
  if (value === undefined) return DEFAULT_MEMBER_WEIGHT;
  if (!(Number.isFinite(value) && value >= 0)) {
    throw new ConfigError(
      `weight of ensemble member "${member}" must be a finite number ≥ 0, got ${value}; learned weights lie in [0, 1]`,
    );
  }
  return value;
}

/** Sum of the metered costs, or undefined when none was metered. */
export function meteredCost(
  answers: readonly { readonly cost?: number | undefined }[],
  extra?: number,
): number | undefined {
  let total: number | undefined;
  for (const { cost } of [...answers, { cost: extra }]) {
    if (cost !== undefined) total = (total ?? 0) + cost;
  }
  return total;
}

/**
 * The parts of the record every rule fills the same way. `agrees(i)` says
 * whether counted answer `i` agrees with the result.
 */
export function buildRecord<T, R>(
  rule: CombineRule,
  given: readonly MemberAnswer<unknown>[],
  counted: CountedAnswers<T>,
  result: R,
  agrees: (index: number) => boolean,
  extraCost?: number,
): EnsembleRecord<T, R> {
  let agreeing = 0;
  const weights: Record<string, number> = {};
  counted.answers.forEach((a, i) => {
    const w = counted.weights[i] as number;
    weights[a.member] = w;
    if (agrees(i)) agreeing += w;
  });
  return {
    rule,
    asked: given.map((a) => a.member),
    answers: counted.answers,
    rejected: counted.rejected,
    weights,
    result,
    agreement: clampUnit(agreeing / counted.totalWeight),
    cost: meteredCost(given, extraCost),
  };
}

/**
 * Whether two answers are the same: `Object.is` for primitives, equal JSON
 * with object keys sorted for objects and arrays (so `{a,b}` equals `{b,a}`).
 */
export function sameAnswer(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  return sortedJson(a) === sortedJson(b);
}

function sortedJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : v,
  );
}

/**
 * Whether two sums of weights are equal up to rounding: weights like 0.1 and
 * 0.2 add up differently in different orders, and a tie must not depend on
 * the order the answers arrived in.
 */
export function sameWeight(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

export function sum(values: readonly number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

function clampUnit(value: number): number {
  return Math.min(1, Math.max(0, value));
}

/** Compares strings by UTF-16 code units, the same on every platform and locale. */
export function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
