/**
 * A pool's worker spawned after the swarm started gets its template's budget
 * (minted once per worker id): only the agents present at start had their
 * credits minted, so every spawned worker's spend failed and its tasks were
 * dead-lettered.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { agentAccount } from "../../src/ledger/index.js";
import type { Agent } from "../../src/runtime/agent.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

const fast = {
  ackWaitMs: 5000,
  maxDeliver: 3,
  heartbeatMs: 50,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

test("a pool worker spawned after start gets its template's budget minted", async () => {
  const t = createTestSwarm({ roles: { lead: {}, worker: { tasks: ["work"] } }, defaults: fast });
  try {
    const { swarm } = t;
    const events: SwarmEvent[] = [];
    swarm.on((e) => events.push(e));
    swarm.agent({ id: "lead", role: "lead" });
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const budget = { initial: 1000, minBalance: 10 };
    const setup = (a: Agent) =>
      a.handle("work", async (ctx) => {
        await ctx.spend({ kind: "work", credits: 5 });
        await gate;
      });
    setup(swarm.agent({ id: "w", role: "worker", budget, concurrency: 1 }));
    const pool = swarm.pool({
      role: "worker",
      min: 1,
      max: 3,
      members: ["w"],
      workerId: (n) => `w-p${n}`,
      intervalMs: 30,
      scaleUpCooldownMs: 30,
      scaleDownCooldownMs: 60_000,
      spawn: (id) => setup(swarm.agent({ id, role: "worker", budget, concurrency: 1 })),
    });
    await swarm.start();
    for (let n = 0; n < 6; n++) await swarm.submit("worker", "work", { n }, { as: "lead" });
    await until(() => pool.workers.length >= 2, 5000, "the pool to grow");
    const id = pool.workers[1] as string;
    await until(
      async () => (await swarm.store.balance(agentAccount(id))) === 1000 - 5,
      5000,
      `spawned worker ${id} to hold its budget less one spend`,
    );
    const bal = await swarm.store.balance(agentAccount(id));
    const fails = events
      .filter((e) => e.type === "task.failed" || e.type === "task.dead_lettered")
      .map((e) => JSON.stringify(e))
      .slice(0, 3);
    console.log("worker", id, "balance", bal, "failures", fails);
    release();
    assert.equal(bal, 1000 - 5, `spawned worker ${id} has balance ${bal}`);
  } finally {
    await t.cleanup();
  }
});
