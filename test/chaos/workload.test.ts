/**
 * A scenario's workload under `npm run chaos -- --tasks N`: the time budget
 * grows in proportion, and the fault plan repeats once per default workload
 * so a long run keeps meeting faults after its first seconds.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { between, type PlannedFault, pick, sequence } from "./harness.js";
import { repeatedPlan, workload } from "./scenarios/review-swarm.js";

const plan = (seed: number): PlannedFault[] =>
  sequence(
    seed,
    2,
    (rng) => ({ kind: "cut", target: pick(rng, ["a", "b"]), forMs: between(rng, 1_000, 2_000) }),
    [500, 1_500],
  );
const scenario = { tasks: 150, budgetMs: 60_000, plan };

test("the default workload runs the scenario's own plan and budget", () => {
  assert.deepEqual(workload(scenario, 42, undefined), {
    tasks: 150,
    budgetMs: 60_000,
    plan: plan(42),
  });
  // Fewer tasks (the short runs of npm test): the same plan, the same budget.
  assert.deepEqual(workload(scenario, 42, { tasks: 20 }), {
    tasks: 20,
    budgetMs: 60_000,
    plan: plan(42),
  });
});

test("a larger workload repeats the plan from the next seeds, each copy after the previous one", () => {
  const { tasks, budgetMs, plan: stretched } = workload(scenario, 42, { tasks: 400 });
  assert.equal(tasks, 400);
  assert.equal(budgetMs, 160_000);
  assert.equal(stretched.length, 6, "three copies of two faults");
  assert.deepEqual(stretched.slice(0, 2), plan(42), "the first copy is the seed's own plan");
  const ends = (faults: readonly PlannedFault[]) =>
    Math.max(...faults.map((f) => f.atMs + f.forMs));
  for (const [k, copy] of [stretched.slice(2, 4), stretched.slice(4, 6)].entries()) {
    const before = stretched.slice(0, 2 * (k + 1));
    const own = plan(43 + k);
    assert.deepEqual(
      copy.map((f) => ({ ...f, atMs: f.atMs - ends(before) })),
      own,
      `copy ${k + 2} is seed ${43 + k}'s plan`,
    );
    assert.ok(copy[0]!.atMs > ends(before), "no copy overlaps the one before");
  }
});

test("an empty plan stays empty however long the run", () => {
  assert.deepEqual(
    repeatedPlan(() => [], 7, 5),
    [],
  );
});
