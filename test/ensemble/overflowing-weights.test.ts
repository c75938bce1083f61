/**
 * Weights are any finite numbers ≥ 0, but their sum may not be finite: two
 * members weighing 1e308 add up to Infinity. The vote then found no label
 * with the top weight (Infinity − Infinity is NaN) and threw a TypeError,
 * the mean divided by Infinity and came out 0, and labels whose weights both
 * overflowed tied. Only the weights' ratios matter to every rule.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bestOf, weightedMean, weightedVote } from "../../src/ensemble/index.js";

describe("weights whose sum is not finite", () => {
  it("weighted-vote: the label still wins, with a finite agreement", () => {
    const record = weightedVote(
      [
        { member: "a", answer: "billing" },
        { member: "b", answer: "billing" },
      ],
      { weights: { a: 1e308, b: 1e308 } },
    );
    assert.equal(record.result.label, "billing");
    assert.equal(record.result.tie, false);
    assert.equal(record.agreement, 1);
  });

  it("weighted-vote: the heavier label wins even when both labels' sums overflow", () => {
    const record = weightedVote(
      [
        { member: "a", answer: "outage" },
        { member: "b", answer: "outage" },
        { member: "c", answer: "billing" },
        { member: "d", answer: "billing" },
        { member: "e", answer: "billing" },
      ],
      { weights: { a: 1.7e308, b: 1.7e308, c: 0.7e308, d: 0.7e308, e: 0.7e308 } },
    );
    // 3.4e308 for outage against 2.1e308 for billing.
    assert.equal(record.result.label, "outage");
    assert.equal(record.result.tie, false);
  });

  it("weighted-mean: the mean of the answers, not 0", () => {
    const record = weightedMean(
      [
        { member: "a", answer: 10 },
        { member: "b", answer: 20 },
      ],
      { weights: { a: 1e308, b: 1e308 } },
    );
    assert.equal(record.result.mean, 15);
    assert.equal(record.result.effectiveSampleSize, 2);
    assert.ok(Number.isFinite(record.agreement));
  });

  it("best-of: agreement stays a share in [0, 1]", () => {
    const record = bestOf(
      [
        { member: "a", answer: "x" },
        { member: "b", answer: "x" },
      ],
      { a: 1, b: 2 },
      { weights: { a: 1e308, b: 1e308 } },
    );
    assert.equal(record.result.member, "b");
    assert.equal(record.agreement, 1);
  });
});
