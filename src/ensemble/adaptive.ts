/**
 * Adaptive asking: ask the cheapest members first and more only when they
 * disagree, so that agreement (the common case) costs fewer calls than asking
 * everyone.
 *
 * The plan is a pure function of the replies received so far: whom to ask
 * follows from them alone. A runtime that journals each reply and replays them
 * after a crash therefore gets the same plan again, with no planner state to
 * persist.
 */
import { ConfigError } from "../errors/index.js";
import { byCodeUnits, type MemberAnswer } from "./answers.js";

/** A member the plan may ask, with what asking it costs (credits, or any consistent unit). */
export interface AdaptiveMember {
  readonly id: string;
  /** Expected cost of one call, a finite number ≥ 0. Members without one are asked after every priced one. */
  readonly cost?: number;
}

/** Whether a set of answers counts as agreement. Called with at least one answer. */
export type AgreementTest<T> = (answers: readonly T[]) => boolean;

/** Agreement for labels: every answer is the same label. */
export const labelsAgree: AgreementTest<unknown> = (answers) =>
  answers.every((a) => a === answers[0]);

/**
 * Agreement for numbers: every answer lies within `tolerance` of every other
 * (max − min ≤ tolerance).
 *
 * @throws ConfigError if `tolerance` is negative or not finite.
 */
export function numbersWithin(tolerance: number): AgreementTest<number> {
  if (!(Number.isFinite(tolerance) && tolerance >= 0)) {
    throw new ConfigError(`agreement tolerance must be a finite number ≥ 0, got ${tolerance}`);
  }
  return (answers) => Math.max(...answers) - Math.min(...answers) <= tolerance;
}

/** How an ensemble asks its members; the `adaptive` block of `swarm.yaml`. */
export interface AdaptiveConfig<T> {
  readonly members: readonly AdaptiveMember[];
  /** How many members to ask first (the cheapest). At least 1. */
  readonly start: number;
  /** Ask more members when the answers so far disagree. */
  readonly addOnDisagreement: boolean;
  /** At most this many members are asked. Default: all of them. */
  readonly maxMembers?: number;
  /** Members added per round of disagreement. Default 1. */
  readonly step?: number;
  /** The rule's agreement test, e.g. {@link labelsAgree} or `numbersWithin(0.5)`. */
  readonly agree: AgreementTest<T>;
}

/** A member that was asked and did not answer (error, timeout, unparsable output). */
export interface MemberFailure {
  readonly member: string;
  readonly error: string;
}

/** What a member sent back: an answer or a failure. */
export type MemberReply<T> = MemberAnswer<T> | MemberFailure;

/** The plan's next move. */
export type AdaptiveStep<T> =
  /** Ask these members now (in addition to those already asked). */
  | { readonly kind: "ask"; readonly members: readonly string[] }
  /** Members already asked have not replied yet; wait for them. */
  | { readonly kind: "wait"; readonly members: readonly string[] }
  /** Nobody else will be asked: combine `outcome.answers`. */
  | { readonly kind: "done"; readonly outcome: AdaptiveOutcome<T> };

/** How the asking went, for the record and the saving report. */
export interface AdaptiveOutcome<T> {
  /** Members asked, cheapest first. */
  readonly asked: readonly string[];
  readonly answers: readonly MemberAnswer<T>[];
  readonly failures: readonly MemberFailure[];
  /** Whether the answers passed the agreement test (with at least `start` of them). */
  readonly agreed: boolean;
  /** Calls saved against always asking `maxMembers` members. */
  readonly callsSaved: number;
  /**
   * Cost saved against always asking the `maxMembers` cheapest members: the
   * costs of those not asked. Undefined when one of them has no cost.
   */
  readonly costSaved: number | undefined;
}

/** A plan over one ensemble configuration; see {@link createAdaptivePlan}. */
export interface AdaptivePlan<T> {
  /** The members in the order they are asked (cheapest first), cut to `maxMembers`. */
  readonly order: readonly string[];
  /**
   * The next move given every reply received so far (in any order). Replies
   * from members the plan has not asked are ignored.
   */
  next(replies: readonly MemberReply<T>[]): AdaptiveStep<T>;
}

