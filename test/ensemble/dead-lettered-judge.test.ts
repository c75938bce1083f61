/**
 * A judge whose own task is dead-lettered: the ensemble's task is
 * dead-lettered at once, naming the judge's task, and is not run again
 * (`ChildTaskFailedError` is permanent: a retry would ask the same child
 * task and find the same dead letter). ENSEMBLES.md said it was retried up
 * to `maxDeliver` like a failing handler.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildEnsembles } from "../../src/config/ensembles.js";
import { PermanentError } from "../../src/errors/index.js";
import { ensembleHandler, ensembleSpec } from "../../src/runtime/ensemble.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

test("a dead-lettered judge dead-letters the ensemble's task at once", async () => {
  const t = createTestSwarm({
    roles: {
      lead: {},
      desk: { tasks: ["extract"] },
      "w-a": { tasks: ["extract"] },
      "w-b": { tasks: ["extract"] },
      judges: { tasks: ["ensemble.judge"] },
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
      { id: "judge-1", role: "judges" },
    ];
    const ensembles = buildEnsembles({
      extract: { members: ["wa", "wb"], judge: "judge-1", weights: "equal" },
    } as never);
    const spec = ensembleSpec("extract", ensembles["extract"] as never, agents);
    swarm.agent({ id: "lead", role: "lead" });
    swarm.agent({ id: "wa", role: "w-a" }).handle("extract", () => "billing");
    swarm.agent({ id: "wb", role: "w-b" }).handle("extract", () => "tech");
    swarm.agent({ id: "judge-1", role: "judges" }).handle("ensemble.judge", () => {
      throw new PermanentError("the judge's model is gone");
    });
    const inner = ensembleHandler(spec, swarm.store);
    let runs = 0;
    swarm.agent({ id: "desk-1", role: "desk" }).handle("extract", (ctx) => {
      runs++;
      return inner(ctx);
    });
    await swarm.start();
    const taskId = await swarm.submit("desk", "extract", { text: "charged twice" }, { as: "lead" });
    await until(
      async () => (await swarm.store.deadLetters()).some((d) => d.id === taskId),
      10_000,
      "the desk's task dead-lettered",
    );
    const dead = (await swarm.store.deadLetters()).find((d) => d.id === taskId);
    assert.match(dead?.reason ?? "", /dead-lettered/);
    assert.equal(runs, 1, "not retried");
    assert.equal((await swarm.store.effects("ensemble.decided")).length, 0);
  } finally {
    await t.cleanup();
  }
});
