/**
 * A best-of reviewer whose reply scores no candidate (every score a string,
 * `"9"` instead of `9`, or `scores: {}`) gave a reply that cannot be used,
 * like a reply without JSON: the reviewer is asked again once, told what was
 * wrong. It used to reach `bestOf` as an empty score map, which threw
 * `NoUsableAnswersError` (permanent): the task was dead-lettered at once,
 * without the second ask, with a reason blaming the members' answers
 * ("check the members' output parsing") that were fine.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildEnsembles } from "../../src/config/ensembles.js";
import {
  type CombinerQuestion,
  type EnsembleDecision,
  ensembleHandler,
  ensembleSpec,
} from "../../src/runtime/ensemble.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

/** Runs one best-of task whose reviewer replies `replies[n]` to its n-th ask. */
async function reviewWith(replies: readonly unknown[]) {
  const t = createTestSwarm({
    roles: {
      lead: {},
      desk: { tasks: ["write"] },
      "w-a": { tasks: ["write"] },
      "w-b": { tasks: ["write"] },
      reviewers: { tasks: ["ensemble.review"] },
    },
    defaults: {
      ackWaitMs: 5000,
      maxDeliver: 3,
      backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
    },
  });
  try {
    const { swarm } = t;
    const agents = [
      { id: "lead", role: "lead" },
      { id: "desk-1", role: "desk" },
      { id: "wa", role: "w-a" },
      { id: "wb", role: "w-b" },
      { id: "reviewer-1", role: "reviewers" },
    ];
    const ensembles = buildEnsembles({
      write: { members: ["wa", "wb"], reviewer: "reviewer-1", weights: "equal" },
    } as never);
    const spec = ensembleSpec("write", ensembles["write"] as never, agents);
    swarm.agent({ id: "lead", role: "lead" });
    swarm.agent({ id: "wa", role: "w-a" }).handle("write", () => "a short draft");
    swarm.agent({ id: "wb", role: "w-b" }).handle("write", () => "a longer draft");
    const asked: CombinerQuestion[] = [];
    swarm.agent({ id: "reviewer-1", role: "reviewers" }).handle("ensemble.review", (ctx) => {
      asked.push(ctx.body as CombinerQuestion);
      return replies[Math.min(asked.length, replies.length) - 1];
    });
    swarm.agent({ id: "desk-1", role: "desk" }).handle("write", ensembleHandler(spec, swarm.store));
    await swarm.start();
    const taskId = await swarm.submit("desk", "write", { text: "?" }, { as: "lead" });
    await until(
      async () =>
        (await swarm.store.effects("ensemble.decided")).length > 0 ||
        (await swarm.store.deadLetters()).some((d) => d.id === taskId),
      10_000,
      "the task decided or dead-lettered",
    );
    const decided = (await swarm.store.effects("ensemble.decided"))[0]?.data as
      | EnsembleDecision
      | undefined;
    const dead = (await swarm.store.deadLetters()).find((d) => d.id === taskId);
    return { decided, reason: dead?.reason, asked };
  } finally {
    await t.cleanup();
  }
}

test("a reviewer that scores no candidate is asked again, told why", async () => {
  const { decided, reason, asked } = await reviewWith([
    { scores: { A: "6", B: "9" } },
    { scores: { A: 6, B: 9 } },
  ]);
  assert.equal(reason, undefined, `not dead-lettered (${reason})`);
  assert.equal(asked.length, 2, "asked a second time");
  assert.match(asked[1]?.previousError ?? "", /no candidate has a finite score/);
  assert.equal(decided?.answer, "a longer draft");
  assert.deepEqual(decided?.combinedBy?.steps, ["ensemble-best-of/1", "ensemble-best-of/2"]);
});

test("a reviewer that never scores a candidate: the reason names the reviewer's replies, not the members", async () => {
  const { decided, reason, asked } = await reviewWith([{ scores: {} }]);
  assert.equal(decided, undefined);
  assert.equal(asked.length, 2);
  assert.match(
    reason ?? "",
    /ensemble write: role "reviewers" was asked 2 times \(ensemble\.review\) and no reply could be used/,
  );
  assert.doesNotMatch(reason ?? "", /members' output parsing/);
});