/**
 * Creates an adaptive plan. Members are ordered by cost, cheapest first (equal
 * costs by id); the plan asks the first `start`. When they have all replied:
 *
 * - at least `start` answers that agree → done;
 * - fewer than `start` answers (some failed) → ask replacements for the failed;
 * - disagreement with `addOnDisagreement` → ask the next `step` members;
 * - otherwise, or when `maxMembers` are asked → done with what there is.
 *
 * So when the first `start` members agree, nobody else is asked.
 *
 * @throws ConfigError on an empty or duplicated member list, a cost that is
 * not a finite number ≥ 0, or `start`, `maxMembers` or `step` out of range.
 *
 * @example
 * ```ts
 * const plan = createAdaptivePlan({
 *   members: [{ id: "clf-large", cost: 40 }, { id: "clf-small-1", cost: 2 }, { id: "clf-small-2", cost: 3 }],
 *   start: 2, addOnDisagreement: true, maxMembers: 3, agree: labelsAgree,
 * });
 * plan.next([]); // { kind: "ask", members: ["clf-small-1", "clf-small-2"] }
 * plan.next([{ member: "clf-small-1", answer: "billing" }, { member: "clf-small-2", answer: "billing" }]);
 * // { kind: "done", outcome: { agreed: true, callsSaved: 1, costSaved: 40, … } }
 * ```
 */
export function createAdaptivePlan<T>(config: AdaptiveConfig<T>): AdaptivePlan<T> {
  const ids = config.members.map((m) => m.id);
  if (ids.length === 0) throw new ConfigError("an adaptive ensemble needs at least one member");
  if (new Set(ids).size !== ids.length) {
    throw new ConfigError(`ensemble members must be distinct, got ${ids.join(", ")}`);
  }
  for (const { id, cost } of config.members) {
    // A NaN compares as neither cheaper nor dearer: the order would stop being "cheapest first".
    if (cost !== undefined && !(Number.isFinite(cost) && cost >= 0)) {
      throw new ConfigError(
        `cost of ensemble member "${id}" must be a finite number ≥ 0, got ${cost}; leave it out to ask the member after every priced one`,
      );
    }
  }
  const maxMembers = config.maxMembers ?? ids.length;
  const step = config.step ?? 1;
  requireCount("maxMembers", maxMembers, 1, ids.length);
  requireCount("start", config.start, 1, maxMembers);
  requireCount("step", step, 1, maxMembers);
  const ordered = [...config.members]
    .sort(
      (a, b) =>
        (a.cost ?? Number.POSITIVE_INFINITY) - (b.cost ?? Number.POSITIVE_INFINITY) ||
        byCodeUnits(a.id, b.id),
    )
    .slice(0, maxMembers);
  const order = ordered.map((m) => m.id);

  const next = (replies: readonly MemberReply<T>[]): AdaptiveStep<T> => {
    const byMember = new Map<string, MemberReply<T>>();
    for (const reply of replies) if (!byMember.has(reply.member)) byMember.set(reply.member, reply);
    // Replay the rounds: each round's decision depends only on the replies to the members asked so far.
    let asked = config.start;
    for (;;) {
      const pending = order.slice(0, asked).filter((id) => !byMember.has(id));
      if (pending.length > 0) {
        return asked === config.start && pending.length === asked
          ? { kind: "ask", members: pending }
          : { kind: "wait", members: pending };
      }
      const round = order.slice(0, asked).map((id) => byMember.get(id) as MemberReply<T>);
      const answers = round.filter(isAnswer);
      const enough = answers.length >= config.start;
      const agreed = enough && config.agree(answers.map((a) => a.answer));
      const more = !enough
        ? config.start - answers.length
        : !agreed && config.addOnDisagreement
          ? step
          : 0;
      const nextAsked = Math.min(order.length, asked + more);
      if (nextAsked === asked) {
        const unasked = ordered.slice(asked);
        const costs = unasked.map((m) => m.cost);
        return {
          kind: "done",
          outcome: {
            asked: order.slice(0, asked),
            answers,
            failures: round.filter((r): r is MemberFailure => !isAnswer(r)),
            agreed,
            callsSaved: unasked.length,
            costSaved: costs.every((c) => c !== undefined)
              ? costs.reduce((sum, c) => sum + c, 0)
              : undefined,
          },
        };
      }
      const newlyAsked = order.slice(asked, nextAsked);
      asked = nextAsked;
      if (newlyAsked.every((id) => !byMember.has(id))) return { kind: "ask", members: newlyAsked };
    }
  };
  return { order, next };
}

function isAnswer<T>(reply: MemberReply<T>): reply is MemberAnswer<T> {
  return !("error" in reply);
}

function requireCount(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(
      `adaptive ${name} must be a whole number from ${min} to ${max}, got ${value}`,
    );
  }
}
