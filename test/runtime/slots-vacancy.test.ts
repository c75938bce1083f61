/**
 * A role slot left vacant (its holder halted or fell below the reputation
 * floor with no standby to take it: `agent.reassigned` with `to: null`) is
 * filled again once an agent of the role can take it: the holder funded
 * again (`agent.resumed`) or its reputation back at the floor (the next
 * reputation tick). The agent is resumed, an `agent.reassigned` with
 * `from: null` and reason `vacancy-filled` says so, and the role takes
 * tasks again.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

const fast = {
  ackWaitMs: 5000,
  maxDeliver: 5,
  heartbeatMs: 50,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

const reassigned = (events: readonly SwarmEvent[]) =>
  events
    .filter((e) => e.type === "agent.reassigned")
    .map((e) => {
      const { role, slot, from, to, reason } = e as Extract<
        SwarmEvent,
        { type: "agent.reassigned" }
      >;
      return { role, slot, from, to, reason };
    });

test("a halted sole holder funded again takes its slot back and the role's tasks", async () => {
  const t = createTestSwarm({
    roles: { lead: {}, reviewer: { tasks: ["review"] } },
    defaults: fast,
  });
  try {
    const { swarm } = t;
    const events: SwarmEvent[] = [];
    swarm.on((e) => events.push(e));
    swarm.agent({ id: "lead", role: "lead" });
    swarm
      .agent({ id: "rev-1", role: "reviewer", budget: { initial: 10, minBalance: 5 } })
      .handle<{ spend?: boolean }>("review", async (ctx) => {
        if (ctx.body.spend) await ctx.spend({ kind: "x", credits: 6 });
        ctx.effect("reviewed", ctx.task.id, { by: ctx.agentId });
      });
    const slots = swarm.slots({ roles: [{ name: "reviewer", slots: 1 }], intervalMs: 100_000 });
    await swarm.start();
    await swarm.submit("reviewer", "review", { spend: true }, { as: "lead" });
    await until(() => reassigned(events).length === 1, 5000, "the slot vacated");
    assert.equal(slots.assignments.length, 0);
    await swarm.fund("rev-1", 100, { by: "ops" });
    await until(() => reassigned(events).length === 2, 5000, "the slot filled");
    assert.deepEqual(reassigned(events), [
      { role: "reviewer", slot: 0, from: "rev-1", to: null, reason: "halted" },
      { role: "reviewer", slot: 0, from: null, to: "rev-1", reason: "vacancy-filled" },
    ]);
    assert.deepEqual(
      slots.assignments.map((a) => [a.slot, a.agent]),
      [[0, "rev-1"]],
    );
    assert.equal(swarm.agents.find((a) => a.id === "rev-1")?.paused, false);
    await swarm.submit("reviewer", "review", {}, { as: "lead" });
    await until(async () => (await swarm.store.effects("reviewed")).length === 2, 5000, "reviewed");
  } finally {
    await t.cleanup();
  }
});

test("a slot vacated below the reputation floor is filled on a tick once the reputation recovers", async () => {
  const t = createTestSwarm({
    roles: { lead: {}, reviewer: { tasks: ["review"] } },
    defaults: fast,
  });
  try {
    const { swarm } = t;
    const events: SwarmEvent[] = [];
    swarm.on((e) => events.push(e));
    swarm.agent({ id: "lead", role: "lead" });
    swarm
      .agent({ id: "rev-1", role: "reviewer" })
      .handle("review", (ctx) => ctx.effect("reviewed", ctx.task.id, { by: ctx.agentId }));
    const slots = swarm.slots({
      roles: [{ name: "reviewer", slots: 1 }],
      reputationFloor: 0.3,
      intervalMs: 50,
    });
    await swarm.start();
    await swarm.store.updateReputation("rev-1", () => 0.1);
    await until(() => reassigned(events).length === 1, 5000, "the slot vacated");
    assert.deepEqual(reassigned(events)[0], {
      role: "reviewer",
      slot: 0,
      from: "rev-1",
      to: null,
      reason: "reputation-below-floor",
    });
    assert.equal(swarm.agents.find((a) => a.id === "rev-1")?.paused, true);
    await swarm.store.updateReputation("rev-1", () => 0.5);
    await until(() => reassigned(events).length === 2, 5000, "the slot filled");
    assert.deepEqual(reassigned(events)[1], {
      role: "reviewer",
      slot: 0,
      from: null,
      to: "rev-1",
      reason: "vacancy-filled",
    });
    assert.deepEqual(
      slots.assignments.map((a) => a.agent),
      ["rev-1"],
    );
    await swarm.submit("reviewer", "review", {}, { as: "lead" });
    await until(async () => (await swarm.store.effects("reviewed")).length === 1, 5000, "reviewed");
  } finally {
    await t.cleanup();
  }
});
