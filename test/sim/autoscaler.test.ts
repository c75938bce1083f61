/**
 * The autoscaling policy driving a worker pool on the simulator, with load
 * that ramps up and down: it follows the load, stays within [min, max],
 * changes direction at most once per cool-down, retires only idle workers,
 * and no task is lost or done twice while workers come and go.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { AutoscalerConfig } from "../../src/hierarchy/index.js";
import {
  directionChanges,
  type PoolRun,
  type PoolScenario,
  piecewiseRate,
  runPool,
} from "./autoscaler-harness.js";

type ScalerSettings = Omit<AutoscalerConfig, "newWorkerId">;

const settings: ScalerSettings = {
  min: 2,
  max: 20,
  targetTasksPerWorker: 0.8,
  targetLatencyMs: 2_000,
  scaleUpCooldownMs: 5_000,
  scaleDownCooldownMs: 20_000,
};

/** 2 tasks/s, a ramp to 30/s (about 12 busy workers), a plateau, a ramp back down, then quiet. */
const rampUpAndDown: Omit<PoolScenario, "seed" | "scaler"> = {
  rate: piecewiseRate([
    [0, 2],
    [30_000, 2],
    [90_000, 30],
    [150_000, 30],
    [210_000, 2],
  ]),
  loadEndsMs: 270_000,
  runUntilMs: 400_000,
};

/** The invariants every run must keep, whatever the settings. */
function checkInvariants(run: PoolRun, scaler: ScalerSettings) {
  assert.ok(run.submitted > 0);
  // No task lost, none done twice, while workers were spawned and retired.
  assert.equal(run.completions.size, run.submitted, "every submitted task completes");
  for (const [task, times] of run.completions)
    assert.equal(times, 1, `task ${task} ran ${times} times`);
  assert.equal(run.retiredWhileBusy, 0, "only workers idle in the observation are retired");
  // Within [min, max] once the first workers have been spawned.
  const warm = run.samples.findIndex((s) => s.size >= scaler.min);
  assert.ok(warm >= 0);
  for (const sample of run.samples.slice(warm)) {
    assert.ok(
      sample.size >= scaler.min,
      `${sample.size} workers at ${sample.at} ms, min ${scaler.min}`,
    );
    assert.ok(
      sample.size <= scaler.max,
      `${sample.size} workers at ${sample.at} ms, max ${scaler.max}`,
    );
  }
  // Scaling (apart from restoring min) waits out the cool-down of its direction after any scaling.
  const scaling = run.scaling.filter((e) => e.action.reason !== "below-min");
  for (let i = 1; i < scaling.length; i++) {
    const before = scaling[i - 1] as (typeof scaling)[number];
    const after = scaling[i] as (typeof scaling)[number];
    const cooldown =
      after.direction === "up" ? scaler.scaleUpCooldownMs : scaler.scaleDownCooldownMs;
    assert.ok(
      after.at - before.at >= cooldown,
      `${before.direction} at ${before.at} then ${after.direction} at ${after.at}: cool-down ${cooldown}`,
    );
  }
}

describe("autoscaling on the simulator", () => {
  it("follows a ramp up and down: scales out, back to min, at most 3 direction changes, nothing lost", () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const run = runPool({ seed, scaler: settings, ...rampUpAndDown });
      checkInvariants(run, settings);
      const sizes = run.samples.map((s) => s.size);
      assert.ok(Math.max(...sizes) >= 12, `peak ${Math.max(...sizes)} workers for ~12 busy`);
      assert.equal(sizes.at(-1), settings.min, "back to min once the load is gone");
      assert.ok(
        directionChanges(run.scaling) <= 3,
        `seed ${seed}: ${directionChanges(run.scaling)} changes`,
      );
      const peakQueue = Math.max(...run.samples.map((s) => s.queueDepth));
      assert.ok(peakQueue < 150, `seed ${seed}: the queue reached ${peakQueue}`);
    }
  });

  it("spends fewer worker-seconds than a pool fixed at max", () => {
    const run = runPool({ seed: 9, scaler: settings, ...rampUpAndDown });
    const tickSeconds = 1;
    const used = run.samples.reduce((sum, s) => sum + s.size * tickSeconds, 0);
    const fixed = run.samples.length * settings.max * tickSeconds;
    assert.ok(used < fixed * 0.6, `${used} worker-seconds against ${fixed} at max`);
  });

  it("replays the same scaling from the same seed", () => {
    const trace = (seed: number) =>
      runPool({ seed, scaler: settings, ...rampUpAndDown }).scaling.map(
        (e) =>
          `${e.at} ${e.action.kind} ${e.action.kind === "spawn" ? e.action.ids : e.action.ids}`,
      );
    assert.deepEqual(trace(21), trace(21));
    assert.notDeepEqual(trace(21), trace(22));
  });

  it("keeps its invariants for any settings and load shape (property)", () => {
    const scenario = fc.record({
      seed: fc.integer({ min: 0, max: 1_000_000 }),
      min: fc.integer({ min: 0, max: 4 }),
      extra: fc.integer({ min: 1, max: 12 }),
      targetTasksPerWorker: fc.constantFrom(0.5, 0.8, 1, 2),
      targetLatencyMs: fc.option(fc.constantFrom(800, 2_000, 5_000), { nil: undefined }),
      scaleUpCooldownMs: fc.constantFrom(0, 1_000, 5_000),
      scaleDownCooldownMs: fc.constantFrom(1_000, 10_000, 30_000),
      hysteresis: fc.constantFrom(0, 0.1, 0.3),
      peak: fc.integer({ min: 1, max: 25 }),
      rampMs: fc.integer({ min: 1_000, max: 40_000 }),
    });
    fc.assert(
      fc.property(scenario, (s) => {
        const scaler: ScalerSettings = {
          min: s.min,
          max: s.min + s.extra,
          targetTasksPerWorker: s.targetTasksPerWorker,
          ...(s.targetLatencyMs === undefined ? {} : { targetLatencyMs: s.targetLatencyMs }),
          scaleUpCooldownMs: s.scaleUpCooldownMs,
          scaleDownCooldownMs: s.scaleDownCooldownMs,
          hysteresis: s.hysteresis,
        };
        const run = runPool({
          seed: s.seed,
          scaler,
          rate: piecewiseRate([
            [0, 1],
            [s.rampMs, s.peak],
            [2 * s.rampMs, s.peak],
            [3 * s.rampMs, 1],
          ]),
          loadEndsMs: 3 * s.rampMs + 5_000,
          // Long enough for a single worker (600 ms a task at worst) to finish every task submitted.
          runUntilMs: 3 * s.rampMs + 5_000 + 0.6 * s.peak * (3 * s.rampMs + 5_000) + 60_000,
        });
        checkInvariants(run, scaler);
      }),
      { numRuns: 25 },
    );
  });
});
