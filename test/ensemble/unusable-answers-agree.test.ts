/**
 * Adaptive asking stops when the first members agree; answers the rule
 * cannot use are no agreement. Two members that both answered an empty
 * label (a model's empty output) used to "agree", so the third member was
 * never asked and the vote had nothing to count (`NoUsableAnswersError`,
 * the task failed on every retry); likewise two non-numbers for a mean.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildEnsembles } from "../../src/config/ensembles.js";
import type { TaskContext } from "../../src/runtime/context.js";
import { ensembleHandler, ensembleSpec } from "../../src/runtime/ensemble.js";

const agents = [
  { id: "triage-1", role: "triage" },
  { id: "a-1", role: "clf-a" },
  { id: "b-1", role: "clf-b" },
  { id: "c-1", role: "clf-c" },
];

function run(combine: string, replies: Record<string, unknown>) {
  const ensembles = buildEnsembles({
    task: {
      members: ["a-1", "b-1", "c-1"],
      combine,
      adaptive: { start: 2, addOnDisagreement: true },
      weights: "equal",
    },
  } as never);
  const spec = ensembleSpec("task", ensembles["task"] as never, agents);
  const asked: string[] = [];
  const ctx = {
    task: { id: "01JD3Q0Z6C2S3V7X8Y9Z0A1B2C", type: "task" },
    body: { text: "question" },
    step: (_name: string, fn: () => Promise<unknown>) => fn(),
    call: async (role: string) => {
      asked.push(role);
      return replies[role];
    },
    effect: () => undefined,
    emit: () => undefined,
    finish: () => undefined,
  } as unknown as TaskContext;
  return { answer: ensembleHandler(spec, {} as never)(ctx), asked };
}

test("weighted-vote: two empty labels are no agreement; the third member is asked", async () => {
  const { answer, asked } = run("weighted-vote", { "clf-a": "", "clf-b": "", "clf-c": "billing" });
  assert.equal(await answer, "billing");
  assert.deepEqual(asked, ["clf-a", "clf-b", "clf-c"]);
});

test("weighted-mean: two answers that are not numbers are no agreement; the third member is asked", async () => {
  const { answer, asked } = run("weighted-mean", { "clf-a": null, "clf-b": 0, "clf-c": 5 });
  // null and 0 "agreed" (Math.max/min read null as 0): the mean was 0 from one answer.
  assert.equal(await answer, 2.5);
  assert.deepEqual(asked, ["clf-a", "clf-b", "clf-c"]);
});
