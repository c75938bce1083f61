/**
 * Validation of auction terms. Bad terms are a programming or configuration
 * mistake, found before any bid is taken: every check throws an
 * `AuctionTermsError` naming the term and saying what to write instead.
 */
import { AuctionTermsError } from "../errors/index.js";
import {
  type AuctionTerms,
  auctionRules,
  auctionSides,
  type Criterion,
  DEFAULT_ENGLISH_MAX_ROUNDS,
  type ResolvedTerms,
} from "./types.js";

/** Auction ids travel as envelope `corr` and in bodies: the envelope's reference alphabet. */
export const auctionIdPattern: RegExp = /^[\x20-\x7e]{1,128}$/;

/** Criterion names: keys of a bid's `criteria` object, safe as JSON keys in every language. */
export const criterionNamePattern: RegExp = /^[a-z][a-z0-9_-]{0,63}$/;

/** Most criteria one auction may list (and one bid may carry). */
export const MAX_CRITERIA = 64;

const SEALED_OR_CLOCK = "sealed rules and dutch run exactly one round";

/**
 * Checks terms and fills in defaults (`maxRounds`). Returns a frozen copy.
 *
 * @throws AuctionTermsError naming the first term to fix.
 *
 * @example
 * ```ts
 * resolveTerms({ id: "a1", rule: "english", side: "sale", roundMs: 1000, minIncrement: 5 }).maxRounds; // 5
 * resolveTerms({ id: "a1", rule: "english", side: "sale", roundMs: 1000 }); // throws: minIncrement is required…
 * ```
 */
export function resolveTerms(terms: AuctionTerms): ResolvedTerms {
  if (typeof terms !== "object" || terms === null) {
    throw new AuctionTermsError("terms", "must be an object { id, rule, side, roundMs, … }");
  }
  if (typeof terms.id !== "string" || !auctionIdPattern.test(terms.id)) {
    throw new AuctionTermsError("id", "must be 1-128 printable ASCII characters (use a ULID)");
  }
  if (!(auctionRules as readonly string[]).includes(terms.rule)) {
    throw new AuctionTermsError("rule", `must be one of ${auctionRules.join(", ")}`);
  }
  if (!(auctionSides as readonly string[]).includes(terms.side)) {
    throw new AuctionTermsError(
      "side",
      'must be "sale" (the auctioneer sells, the winner pays) or "procurement" (the auctioneer buys work, the winner is paid)',
    );
  }
  requireWholeNumber(terms.roundMs, "roundMs", 1, "how long a round takes bids, in ms");
  if (terms.reserve !== undefined) {
    requireWholeNumber(
      terms.reserve,
      "reserve",
      0,
      terms.side === "sale" ? "the minimum price in credits" : "the maximum payment in credits",
    );
  }
  checkCriteria(terms);
  const maxRounds = checkRounds(terms);
  checkIncrement(terms);
  checkClock(terms);
  return Object.freeze({ ...terms, maxRounds });
}

/** A safe integer ≥ `min`, or a message about `field`. */
function requireWholeNumber(value: unknown, field: string, min: number, meaning: string): void {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new AuctionTermsError(
      field,
      `must be a whole number ≥ ${min} (${meaning}), got ${String(value)}`,
    );
  }
}

function forbid(terms: AuctionTerms, field: keyof AuctionTerms, appliesTo: string): void {
  if (terms[field] !== undefined) {
    throw new AuctionTermsError(
      field,
      `applies only to ${appliesTo}; remove it from a ${terms.rule} auction`,
    );
  }
}

