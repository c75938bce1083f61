import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { seededRandom } from "../../src/core/random.js";
import { type BackoffPolicy, backoffDelay, defaultBackoff } from "../../src/delivery/backoff.js";

const runs = { numRuns: 500 };

// Whole milliseconds: with a fractional maxMs, rounding can land above it.
const policy: fc.Arbitrary<BackoffPolicy> = fc.record({
  baseMs: fc.integer({ min: 1, max: 10_000 }),
  maxMs: fc.integer({ min: 0, max: 120_000 }),
  factor: fc.double({ min: 1, max: 4, noNaN: true }),
  jitter: fc.constantFrom("full" as const, "equal" as const, "none" as const),
});
const retry = fc.integer({ min: 1, max: 2_000 });
/** A generator that always returns `r`, so delays can be compared across retries. */
const fixed = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }).map((r) => ({
  next: () => r,
}));

describe("backoff delay: properties", () => {
  it("is a whole number of milliseconds within [0, maxMs]", () => {
    fc.assert(
      fc.property(policy, retry, fc.integer(), (p, n, seed) => {
        const delay = backoffDelay(n, p, seededRandom(seed));
        assert.ok(Number.isInteger(delay));
        assert.ok(delay >= 0 && delay <= p.maxMs, `${delay} outside [0, ${p.maxMs}]`);
      }),
      runs,
    );
  });

  it("has a ceiling that never decreases with the retry number", () => {
    fc.assert(
      fc.property(policy, retry, fixed, (p, n, random) => {
        assert.ok(backoffDelay(n + 1, p, random) >= backoffDelay(n, p, random));
        const ceiling = { ...p, jitter: "none" as const };
        assert.ok(backoffDelay(n + 1, ceiling, random) >= backoffDelay(n, ceiling, random));
      }),
      runs,
    );
  });

  it("stays under the ceiling, and above half of it with equal jitter", () => {
    fc.assert(
      fc.property(policy, retry, fixed, (p, n, random) => {
        const ceiling = backoffDelay(n, { ...p, jitter: "none" }, random);
        const delay = backoffDelay(n, p, random);
        assert.ok(delay <= ceiling);
        if (p.jitter === "equal") assert.ok(delay >= Math.floor(ceiling / 2));
      }),
      runs,
    );
  });

  it("is deterministic for a seed", () => {
    fc.assert(
      fc.property(policy, fc.integer(), fc.array(retry, { maxLength: 20 }), (p, seed, retries) => {
        const first = seededRandom(seed);
        const second = seededRandom(seed);
        assert.deepEqual(
          retries.map((n) => backoffDelay(n, p, first)),
          retries.map((n) => backoffDelay(n, p, second)),
        );
      }),
      runs,
    );
  });

  it("doubles from 100 ms to a 30 s cap by default", () => {
    const none = { ...defaultBackoff, jitter: "none" as const };
    const delays = [1, 2, 3, 9, 10, 100].map((n) => backoffDelay(n, none, seededRandom(1)));
    assert.deepEqual(delays, [100, 200, 400, 25_600, 30_000, 30_000]);
  });

  it("stays at 0 when baseMs is 0, however many retries", () => {
    const p: BackoffPolicy = { baseMs: 0, maxMs: 30_000, factor: 2, jitter: "none" };
    assert.equal(backoffDelay(2_000, p, seededRandom(1)), 0);
  });

  it("never exceeds a fractional maxMs", () => {
    const p: BackoffPolicy = { baseMs: 10, maxMs: 10.6, factor: 2, jitter: "none" };
    assert.ok(backoffDelay(5, p, seededRandom(1)) <= 10.6);
  });
});
