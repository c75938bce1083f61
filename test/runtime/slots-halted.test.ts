/**
 * Role slots go to funded agents first: an agent halted for want of credits
 * (before the slots were assigned, or after) held a slot while a funded
 * agent of its role waited on standby, and the role's tasks sat queued.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

const fast = {
  ackWaitMs: 5000,
  maxDeliver: 5,
  heartbeatMs: 50,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

test("an agent halted before the slots are assigned does not get a slot", async () => {
  const t = createTestSwarm({
    roles: { lead: {}, reviewer: { tasks: ["review"] } },
    defaults: fast,
  });
  try {
    const { swarm } = t;
    const events: SwarmEvent[] = [];
    swarm.on((e) => events.push(e));
    swarm.agent({ id: "lead", role: "lead" });
    // rev-1 is preferred (security) but starts out of credits: halted at start.
    for (const [id, caps, initial] of [
      ["rev-1", ["review", "security"], 0],
      ["rev-2", ["review"], 100],
    ] as const) {
      swarm
        .agent({
          id,
          role: "reviewer",
          capabilities: [...caps],
          budget: { initial, minBalance: 5 },
        })
        .handle("review", (ctx) => {
          ctx.effect("reviewed", ctx.task.id, { by: ctx.agentId });
        });
    }
    const slots = swarm.slots({
      roles: [{ name: "reviewer", slots: 1, prefers: ["security"] }],
      intervalMs: 100,
    });
    await swarm.start();
    await swarm.submit("reviewer", "review", {}, { as: "lead" });
    await until(async () => (await swarm.store.effects("reviewed")).length === 1, 5000, "reviewed");
    const done = await swarm.store.effects("reviewed");
    console.log(
      "assignments",
      JSON.stringify(slots.assignments),
      "halted",
      events.filter((e) => e.type === "agent.halted").map((e) => (e as { agent: string }).agent),
      "reassigned",
      events.filter((e) => e.type === "agent.reassigned").length,
      "reviewed",
      done.length,
    );
    assert.equal(
      done.length,
      1,
      "the task was never reviewed: the only slot is held by a halted agent, the funded one waits on standby",
    );
  } finally {
    await t.cleanup();
  }
});

test("a slot freed by a halt does not go to another halted agent", async () => {
  const t = createTestSwarm({
    roles: { lead: {}, reviewer: { tasks: ["review"] } },
    defaults: fast,
  });
  try {
    const { swarm } = t;
    const events: SwarmEvent[] = [];
    swarm.on((e) => events.push(e));
    swarm.agent({ id: "lead", role: "lead" });
    for (const [id, caps] of [
      ["rev-1", ["review", "security", "perf"]],
      ["rev-2", ["review", "security"]],
      ["rev-3", ["review"]],
    ] as const) {
      swarm
        .agent({
          id,
          role: "reviewer",
          capabilities: [...caps],
          budget: { initial: 10, minBalance: 5 },
        })
        .handle<{ n: number }>("review", async (ctx) => {
          if ((ctx.body as { spend?: boolean }).spend) await ctx.spend({ kind: "x", credits: 6 });
          ctx.effect("reviewed", ctx.task.id, { by: ctx.agentId });
        });
    }
    const slots = swarm.slots({
      roles: [{ name: "reviewer", slots: 1, prefers: ["security", "perf"] }],
      intervalMs: 100_000,
    });
    await swarm.start();
    await swarm.submit("reviewer", "review", { spend: true }, { as: "lead" }); // rev-1 halts
    await sleep(500);
    await swarm.submit("reviewer", "review", { spend: true }, { as: "lead" }); // rev-2 halts
    await sleep(500);
    const holder = slots.assignments[0]?.agent;
    await swarm.submit("reviewer", "review", {}, { as: "lead" });
    await until(async () => (await swarm.store.effects("reviewed")).length === 3, 5000, "reviewed");
    const done = await swarm.store.effects("reviewed");
    assert.notEqual(holder, "rev-1", "the slot went back to rev-1, which is still halted");
    assert.equal(done.length, 3);
  } finally {
    await t.cleanup();
  }
});
