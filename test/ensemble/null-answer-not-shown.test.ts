/**
 * A member that returned nothing answers `null` once its reply is journaled
 * (and on every redelivery). The reviewer, the judge and the combiner are
 * shown no candidate for it, as for `undefined`: before, a `null` answer
 * was shown under a letter and could be chosen as the ensemble's answer.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type MemberAnswer,
  NoUsableAnswersError,
  prepareJudgeInput,
  prepareReviewInput,
  prepareStackingInput,
} from "../../src/ensemble/index.js";

const answers: MemberAnswer<string | null>[] = [
  { member: "m-1", answer: null },
  { member: "m-2", answer: "billing" },
];

test("a null answer is left out of what the judge, reviewer and combiner see", () => {
  const judge = prepareJudgeInput("Classify.", answers);
  assert.deepEqual(
    judge.candidates.map((c) => c.answer),
    ["billing"],
  );
  const review = prepareReviewInput("Classify.", answers);
  assert.deepEqual(
    review.candidates.map((c) => c.answer),
    ["billing"],
  );
  const stacking = prepareStackingInput("Classify.", answers);
  assert.deepEqual(
    stacking.members.map((c) => c.answer),
    ["billing"],
  );
  assert.throws(
    () => prepareJudgeInput("Classify.", [{ member: "m-1", answer: null }]),
    NoUsableAnswersError,
  );
});
