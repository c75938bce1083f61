/**
 * An ensemble whose members all answered something the rule cannot use
 * (empty labels for a vote) is dead-lettered at once with
 * `E_NO_USABLE_ANSWERS`: a retry replays the same journaled answers and
 * fails the same way. Before, `NoUsableAnswersError` was not permanent, so
 * the task ran `maxDeliver` times for nothing.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildEnsembles } from "../../src/config/ensembles.js";
import { ensembleHandler, ensembleSpec } from "../../src/runtime/ensemble.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

test("members with no usable answer: the ensemble's task is dead-lettered at once", async () => {
  const t = createTestSwarm({
    roles: {
      lead: {},
      desk: { tasks: ["classify"] },
      "w-a": { tasks: ["classify"] },
      "w-b": { tasks: ["classify"] },
    },
    defaults: {
      ackWaitMs: 5000,
      maxDeliver: 4,
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
    ];
    const ensembles = buildEnsembles({
      classify: { members: ["wa", "wb"], combine: "weighted-vote", weights: "equal" },
    } as never);
    const spec = ensembleSpec("classify", ensembles["classify"] as never, agents);
    swarm.agent({ id: "lead", role: "lead" });
    swarm.agent({ id: "wa", role: "w-a" }).handle("classify", () => "");
    swarm.agent({ id: "wb", role: "w-b" }).handle("classify", () => "");
    const inner = ensembleHandler(spec, swarm.store);
    let runs = 0;
    swarm.agent({ id: "desk-1", role: "desk" }).handle("classify", (ctx) => {
      runs++;
      return inner(ctx);
    });
    await swarm.start();
    const taskId = await swarm.submit("desk", "classify", { text: "?" }, { as: "lead" });
    await until(
      async () => (await swarm.store.deadLetters()).some((d) => d.id === taskId),
      10_000,
      "the desk's task dead-lettered",
    );
    const dead = (await swarm.store.deadLetters()).find((d) => d.id === taskId);
    assert.match(dead?.reason ?? "", /none of the 2 answer\(s\) could be used/);
    assert.equal(runs, 1, "not retried");
  } finally {
    await t.cleanup();
  }
});
