/**
 * Backoff policies given in code (createSwarm's roles and defaults, a
 * supervisor, a model pool's retry policy) are checked as the swarm file's
 * are: a misspelt jitter made every delay undefined and `maxMs: Infinity`
 * a 1 ms timer, so retries ran in a tight loop.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { assertBackoffPolicy, type BackoffPolicy } from "../../src/delivery/backoff.js";
import { ConfigError } from "../../src/errors/index.js";
import { createTestSwarm } from "../../src/testkit/index.js";

const good: BackoffPolicy = { baseMs: 100, maxMs: 1000, factor: 2, jitter: "full" };

test("a policy that would spin or never wait is a ConfigError naming where and what", () => {
  assertBackoffPolicy(good, "ok");
  assertBackoffPolicy({ ...good, baseMs: 0, factor: 1 }, "ok");
  const bad: [Partial<BackoffPolicy> | Record<string, unknown>, RegExp][] = [
    [{ ...good, jitter: "ful" }, /jitter must be "full", "equal" or "none", got "ful"/],
    [{ ...good, maxMs: Number.POSITIVE_INFINITY }, /maxMs must be a finite number/],
    [{ ...good, baseMs: -1 }, /baseMs must be/],
    [{ ...good, factor: 0.5 }, /factor must be a finite number ≥ 1/],
    [{ ...good, baseMs: 500, maxMs: 100 }, /maxMs \(100\) must be at least baseMs \(500\)/],
  ];
  for (const [policy, message] of bad) {
    assert.throws(
      () => assertBackoffPolicy(policy as BackoffPolicy, "roles.dev.backoff"),
      (e: unknown) =>
        e instanceof ConfigError &&
        /^roles\.dev\.backoff: /.test(e.message) &&
        message.test(e.message),
    );
  }
});

test("createSwarm refuses a role's bad backoff", () => {
  assert.throws(
    () =>
      createTestSwarm({
        roles: { dev: { tasks: ["t"], backoff: { ...good, jitter: "ful" as "full" } } },
      }),
    (e: unknown) => e instanceof ConfigError && /roles\.dev\.backoff: jitter/.test(e.message),
  );
});
