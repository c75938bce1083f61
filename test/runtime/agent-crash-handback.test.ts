/**
 * `AgentCrashError` says the agent, not the task, is broken: the agent
 * stops and its supervisor restarts it, and the task is handed back. It
 * used to be handed back at once to the same agent, still consuming, which
 * spent every delivery in milliseconds and dead-lettered a task that was
 * not at fault, with one crash reported.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AgentCrashError } from "../../src/errors/index.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createTestSwarm } from "../../src/testkit/index.js";

test("a task whose agent crashes twice completes after the agent's restarts", async () => {
  const t = createTestSwarm({
    roles: { lead: {}, dev: { tasks: ["code"] } },
    defaults: { maxDeliver: 4, backoff: { baseMs: 20, maxMs: 50, factor: 2, jitter: "none" } },
  });
  try {
    const { swarm } = t;
    const crashes: SwarmEvent[] = [];
    swarm.on((e) => {
      if (e.type === "agent.crashed") crashes.push(e);
    });
    let calls = 0;
    swarm.agent({ id: "lead", role: "lead" });
    swarm.agent({ id: "dev-1", role: "dev" }).handle("code", () => {
      calls++;
      if (calls <= 2) throw new AgentCrashError("the client is broken; restart me");
      return "done";
    });
    await swarm.start();
    const id = await swarm.submit("dev", "code", {}, { as: "lead" });
    assert.equal(await swarm.wait(id, { timeoutMs: 15_000 }), "done");
    assert.equal(calls, 3);
    assert.equal(crashes.length, 2, "each crash restarted the agent");
  } finally {
    await t.cleanup();
  }
});
