/**
 * A message the coordinator cannot send from its tick (a cluster-vote
 * request over `maxEnvelopeBytes`: the signed votes of a cluster whose
 * voters gave long reasons) is reported, and the round still ends at its
 * deadline. The engine's tick runs from a timer: the request's
 * `EnvelopeTooLargeError` escaped it as an uncaught exception, which ends a
 * Node process, and the tick that would have closed every open round never
 * rescheduled itself.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createTestSwarm } from "../../src/testkit/index.js";

test("a cluster-vote request too large for the bus is reported, not thrown from the tick, and the round still ends", async () => {
  const t = createTestSwarm({
    roles: { lead: {}, ops: { tasks: ["deploy.production"] } },
    maxEnvelopeBytes: 8192,
    privileged: {
      "deploy.production": {
        protocol: "hierarchical",
        clusterSize: 2,
        voters: ["lead"],
        deadlineMs: 2000,
      },
    },
  });
  // Each vote fits the limit; two of them in one cluster-vote request do not.
  for (const id of ["lead-1", "lead-2", "lead-3", "lead-4"]) {
    t.swarm
      .agent({ id, role: "lead", weight: 1 })
      .vote(() => ({ choice: "approve", reasons: ["x".repeat(3500)] }));
  }
  const events: SwarmEvent[] = [];
  t.swarm.on((e) => events.push(e));
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);
  // Under the test runner an uncaught exception fails the file; count it instead.
  process.prependListener("uncaughtException", onUncaught);
  try {
    await t.swarm.start();
    const decision = await t.swarm.propose("deploy.production", { v: 1 }, { as: "lead-1" });
    assert.equal(decision.outcome, "no-quorum", "no cluster vote could be asked for");
    assert.deepEqual(uncaught, [], "nothing escaped the engine's tick");
    assert.ok(
      events.some((e) => e.type === "error" && /cluster/.test(e.error)),
      "the failed request is reported",
    );
  } finally {
    process.removeListener("uncaughtException", onUncaught);
    await t.cleanup();
  }
});
