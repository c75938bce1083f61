/**
 * A pool's spawn that adds its worker and then fails (a module's setup that
 * throws after `swarm.agent(...)`) must not leave the worker hosted: an
 * unstarted agent would be announced live in every heartbeat, and its slot id
 * would never be reused, so each failed tick leaked one more.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

const fast = {
  ackWaitMs: 5000,
  maxDeliver: 5,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

test("a worker whose setup fails after it was added is not left hosted, and its slot is reused", async () => {
  const t = createTestSwarm({ roles: { lead: {}, worker: { tasks: ["work"] } }, defaults: fast });
  try {
    const { swarm } = t;
    const errors: string[] = [];
    swarm.on((e) => {
      if (e.type === "error") errors.push(e.error);
    });
    swarm.agent({ id: "lead", role: "lead" });
    let failures = 3;
    const pool = swarm.pool({
      role: "worker",
      min: 1,
      max: 2,
      intervalMs: 20,
      spawn: async (id) => {
        const agent = swarm.agent({ id, role: "worker" });
        if (failures-- > 0) throw new Error("module setup failed");
        return agent.handle("work", async () => {});
      },
    });
    await swarm.start();
    await until(() => pool.serving === 1, 10_000, "a worker spawned once setup succeeds");
    const failed = errors.filter((e) => /spawning worker .* failed: module setup failed/.test(e));
    assert.equal(failed.length, 3, errors.join("\n"));
    assert.ok(
      failed.every((e) => e.includes("spawning worker worker-w1 failed")),
      `the failed slot is reused: ${failed.join("\n")}`,
    );
    assert.deepEqual(
      swarm.agents.filter((a) => a.role === "worker").map((a) => a.id),
      ["worker-w1"],
      "only the running worker is hosted",
    );
    assert.deepEqual(pool.workers, ["worker-w1"]);
  } finally {
    await t.cleanup();
  }
});
