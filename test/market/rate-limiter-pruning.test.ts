import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createRateLimiter } from "../../src/market/index.js";

describe("bid rate limiter: buckets of agents gone quiet are forgotten", () => {
  test("agent churn does not grow the limiter without bound", () => {
    const limiter = createRateLimiter({ capacity: 5, refillPerSecond: 10 });
    let now = 0;
    // 100 generations of 100 agents, each bidding once then never again.
    for (let generation = 0; generation < 100; generation++) {
      for (let i = 0; i < 100; i++) assert.ok(limiter.take(`agent-${generation}-${i}`, now));
      now += 1000; // every bucket is full again a second later
    }
    assert.ok(
      limiter.size <= 1000,
      `the limiter holds ${limiter.size} buckets for at most 100 agents active at once`,
    );
  });

  test("a bucket that bid at a later time than now is kept (a clock stepping back mints nothing)", () => {
    const limiter = createRateLimiter({ capacity: 1, refillPerSecond: 1 });
    assert.ok(limiter.take("a", 10_000));
    assert.equal(limiter.prune(5_000), 0);
    assert.equal(limiter.take("a", 5_000), false);
  });

  test("a bucket still refilling is kept: pruning never resets a throttled agent", () => {
    const limiter = createRateLimiter({ capacity: 2, refillPerSecond: 1 });
    assert.ok(limiter.take("flooder", 0));
    assert.ok(limiter.take("flooder", 0));
    assert.equal(limiter.take("flooder", 0), false);
    // Thousands of other agents bid meanwhile (and trigger pruning).
    for (let i = 0; i < 5000; i++) limiter.take(`other-${i}`, 100);
    assert.equal(limiter.take("flooder", 200), false, "still empty: 0.2 tokens back");
    assert.ok(limiter.available("flooder", 200) < 1);
  });
});
