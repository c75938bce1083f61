import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../src/errors/index.js";
import {
  type AutoscalerConfig,
  createAutoscaler,
  type PoolWorker,
} from "../../src/hierarchy/index.js";

function scaler(overrides: Partial<AutoscalerConfig> = {}) {
  let n = 0;
  return createAutoscaler({
    min: 1,
    max: 10,
    targetTasksPerWorker: 2,
    scaleUpCooldownMs: 1_000,
    scaleDownCooldownMs: 5_000,
    newWorkerId: () => `w${++n}`,
    ...overrides,
  });
}

const workers = (spec: string): PoolWorker[] =>
  // "ibs" → w1 idle, w2 busy, w3 starting
  [...spec].map((c, i) => ({
    id: `w${i + 1}`,
    state: ({ i: "idle", b: "busy", s: "starting", d: "draining" } as const)[c as "i"],
  }));

describe("autoscaler", () => {
  it("spawns up to min at once, and counts spawns it awaits", () => {
    const s = scaler({ min: 2 });
    assert.deepEqual(s.tick(0, { queueDepth: 0, inFlight: 0, workers: [] }), [
      { kind: "spawn", count: 2, ids: ["w1", "w2"], reason: "below-min" },
    ]);
    assert.equal(s.size, 2);
    // Not yet visible: no second spawn.
    assert.deepEqual(s.tick(10, { queueDepth: 0, inFlight: 0, workers: [] }), []);
    assert.deepEqual(s.tick(20, { queueDepth: 0, inFlight: 0, workers: workers("si") }), []);
  });

  it("retries a spawn that never showed up after the spawn timeout", () => {
    const s = scaler({ min: 1, spawnTimeoutMs: 100 });
    s.tick(0, { queueDepth: 0, inFlight: 0, workers: [] });
    assert.deepEqual(s.tick(99, { queueDepth: 0, inFlight: 0, workers: [] }), []);
    assert.deepEqual(s.tick(100, { queueDepth: 0, inFlight: 0, workers: [] }), [
      { kind: "spawn", count: 1, ids: ["w2"], reason: "below-min" },
    ]);
  });

  it("scales up to ⌈outstanding ÷ target⌉, capped at max, once per cool-down", () => {
    const s = scaler({ max: 5 });
    assert.deepEqual(s.tick(0, { queueDepth: 5, inFlight: 1, workers: workers("b") }), [
      { kind: "spawn", count: 2, ids: ["w1", "w2"], reason: "scale-up" },
    ]);
    // Within the cool-down nothing happens, however long the queue.
    assert.deepEqual(s.tick(999, { queueDepth: 100, inFlight: 3, workers: workers("bbb") }), []);
    assert.deepEqual(s.tick(1_000, { queueDepth: 100, inFlight: 3, workers: workers("bbb") }), [
      { kind: "spawn", count: 2, ids: ["w3", "w4"], reason: "scale-up" },
    ]);
    assert.equal(s.size, 5);
    assert.deepEqual(
      s.tick(5_000, { queueDepth: 100, inFlight: 5, workers: workers("bbbbb") }),
      [],
    );
  });

  it("scales up on latency over target even with a short queue", () => {
    const s = scaler({ targetLatencyMs: 1_000 });
    assert.deepEqual(
      s.tick(0, { queueDepth: 0, inFlight: 2, latencyMs: 2_500, workers: workers("bb") }),
      [{ kind: "spawn", count: 3, ids: ["w1", "w2", "w3"], reason: "scale-up" }],
    );
    const t = scaler({ targetLatencyMs: 1_000 });
    assert.deepEqual(
      t.tick(0, { queueDepth: 0, inFlight: 2, latencyMs: 900, workers: workers("bb") }),
      [],
    );
  });

  it("scales down only past the hysteresis band and the down cool-down, retiring idle workers newest first", () => {
    const s = scaler({ min: 1, hysteresis: 0.2 });
    // 4 workers, 3 outstanding tasks → needed 1.5; (4 − 1) × 0.8 = 2.4 ≥ 1.5: scale down to ⌈1.5 ÷ 0.8⌉ = 2.
    const four = workers("bibi");
    assert.deepEqual(s.tick(5_000, { queueDepth: 1, inFlight: 2, workers: four }), [
      { kind: "retire", ids: ["w4", "w2"], reason: "scale-down" },
    ]);
    assert.equal(s.size, 2);
    // Retiring workers still observed (even as idle) are not counted or retired again.
    assert.deepEqual(s.tick(20_000, { queueDepth: 0, inFlight: 2, workers: four }), []);
    const t = scaler({ min: 1, hysteresis: 0.2 });
    // needed 2.5 with 4 workers: 2.5 > 2.4, inside the band: stay.
    assert.deepEqual(t.tick(5_000, { queueDepth: 3, inFlight: 2, workers: four }), []);
    // Down cool-down counts from the last scaling.
    const u = scaler({ min: 1 });
    u.tick(0, { queueDepth: 9, inFlight: 1, workers: workers("b") });
    assert.deepEqual(u.tick(4_999, { queueDepth: 0, inFlight: 0, workers: workers("iiiii") }), []);
    assert.equal(
      u.tick(5_000, { queueDepth: 0, inFlight: 0, workers: workers("iiiii") })[0]?.kind,
      "retire",
    );
  });

  it("never retires a busy worker, never goes below min, and waits for spawns before scaling down", () => {
    const s = scaler({ min: 2 });
    assert.deepEqual(s.tick(10_000, { queueDepth: 0, inFlight: 4, workers: workers("bbbb") }), []);
    // The need of 2 a moment ago still counts (scale-down window): keep ⌈2 ÷ 0.8⌉ = 3.
    assert.deepEqual(s.tick(10_000, { queueDepth: 0, inFlight: 0, workers: workers("iiii") }), [
      { kind: "retire", ids: ["w4"], reason: "scale-down" },
    ]);
    assert.deepEqual(s.tick(30_000, { queueDepth: 0, inFlight: 0, workers: workers("iii") }), [
      { kind: "retire", ids: ["w3"], reason: "scale-down" },
    ]);
    assert.deepEqual(s.tick(60_000, { queueDepth: 0, inFlight: 0, workers: workers("ii") }), []);
    const t = scaler({ min: 0 });
    t.tick(0, { queueDepth: 3, inFlight: 0, workers: [] });
    assert.deepEqual(t.tick(10_000, { queueDepth: 0, inFlight: 0, workers: workers("i") }), []);
  });

  it("scales down only to the highest need within the scale-down window", () => {
    const s = scaler({ min: 1, scaleDownWindowMs: 10_000 });
    // Need 4 → keep ⌈4 ÷ 0.8⌉ = 5, but only the two idle ones may go now.
    assert.deepEqual(s.tick(0, { queueDepth: 0, inFlight: 8, workers: workers("bbbbbbbbii") }), [
      { kind: "retire", ids: ["w10", "w9"], reason: "scale-down" },
    ]);
    // A lull 6 s later: the burst at t = 0 is still in the window, so 5 stay.
    assert.deepEqual(s.tick(6_000, { queueDepth: 0, inFlight: 0, workers: workers("iiiiiiii") }), [
      { kind: "retire", ids: ["w8", "w7", "w6"], reason: "scale-down" },
    ]);
    // Once the burst has left the window, down to min.
    assert.deepEqual(s.tick(16_000, { queueDepth: 0, inFlight: 0, workers: workers("iiiii") }), [
      { kind: "retire", ids: ["w5", "w4", "w3", "w2"], reason: "scale-down" },
    ]);
  });

  it("retires idle workers above max at once, and ignores draining ones", () => {
    const s = scaler({ max: 2 });
    assert.deepEqual(s.tick(0, { queueDepth: 50, inFlight: 2, workers: workers("bbi") }), [
      { kind: "retire", ids: ["w3"], reason: "above-max" },
    ]);
    const t = scaler({ min: 2 });
    assert.deepEqual(t.tick(0, { queueDepth: 0, inFlight: 0, workers: workers("di") }), [
      { kind: "spawn", count: 1, ids: ["w1"], reason: "below-min" },
    ]);
  });

  it("refuses inconsistent settings", () => {
    const bad = (overrides: Partial<AutoscalerConfig>) =>
      assert.throws(() => scaler(overrides), ConfigError);
    bad({ min: -1 });
    bad({ min: 3, max: 2 });
    bad({ max: 0, min: 0 });
    bad({ targetTasksPerWorker: 0 });
    bad({ targetLatencyMs: -5 });
    bad({ scaleUpCooldownMs: Number.NaN });
    bad({ hysteresis: 1 });
    bad({ spawnTimeoutMs: 0 });
    bad({ scaleDownWindowMs: -1 });
  });
});
