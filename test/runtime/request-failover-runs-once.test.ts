/**
 * `swarm.request` fails over to the next agent of the role when a
 * candidate times out. The first candidate may still be running the
 * handler: the next one must not run it a second time (its effects would
 * be committed twice, under two task ids). Before, each candidate got a
 * freshly signed envelope (a new task id), so the slow first run and the
 * failover's run both ran and both committed their effects.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { workloadProgress } from "../../src/runtime/workload.js";
import { createTestSwarm } from "../../src/testkit/index.js";

const defaults = {
  heartbeatMs: 100,
  ackWaitMs: 2000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

test("a request that times out on its first candidate is not run again by the next", async () => {
  const t = createTestSwarm({
    roles: { lead: {}, clerk: { tasks: ["charge"] } },
    defaults,
  });
  try {
    const { swarm } = t;
    swarm.agent({ id: "boss", role: "lead" });
    const runs: string[] = [];
    for (const id of ["clerk-1", "clerk-2"]) {
      swarm.agent({ id, role: "clerk" }).handle("charge", async (ctx) => {
        runs.push(id);
        // The first run is slower than the caller's per-candidate timeout.
        if (runs.length === 1) await sleep(800);
        ctx.effect("card.charged", "order-7");
        return { chargedBy: id };
      });
    }
    await swarm.start();
    const answer = await swarm.request<{ chargedBy: string }>(
      "clerk",
      "charge",
      { order: 7 },
      { as: "boss", timeoutMs: 700 },
    );
    await sleep(900);
    assert.deepEqual(runs.length, 1, `the handler ran once, not on every candidate (${runs})`);
    assert.equal(answer.chargedBy, runs[0]);
    const progress = await workloadProgress(swarm.store);
    assert.equal(progress.duplicateEffects, 0);
  } finally {
    await t.cleanup();
  }
});
