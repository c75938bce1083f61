/**
 * An agent may be called `ground-truth` (a valid id), which is also the
 * auditor name of verdicts drawn from a task's truth. Learning from a task's
 * truth then read as the member auditing itself: `SelfAssessmentError`
 * inside the weight update failed the task after its learning claim was
 * taken, so every task with a truth failed once, and neither that member nor
 * the members after it ever learned from it.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { ensembleWeightKey, SelfAssessmentError, updateWeight } from "../../src/ensemble/index.js";
import { learnFromTruth, type WeightStore } from "../../src/runtime/ensemble-weights.js";

it("a member named ground-truth learns from the task's truth like any other", async () => {
  const scores = new Map<string, number>();
  const store = {
    claimIdempotencyKey: async () => ({ first: true }),
    updateReputation: async (key: string, update: (previous: number | undefined) => number) => {
      const score = update(scores.get(key));
      scores.set(key, score);
      return { agent: key, score, at: 0 };
    },
    reputations: async () => [],
  } as unknown as WeightStore;
  await learnFromTruth(
    store,
    "01JD3Q0Z6C2S3V7X8Y9Z0A1B2C",
    "classify",
    [
      { member: "ground-truth", answer: "billing" },
      { member: "clf-b", answer: "refund" },
    ],
    "billing",
    0,
  );
  assert.equal(scores.get(ensembleWeightKey("ground-truth", "classify")), 0.6);
  assert.equal(scores.get(ensembleWeightKey("clf-b", "classify")), 0.4);
});

it("an auditor agent still cannot grade its own answer", () => {
  assert.throws(
    () => updateWeight(0.5, { member: "auditor-1", auditor: "auditor-1", verdict: "pass" }),
    SelfAssessmentError,
  );
});
