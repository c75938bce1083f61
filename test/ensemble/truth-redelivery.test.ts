/**
 * Learned weights and a task's own ground truth:
 * - the weights a combination counts are journaled as the handler's first
 *   step, so a task redelivered after it learned from its truth (a crash
 *   before the task committed) is decided, and recorded, with the weights
 *   its first run read, not with weights that already know its answer;
 * - a JSON (object) answer equal to the truth, keys in any order, is right:
 *   its member gains weight, the member that answered otherwise loses it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildEnsembles } from "../../src/config/ensembles.js";
import { outcomeFromTruth } from "../../src/ensemble/index.js";
import { ensembleHandler, ensembleSpec } from "../../src/runtime/ensemble.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

const fast = {
  ackWaitMs: 5000,
  maxDeliver: 5,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

type Decided = { answer: unknown; record: { weights: Record<string, number> } };

test("a redelivered ensemble task is decided with the weights its first run read", async () => {
  const t = createTestSwarm({
    roles: {
      lead: {},
      triage: { tasks: ["classify"] },
      "clf-a": { tasks: ["classify"] },
      "clf-b": { tasks: ["classify"] },
    },
    defaults: fast,
  });
  try {
    const { swarm } = t;
    const agents = [
      { id: "lead", role: "lead" },
      { id: "triage-1", role: "triage" },
      { id: "a-1", role: "clf-a" },
      { id: "b-1", role: "clf-b" },
    ];
    const ensembles = buildEnsembles({
      classify: { members: ["a-1", "b-1"], weights: "learned", tolerance: 0 },
    } as never);
    const spec = ensembleSpec("classify", ensembles["classify"]!, agents);
    swarm.agent({ id: "lead", role: "lead" });
    swarm.agent({ id: "a-1", role: "clf-a" }).handle("classify", () => "billing");
    swarm.agent({ id: "b-1", role: "clf-b" }).handle("classify", () => "tech");
    const inner = ensembleHandler(spec, swarm.store);
    let runs = 0;
    swarm.agent({ id: "triage-1", role: "triage" }).handle("classify", async (ctx) => {
      const answer = await inner(ctx);
      // The process dies after the handler ran (and learned), before the task committed.
      if (++runs === 1) throw new Error("crash before commit");
      return answer;
    });
    await swarm.start();
    await swarm.submit("triage", "classify", { text: "ambiguous", truth: "tech" }, { as: "lead" });
    await until(
      async () => (await swarm.store.effects("ensemble.decided")).length === 1,
      10_000,
      "decided",
    );
    assert.equal(runs, 2);
    const d = (await swarm.store.effects("ensemble.decided"))[0]!.data as Decided;
    // As without the crash: the prior 0.5 each, a tie, "billing" (sorts first).
    assert.deepEqual(d.record.weights, { "a-1": 0.5, "b-1": 0.5 });
    assert.equal(d.answer, "billing");
    // The truth was learned once, not twice.
    const w = new Map(
      (await swarm.store.reputations(["a-1@classify", "b-1@classify"])).map((r) => [
        r.agent,
        r.score,
      ]),
    );
    assert.ok(Math.abs((w.get("a-1@classify") ?? 0) - 0.4) < 1e-9, String(w.get("a-1@classify")));
    assert.ok(Math.abs((w.get("b-1@classify") ?? 0) - 0.6) < 1e-9, String(w.get("b-1@classify")));
  } finally {
    await t.cleanup();
  }
});

test("a member whose JSON answer equals the truth gains weight", async () => {
  const t = createTestSwarm({
    roles: {
      lead: {},
      desk: { tasks: ["extract"] },
      "w-a": { tasks: ["extract"] },
      "w-b": { tasks: ["extract"] },
      judges: { tasks: ["ensemble.judge"] },
    },
    defaults: fast,
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
      extract: { members: ["wa", "wb"], judge: "judge-1", weights: "learned", tolerance: 0 },
    } as never);
    const spec = ensembleSpec("extract", ensembles["extract"]!, agents);
    swarm.agent({ id: "lead", role: "lead" });
    swarm
      .agent({ id: "wa", role: "w-a" })
      .handle("extract", () => ({ priority: 2, category: "billing" }));
    swarm
      .agent({ id: "wb", role: "w-b" })
      .handle("extract", () => ({ category: "tech", priority: 1 }));
    swarm
      .agent({ id: "judge-1", role: "judges" })
      .handle("ensemble.judge", () => ({ choice: "A", reasons: "ok" }));
    swarm
      .agent({ id: "desk-1", role: "desk" })
      .handle("extract", ensembleHandler(spec, swarm.store));
    await swarm.start();
    await swarm.submit(
      "desk",
      "extract",
      { text: "charged twice", truth: { category: "billing", priority: 2 } },
      { as: "lead" },
    );
    await until(
      async () => (await swarm.store.effects("ensemble.decided")).length === 1,
      10_000,
      "decided",
    );
    const w = new Map(
      (await swarm.store.reputations(["wa@extract", "wb@extract"])).map((r) => [r.agent, r.score]),
    );
    assert.ok((w.get("wa@extract") ?? 0) > 0.5, `wa answered the truth: ${w.get("wa@extract")}`);
    assert.ok((w.get("wb@extract") ?? 1) < 0.5, `wb did not: ${w.get("wb@extract")}`);
  } finally {
    await t.cleanup();
  }
});

test("outcomeFromTruth: a JSON answer equal to the truth (keys in any order) passes", () => {
  const truth = { category: "billing", priority: 2 };
  assert.equal(outcomeFromTruth("m", { priority: 2, category: "billing" }, truth).verdict, "pass");
  assert.equal(outcomeFromTruth("m", { category: "billing", priority: 3 }, truth).verdict, "fail");
  assert.equal(outcomeFromTruth("m", ["a", "b"], ["a", "b"]).verdict, "pass");
  assert.equal(outcomeFromTruth("m", "billing", "billing").verdict, "pass");
});
