/**
 * An agent its supervisor gives up on is visible in the metrics: the crash
 * that exceeded the restart intensity is counted with the others (it comes
 * as `agent.gave_up`, not `agent.crashed`, so it was not), and
 * `conclave_agents_gave_up_total{agent}` says the agent is gone for good.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AgentCrashError } from "../../src/errors/index.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

test("every crash is counted, the last one too, and the give-up has its own counter", async () => {
  const t = createTestSwarm({
    roles: { lead: {}, dev: { tasks: ["code"] } },
    maxRestartsPerMinute: 1,
    defaults: { maxDeliver: 5, backoff: { baseMs: 10, maxMs: 20, factor: 2, jitter: "none" } },
  });
  try {
    const { swarm } = t;
    let crashes = 0;
    let gaveUp = false;
    swarm.on((e) => {
      if (e.type === "agent.crashed") crashes++;
      if (e.type === "agent.gave_up") gaveUp = true;
    });
    swarm.agent({ id: "lead", role: "lead" });
    swarm.agent({ id: "dev-1", role: "dev" }).handle("code", () => {
      throw new AgentCrashError("the client is broken; restart me");
    });
    await swarm.start();
    await swarm.submit("dev", "code", {}, { as: "lead" });
    await until(() => gaveUp, 10_000, "dev-1 to be given up on");
    assert.equal(crashes, 1, "one restart, then the second crash gave up");
    assert.equal(
      await swarm.metrics.get("conclave_agent_crashes_total", { agent: "dev-1" }),
      2,
      "both crashes counted",
    );
    assert.equal(await swarm.metrics.get("conclave_agents_gave_up_total", { agent: "dev-1" }), 1);
    const text = await swarm.metrics.render();
    assert.match(text, /# HELP conclave_agents_gave_up_total /);
  } finally {
    await t.cleanup();
  }
});
