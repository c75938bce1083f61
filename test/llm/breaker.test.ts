import assert from "node:assert/strict";
import { test } from "node:test";
import { CircuitBreaker } from "../../src/llm/index.js";

const config = { failures: 3, coolDownMs: 1000 };

test("opens after N consecutive failures; a success in between resets the count", () => {
  const breaker = new CircuitBreaker(config);
  breaker.failure(0);
  breaker.failure(0);
  breaker.success();
  breaker.failure(0);
  breaker.failure(0);
  assert.equal(breaker.state(0), "closed");
  assert.equal(breaker.tryAcquire(0), true);
  breaker.failure(10);
  assert.equal(breaker.state(10), "open");
  assert.equal(breaker.tryAcquire(10), false);
  assert.equal(breaker.retryAt(), 1010);
});

test("half-open after the cool-down admits one trial; its success closes the breaker", () => {
  const breaker = new CircuitBreaker(config);
  for (let i = 0; i < 3; i++) breaker.failure(0);
  assert.equal(breaker.tryAcquire(999), false);
  assert.equal(breaker.state(1000), "half-open");
  assert.equal(breaker.tryAcquire(1000), true);
  assert.equal(breaker.tryAcquire(1000), false, "only one trial in flight");
  breaker.success();
  assert.equal(breaker.state(1000), "closed");
  assert.equal(breaker.tryAcquire(1000), true);
});

test("a failed trial opens it again for a new cool-down", () => {
  const breaker = new CircuitBreaker(config);
  for (let i = 0; i < 3; i++) breaker.failure(0);
  assert.equal(breaker.tryAcquire(1500), true);
  breaker.failure(1500);
  assert.equal(breaker.state(1500), "open");
  assert.equal(breaker.tryAcquire(2499), false);
  assert.equal(breaker.tryAcquire(2500), true);
});

test("an abandoned trial frees the slot for the next call", () => {
  const breaker = new CircuitBreaker(config);
  for (let i = 0; i < 3; i++) breaker.failure(0);
  assert.equal(breaker.tryAcquire(1000), true);
  breaker.abandon();
  assert.equal(breaker.tryAcquire(1000), true);
});
