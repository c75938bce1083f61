import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type AuditedOutcome,
  ENSEMBLE_WEIGHT_PRIOR,
  ensembleWeightKey,
  GROUND_TRUTH_AUDITOR,
  learnedWeights,
  outcomeFromTruth,
  SelfAssessmentError,
  updateWeight,
  weightedVote,
} from "../../src/ensemble/index.js";
import { ConfigError } from "../../src/errors/index.js";
import { updateMarketReputation } from "../../src/market/reputation.js";

const pass = (member: string): AuditedOutcome => ({
  member,
  auditor: "auditor-1",
  verdict: "pass",
});
const fail = (member: string): AuditedOutcome => ({
  member,
  auditor: "auditor-1",
  verdict: "fail",
});

const outcome = fc.oneof(
  fc
    .constantFrom<"pass" | "fail">("pass", "fail")
    .map((verdict): AuditedOutcome => ({ member: "m", auditor: "a", verdict })),
  fc
    .double({ min: -1, max: 2, noNaN: true })
    .map((score): AuditedOutcome => ({ member: "m", auditor: "a", score })),
);

describe("learned weights", () => {
  it("start from the neutral prior and move by alpha toward the outcome", () => {
    assert.equal(ENSEMBLE_WEIGHT_PRIOR, 0.5);
    assert.equal(updateWeight(undefined, pass("m")), 0.6);
    assert.equal(updateWeight(undefined, fail("m")), 0.4);
    assert.equal(updateWeight(0.5, { member: "m", auditor: "a", score: 0.75 }, 0.5), 0.625);
  });

  it("are the market's reputation EMA, not a second one", () => {
    fc.assert(
      fc.property(
        fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
        outcome,
        (previous, o) => {
          const score = "verdict" in o ? (o.verdict === "pass" ? 1 : 0) : o.score;
          assert.equal(updateWeight(previous, o), updateMarketReputation(previous, score, 0.2));
        },
      ),
    );
  });

  it("stay in [0, 1] whatever the outcomes (property)", () => {
    fc.assert(
      fc.property(
        fc.option(fc.double({ min: -5, max: 5, noNaN: true }), { nil: undefined }),
        fc.array(outcome, { maxLength: 60 }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        (start, outcomes, alpha) => {
          let weight = start;
          for (const o of outcomes) {
            weight = updateWeight(weight, o, alpha);
            assert.ok(weight >= 0 && weight <= 1, `weight ${weight}`);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("take an always-right member to the top and an always-wrong one to the bottom (property)", () => {
    fc.assert(
      fc.property(
        fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }),
        (start, mixed) => {
          let right = start as number;
          let wrong = start as number;
          let other = start as number;
          const rounds = 200;
          for (let i = 0; i < rounds; i++) {
            right = updateWeight(right, pass("right"));
            wrong = updateWeight(wrong, fail("wrong"));
            other = updateWeight(other, mixed[i % mixed.length] ? pass("other") : fail("other"));
          }
          // (1 − 0.2)^200 ≈ 4e-20: both have reached the bounds within rounding.
          assert.ok(right > 1 - 1e-12, `always right: ${right}`);
          assert.ok(wrong < 1e-12, `always wrong: ${wrong}`);
          assert.ok(right >= other && other >= wrong);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("change the next combination: a member that keeps being wrong stops deciding votes", () => {
    let weightLarge: number | undefined;
    let weightSmall: number | undefined;
    for (let i = 0; i < 10; i++) {
      weightLarge = updateWeight(weightLarge, fail("clf-large"));
      weightSmall = updateWeight(weightSmall, pass("clf-small"));
    }
    const answers = [
      { member: "clf-large", answer: "outage" },
      { member: "clf-small", answer: "billing" },
    ];
    assert.equal(
      weightedVote(answers, { weights: { "clf-large": 0.9, "clf-small": 0.5 } }).result.label,
      "outage",
    );
    const learned = learnedWeights(
      "classify.ticket",
      ["clf-large", "clf-small"],
      new Map([
        [ensembleWeightKey("clf-large", "classify.ticket"), weightLarge as number],
        [ensembleWeightKey("clf-small", "classify.ticket"), weightSmall as number],
      ]),
    );
    assert.equal(weightedVote(answers, { weights: learned }).result.label, "billing");
  });

  it("never come from the member itself", () => {
    assert.throws(
      () => updateWeight(0.5, { member: "clf-1", auditor: "clf-1", verdict: "pass" }),
      (err: unknown) => err instanceof SelfAssessmentError && err.code === "E_SELF_ASSESSMENT",
    );
    assert.throws(
      () => updateWeight(0.5, { member: "m", auditor: "a", score: Number.NaN }),
      ConfigError,
    );
    assert.throws(() => updateWeight(0.5, pass("m"), 0), ConfigError);
  });

  it("learn from ground truth: labels exactly, numbers within a tolerance", () => {
    assert.deepEqual(outcomeFromTruth("m", "billing", "billing"), {
      member: "m",
      auditor: GROUND_TRUTH_AUDITOR,
      verdict: "pass",
    });
    assert.equal(outcomeFromTruth("m", "Billing", "billing").verdict, "fail");
    assert.equal(outcomeFromTruth("m", 12, 10, { tolerance: 2 }).verdict, "pass");
    assert.equal(outcomeFromTruth("m", 12.5, 10, { tolerance: 2 }).verdict, "fail");
  });

  it("are keyed per member and task type apart from agent reputations", () => {
    assert.equal(
      ensembleWeightKey("clf-small-1", "classify.ticket"),
      "clf-small-1@classify.ticket",
    );
    assert.equal(
      learnedWeights("t", ["never-audited"], new Map()).get("never-audited"),
      ENSEMBLE_WEIGHT_PRIOR,
    );
  });
});