function checkCriteria(terms: AuctionTerms): void {
  if (terms.rule !== "multi-criteria") {
    forbid(terms, "criteria", "multi-criteria auctions");
    return;
  }
  const criteria: readonly Criterion[] | undefined = terms.criteria;
  if (!Array.isArray(criteria) || criteria.length === 0) {
    throw new AuctionTermsError(
      "criteria",
      'is required for multi-criteria: list at least one { name, weight, direction }, e.g. { name: "price", weight: 2, direction: "min" }',
    );
  }
  if (criteria.length > MAX_CRITERIA) {
    throw new AuctionTermsError("criteria", `may list at most ${MAX_CRITERIA} criteria`);
  }
  const names = new Set<string>();
  criteria.forEach((criterion, index) => {
    const at = `criteria.${index}`;
    if (typeof criterion !== "object" || criterion === null) {
      throw new AuctionTermsError(at, "must be an object { name, weight, direction }");
    }
    if (typeof criterion.name !== "string" || !criterionNamePattern.test(criterion.name)) {
      throw new AuctionTermsError(
        `${at}.name`,
        "must be 1-64 characters: a lower-case letter, then a-z 0-9 _ -",
      );
    }
    if (names.has(criterion.name)) {
      throw new AuctionTermsError(
        `${at}.name`,
        `repeats "${criterion.name}"; list each criterion once`,
      );
    }
    names.add(criterion.name);
    if (
      typeof criterion.weight !== "number" ||
      !Number.isFinite(criterion.weight) ||
      criterion.weight <= 0
    ) {
      throw new AuctionTermsError(
        `${at}.weight`,
        `must be a finite number > 0, got ${String(criterion.weight)}; drop the criterion instead of weighting it 0`,
      );
    }
    if (criterion.direction !== "min" && criterion.direction !== "max") {
      throw new AuctionTermsError(
        `${at}.direction`,
        'must be "min" (less is better, e.g. price) or "max" (more is better, e.g. quality)',
      );
    }
  });
}

function checkRounds(terms: AuctionTerms): number {
  if (terms.rule === "english") {
    if (terms.maxRounds === undefined) return DEFAULT_ENGLISH_MAX_ROUNDS;
    requireWholeNumber(terms.maxRounds, "maxRounds", 1, "the most rounds the auction runs");
    return terms.maxRounds;
  }
  if (terms.maxRounds !== undefined && terms.maxRounds !== 1) {
    throw new AuctionTermsError(
      "maxRounds",
      `must be 1 or absent for ${terms.rule}: ${SEALED_OR_CLOCK}; use "english" for several rounds`,
    );
  }
  return 1;
}

function checkIncrement(terms: AuctionTerms): void {
  if (terms.rule !== "english") {
    forbid(terms, "minIncrement", "english auctions");
    return;
  }
  const increment = terms.minIncrement;
  if (typeof increment !== "number" || !Number.isFinite(increment) || increment <= 0) {
    throw new AuctionTermsError(
      "minIncrement",
      `is required for english and must be a finite number > 0 (how much each raise must beat the standing bid by, in credits), got ${String(increment)}`,
    );
  }
}

function checkClock(terms: AuctionTerms): void {
  if (terms.rule !== "dutch") {
    forbid(terms, "startPrice", "dutch auctions");
    forbid(terms, "step", "dutch auctions");
    forbid(terms, "stepMs", "dutch auctions");
    return;
  }
  requireWholeNumber(terms.startPrice, "startPrice", 0, "the clock's first price in credits");
  requireWholeNumber(terms.step, "step", 1, "credits the clock moves per step");
  requireWholeNumber(terms.stepMs, "stepMs", 1, "ms between clock steps");
  const start = terms.startPrice as number;
  if (terms.side === "sale") {
    const floor = terms.reserve ?? 0;
    if (start < floor) {
      throw new AuctionTermsError(
        "startPrice",
        `(${start}) is below the reserve (${floor}): a descending sale clock must start at or above the reserve`,
      );
    }
    return;
  }
  if (terms.reserve === undefined) {
    throw new AuctionTermsError(
      "reserve",
      "is required for a procurement dutch auction: it is the ceiling the rising offer stops at",
    );
  }
  if (start > terms.reserve) {
    throw new AuctionTermsError(
      "startPrice",
      `(${start}) is above the reserve (${terms.reserve}): a rising procurement offer must start at or below the most you will pay`,
    );
  }
}
