/**
 * A reviewer's, judge's or combiner's reply is read as "a JSON object, or
 * text holding one — a code fence or prose around it is tolerated"
 * (ENSEMBLES.md). The object was taken from the first `{` to the last `}`
 * of the text, so prose that itself held a brace ("I prefer {B}", "see
 * {note}") made the reply unusable: a second paid ask, or a dead letter.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CombinerReplyError,
  parseJudgeVerdict,
  prepareJudgeInput,
} from "../../src/ensemble/index.js";

const input = prepareJudgeInput("Classify the ticket.", [
  { member: "clf-a", answer: "billing" },
  { member: "clf-b", answer: "refund" },
]);

describe("a reply whose prose holds braces", () => {
  it("reads the object after a brace in the prose before it", () => {
    const verdict = parseJudgeVerdict(
      'Between {A} and {B}, B is better.\n```json\n{"choice": "B", "reasons": "more specific"}\n```',
      input,
    );
    assert.equal(verdict.member, "clf-b");
  });

  it("reads the object before a brace in the prose after it", () => {
    const verdict = parseJudgeVerdict(
      '{"choice": "A", "reasons": "the charge {twice} is billing"} (answers were {A, B})',
      input,
    );
    assert.equal(verdict.member, "clf-a");
    assert.equal(verdict.reason, "the charge {twice} is billing");
  });

  it("still refuses text with braces but no JSON object", () => {
    assert.throws(() => parseJudgeVerdict("I prefer {B}.", input), CombinerReplyError);
  });
});

it("reads the object after prose whose brace opens an unclosed quote", () => {
  const verdict = parseJudgeVerdict(
    'Between {A and "B} I lean to B. {"choice": "B", "reasons": "more specific"}',
    input,
  );
  assert.equal(verdict.member, "clf-b");
});
