/**
 * The short version of the `overload` chaos scenario
 * (test/chaos/scenarios/overload.ts) for `npm test`: for 20 s a producer
 * submits ten times faster than four workers in two processes can handle,
 * into a queue bounded at 100 tasks, on a private nats-server. The producer
 * must be told its queue is full and back off (its submits wait), the
 * memory of every process must plateau, the backlog must drain after it
 * stops, nothing lost, nothing applied twice. Before submits waited while
 * the queue was full, a refused submit resolved anyway and sat in the
 * store's outbox: the producer never slowed, and the backlog it left took
 * nine times the run to drain.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { natsServerAvailable } from "../../src/testkit/brokers/nats-server.js";
import { requirement } from "../integration/fixtures/processes.js";
import { runOverload } from "./scenarios/overload.js";

const missing = natsServerAvailable() ? undefined : "no nats-server binary on PATH";

test("overload for 20 s: a bounded queue makes the producer back off, memory plateaus, the backlog drains, nothing lost or applied twice", {
  timeout: 180_000,
  skip: requirement("overload", missing),
}, async (t) => {
  const result = await runOverload({ durationMs: 20_000 }, 1, (l) => t.diagnostic(l));
  const { verdict, memory, ...numbers } = result;
  t.diagnostic(JSON.stringify({ ...numbers, faults: undefined, memory }));
  assert.deepEqual(
    verdict.problems,
    [],
    "replay: CHAOS_OVERLOAD_MS=20000 npm run chaos -- --only overload",
  );
  assert.ok(result.queueFull > 0, "the producer saw its queue full");
  assert.ok(result.backedOff > 0, "some submits waited");
  assert.ok(result.acceptedRate < result.attemptedRate / 2, "the producer was slowed");
  assert.equal(verdict.lost, 0);
  assert.equal(verdict.duplicateEffects, 0);
});
