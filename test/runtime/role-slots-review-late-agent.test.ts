/**
 * Role slots fix how many of a role's agents take tasks. An agent of a
 * staffed role added to a running swarm must wait on standby like the other
 * non-holders (a vacancy, if any, is handed to it when it joins), not take
 * the role's tasks beside the holders.
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

test("an agent of a staffed role added after start waits on standby, and only the holder takes tasks", async () => {
  const t = createTestSwarm({
    roles: { lead: {}, reviewer: { tasks: ["review"] } },
    defaults: fast,
  });
  try {
    const { swarm } = t;
    swarm.agent({ id: "lead", role: "lead" });
    const reviewer = (id: string, capabilities: string[]) =>
      swarm.agent({ id, role: "reviewer", capabilities }).handle<{ n: number }>("review", (ctx) => {
        ctx.effect("reviewed", `${ctx.body.n}`, { by: ctx.agentId });
      });
    reviewer("rev-1", ["review", "security"]);
    reviewer("rev-2", ["review"]);
    const slots = swarm.slots({
      roles: [{ name: "reviewer", slots: 1, prefers: ["security"] }],
    });
    await swarm.start();
    assert.deepEqual(
      slots.assignments.map((a) => a.agent),
      ["rev-1"],
    );
    assert.equal(swarm.agents.find((a) => a.id === "rev-2")?.isPausedFor("standby"), true);

    const late = reviewer("rev-3", ["review"]);
    assert.equal(late.isPausedFor("standby"), true, "the newcomer is on standby at once");

    for (let n = 0; n < 8; n++) await swarm.submit("reviewer", "review", { n }, { as: "lead" });
    await until(
      async () => (await swarm.store.effects("reviewed")).length === 8,
      10_000,
      "8 reviews",
    );
    const by = new Set(
      (await swarm.store.effects("reviewed")).map((e) => (e.data as { by: string }).by),
    );
    assert.deepEqual([...by], ["rev-1"], "only the slot's holder took the role's tasks");
    assert.equal(late.isPausedFor("standby"), true, "still on standby: no slot was free");
    assert.deepEqual(
      slots.assignments.map((a) => a.agent),
      ["rev-1"],
    );
  } finally {
    await t.cleanup();
  }
});

test("an agent of a staffed role added after start takes a vacant slot when it joins", async () => {
  const t = createTestSwarm({
    roles: { lead: {}, reviewer: { tasks: ["review"] } },
    defaults: { ...fast, heartbeatMs: 50 },
  });
  try {
    const { swarm } = t;
    swarm.agent({ id: "lead", role: "lead" });
    const reviewer = (id: string) =>
      swarm
        .agent({ id, role: "reviewer", capabilities: ["review"] })
        .handle<{ n: number }>("review", (ctx) => {
          ctx.effect("reviewed", `${ctx.body.n}`, { by: ctx.agentId });
        });
    reviewer("rev-1");
    const slots = swarm.slots({ roles: [{ name: "reviewer", slots: 2 }] });
    await swarm.start();
    assert.deepEqual(
      slots.assignments.map((a) => a.agent),
      ["rev-1"],
    );
    const late = reviewer("rev-2");
    await until(
      () => slots.assignments.some((a) => a.agent === "rev-2"),
      10_000,
      "the newcomer to take the vacant slot",
    );
    await until(() => !late.paused, 10_000, "the newcomer to take tasks");
  } finally {
    await t.cleanup();
  }
});
