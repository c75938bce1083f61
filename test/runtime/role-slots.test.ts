/**
 * Role slots in a running swarm: the best agents of a role hold its slots and
 * take its tasks, the others wait on standby, and a slot changes hands, with
 * an `agent.reassigned` event saying why, when its holder is halted, gives
 * up, or falls below the reputation floor.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AgentCrashError, ConfigError } from "../../src/errors/index.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import type { Swarm } from "../../src/runtime/swarm.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

type Reassigned = Extract<SwarmEvent, { type: "agent.reassigned" }>;

const fast = {
  ackWaitMs: 5000,
  maxDeliver: 5,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

function reviewers(swarm: Swarm, crash = new Set<string>()) {
  swarm.agent({ id: "lead", role: "lead" });
  for (const [id, capabilities] of [
    ["rev-1", ["review", "security"]],
    ["rev-2", ["review"]],
    ["rev-3", ["review"]],
  ] as const) {
    swarm
      .agent({
        id,
        role: "reviewer",
        capabilities: [...capabilities],
        budget: { initial: 10, minBalance: 5 },
      })
      .handle<{ n: number }>("review", (ctx) => {
        if (crash.has(ctx.agentId)) throw new AgentCrashError("the model process died");
        ctx.effect("reviewed", `${ctx.body.n}`, { by: ctx.agentId });
      });
  }
}

async function reviewedBy(swarm: Swarm, n: number): Promise<string> {
  await swarm.submit("reviewer", "review", { n }, { as: "lead" });
  let by = "";
  await until(
    async () => {
      const found = (await swarm.store.effects("reviewed")).find((e) => e.key === `${n}`);
      by = (found?.data as { by?: string } | undefined)?.by ?? "";
      return by !== "";
    },
    10_000,
    `task ${n} reviewed`,
  );
  return by;
}

describe("role slots (embedded)", () => {
  test("the best agent holds the slot; halted, its slot goes to a standby, which then takes the tasks", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, reviewer: { tasks: ["review"] } },
      defaults: fast,
    });
    try {
      const { swarm } = t;
      const events: SwarmEvent[] = [];
      swarm.on((e) => events.push(e));
      reviewers(swarm);
      const slots = swarm.slots({
        roles: [{ name: "reviewer", requires: ["review"], prefers: ["security"] }],
      });
      await swarm.start();
      assert.deepEqual(
        slots.assignments.map((s) => s.agent),
        ["rev-1"],
        "the one with the preferred skill",
      );
      assert.equal(swarm.agents.find((a) => a.id === "rev-2")?.paused, true, "standby");
      assert.equal(await reviewedBy(swarm, 1), "rev-1");

      await swarm.budgets.spend("rev-1", "op-1", { kind: "test", credits: 8 });
      await until(
        () => events.some((e) => e.type === "agent.reassigned"),
        10_000,
        "a reassignment",
      );
      const change = events.find((e): e is Reassigned => e.type === "agent.reassigned");
      assert.deepEqual(
        { from: change?.from, reason: change?.reason, role: change?.role, slot: change?.slot },
        { from: "rev-1", reason: "halted", role: "reviewer", slot: 0 },
      );
      assert.ok(change?.to === "rev-2" || change?.to === "rev-3", `to a standby: ${change?.to}`);
      assert.equal(await reviewedBy(swarm, 2), change?.to, "the new holder takes the tasks");
      assert.equal(
        await swarm.metrics.get("conclave_agents_reassigned_total", {
          role: "reviewer",
          reason: "halted",
        }),
        1,
      );

      // Funded again, the old holder stays on standby: its slot is taken.
      await swarm.fund("rev-1", 100, { by: "ops" });
      await until(() => events.some((e) => e.type === "agent.resumed"), 10_000, "rev-1 resumed");
      await until(
        () => swarm.agents.find((a) => a.id === "rev-1")?.paused === true,
        10_000,
        "rev-1 on standby",
      );
    } finally {
      await t.cleanup();
    }
  });

  test("a holder below the reputation floor loses its slot; one that gives up too", async () => {
    const crash = new Set<string>();
    const t = createTestSwarm({
      roles: { lead: {}, reviewer: { tasks: ["review"] } },
      defaults: fast,
      maxRestartsPerMinute: 0,
    });
    try {
      const { swarm } = t;
      const events: SwarmEvent[] = [];
      swarm.on((e) => events.push(e));
      reviewers(swarm, crash);
      const slots = swarm.slots({
        roles: [{ name: "reviewer", requires: ["review"], prefers: ["security"] }],
        reputationFloor: 0.3,
        intervalMs: 20,
      });
      await swarm.start();
      assert.deepEqual(
        slots.assignments.map((s) => s.agent),
        ["rev-1"],
      );

      await swarm.store.updateReputation("rev-1", () => 0.1);
      await until(
        () => events.some((e) => e.type === "agent.reassigned"),
        10_000,
        "a reassignment",
      );
      const first = events.find((e): e is Reassigned => e.type === "agent.reassigned");
      assert.equal(first?.reason, "reputation-below-floor");
      assert.equal(first?.from, "rev-1");
      const holder = first?.to as string;
      assert.equal(swarm.agents.find((a) => a.id === "rev-1")?.paused, true, "rev-1 on standby");

      // The new holder crashes with no restarts allowed: it gave up, so it left.
      crash.add(holder);
      await swarm.submit("reviewer", "review", { n: 1 }, { as: "lead" });
      await until(
        () => events.filter((e) => e.type === "agent.reassigned").length === 2,
        10_000,
        "a second reassignment",
      );
      const second = events.filter((e): e is Reassigned => e.type === "agent.reassigned")[1];
      assert.equal(second?.from, holder);
      assert.equal(second?.reason, "left");
      const last = ["rev-2", "rev-3"].find((id) => id !== holder);
      assert.equal(second?.to, last, "the remaining standby above the floor, not rev-1");
      assert.equal(await reviewedBy(swarm, 2), last, "the last holder takes the next tasks");
    } finally {
      await t.cleanup();
    }
  });

  test("a role is pooled or staffed by slots, not both, whichever comes first", async () => {
    const t = createTestSwarm({ roles: { reviewer: { tasks: ["review"] } } });
    try {
      const pool = {
        role: "reviewer",
        min: 1,
        max: 2,
        workerId: (n: number) => `rev-p${n}`,
        spawn: (id: string) => t.swarm.agent({ id, role: "reviewer" }),
      };
      t.swarm.slots({ roles: [{ name: "reviewer" }] });
      assert.throws(
        () => t.swarm.pool(pool),
        (e: unknown) => e instanceof ConfigError && /staffed by slots.*keep one/.test(e.message),
      );
    } finally {
      await t.cleanup();
    }
    const u = createTestSwarm({ roles: { reviewer: { tasks: ["review"] } } });
    try {
      u.swarm.pool({
        role: "reviewer",
        min: 1,
        max: 2,
        workerId: (n: number) => `rev-p${n}`,
        spawn: (id: string) => u.swarm.agent({ id, role: "reviewer" }),
      });
      assert.throws(
        () => u.swarm.slots({ roles: [{ name: "reviewer" }] }),
        (e: unknown) => e instanceof ConfigError && /is pooled.*keep one/.test(e.message),
      );
    } finally {
      await u.cleanup();
    }
  });

  test("slots for a role the swarm does not define are refused with what to do", async () => {
    const t = createTestSwarm({ roles: { reviewer: { tasks: ["review"] } } });
    try {
      assert.throws(
        () => t.swarm.slots({ roles: [{ name: "reviwer" }] }),
        /slots for role "reviwer": the swarm defines no such role; add it under roles/,
      );
    } finally {
      await t.cleanup();
    }
  });
});
