import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AgentCrashError } from "../../src/errors/index.js";
import type { Agent } from "../../src/runtime/agent.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import type { Swarm } from "../../src/runtime/swarm.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

const fast = {
  ackWaitMs: 5000,
  maxDeliver: 5,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

/** Tasks block on a gate the test opens, so the queue's depth does not depend on the machine's speed. */
function gatedWork(swarm: Swarm) {
  let open!: () => void;
  let gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const setup = (agent: Agent) =>
    agent.handle<{ n: number }>("work", async (ctx) => {
      await gate;
      ctx.effect("worked", `${ctx.body.n}`);
    });
  return {
    setup,
    spawn: (id: string) => setup(swarm.agent({ id, role: "worker" })),
    open: () => open(),
    close: () => {
      gate = new Promise<void>((resolve) => {
        open = resolve;
      });
    },
  };
}

describe("autoscaling pool (embedded)", () => {
  test("workers grow with the queue, shrink to min once it drains, and no task is lost or done twice", async () => {
    const t = createTestSwarm({ roles: { lead: {}, worker: { tasks: ["work"] } }, defaults: fast });
    try {
      const { swarm } = t;
      const events: SwarmEvent[] = [];
      swarm.on((e) => events.push(e));
      swarm.agent({ id: "lead", role: "lead" });
      const work = gatedWork(swarm);
      work.setup(swarm.agent({ id: "worker-1", role: "worker" }));
      const pool = swarm.pool({
        role: "worker",
        min: 1,
        max: 4,
        members: ["worker-1"],
        workerId: (n) => `worker-1-p${n}`,
        intervalMs: 30,
        scaleUpCooldownMs: 60,
        scaleDownCooldownMs: 200,
        spawn: work.spawn,
      });
      await swarm.start();

      // Ramp up: 12 tasks, each held by its worker until the gate opens.
      for (let n = 0; n < 12; n++) await swarm.submit("worker", "work", { n }, { as: "lead" });
      await until(() => pool.serving === 4, 10_000, "the pool to grow to max");
      assert.equal(pool.workers.length, 4, "never above max");
      // Busy workers are never retired: still four while every one holds a task.
      await until(
        () => swarm.agents.filter((a) => a.role === "worker" && a.inFlight > 0).length === 4,
        10_000,
        "every worker busy",
      );
      assert.equal(pool.serving, 4);

      // Ramp down: the work finishes, the pool sheds idle workers down to min.
      work.open();
      await until(
        async () => (await swarm.store.effectStats("worked")).keys === 12,
        10_000,
        "12 tasks done",
      );
      await until(() => pool.workers.length === 1, 10_000, "the pool to shrink to min");
      const stats = await swarm.store.effectStats("worked");
      assert.equal(stats.duplicateKeys, 0, "no task done twice");
      const dead = await swarm.store.deadLetters();
      assert.equal(
        dead.length,
        0,
        `no task dead-lettered: ${JSON.stringify(dead.map((d) => [d.subject, d.reason]))}`,
      );
      assert.deepEqual(pool.workers, ["worker-1"], "the oldest worker stays");

      const scaled = events.filter(
        (e): e is Extract<SwarmEvent, { type: "pool.scaled" }> => e.type === "pool.scaled",
      );
      assert.ok(scaled.some((e) => e.direction === "up" && e.reason === "scale-up"));
      assert.ok(scaled.some((e) => e.direction === "down" && e.reason === "scale-down"));
      const up = scaled.filter((e) => e.direction === "up").flatMap((e) => e.workers);
      const retired = events.filter((e) => e.type === "pool.retired").map((e) => e.agent);
      assert.deepEqual([...retired].sort(), [...up].sort(), "every spawned worker retired");
      assert.equal(
        (await swarm.metrics.get("conclave_pool_scaled_total", {
          role: "worker",
          direction: "up",
          reason: "scale-up",
        })) > 0,
        true,
      );

      // A second burst reuses the freed slots (their keys stay pinned to the same ids).
      work.close();
      for (let n = 12; n < 20; n++) await swarm.submit("worker", "work", { n }, { as: "lead" });
      await until(() => pool.serving >= 2, 10_000, "the pool to grow again");
      assert.ok(pool.workers.every((id) => id === "worker-1" || /^worker-1-p[1-8]$/.test(id)));
      work.open();
      await until(
        async () => (await swarm.store.effectStats("worked")).keys === 20,
        10_000,
        "20 tasks done",
      );
      assert.equal((await swarm.store.effectStats("worked")).duplicateKeys, 0);
    } finally {
      await t.cleanup();
    }
  });

  test("a pool below min spawns at once, and a worker that fails to spawn is reported and retried", async () => {
    const t = createTestSwarm({ roles: { lead: {}, worker: { tasks: ["work"] } }, defaults: fast });
    try {
      const { swarm } = t;
      const errors: string[] = [];
      swarm.on((e) => {
        if (e.type === "error") errors.push(e.error);
      });
      swarm.agent({ id: "lead", role: "lead" });
      const work = gatedWork(swarm);
      work.open();
      let failures = 1;
      const pool = swarm.pool({
        role: "worker",
        min: 2,
        max: 3,
        intervalMs: 20,
        spawn: (id) => {
          if (failures-- > 0) throw new Error("no capacity");
          return work.spawn(id);
        },
      });
      await swarm.start();
      await until(() => pool.serving === 2, 10_000, "min workers");
      assert.ok(errors.some((e) => /spawning worker worker-w\d failed: no capacity/.test(e)));
      await swarm.submit("worker", "work", { n: 1 }, { as: "lead" });
      await until(
        async () => (await swarm.store.effectStats("worked")).keys === 1,
        10_000,
        "the task done by a spawned worker",
      );
    } finally {
      await t.cleanup();
    }
  });

  test("a spawned worker with a bid handler is refused: a retired bidder would strand its awarded tasks", async () => {
    const t = createTestSwarm({ roles: { lead: {}, worker: { tasks: ["work"] } }, defaults: fast });
    try {
      const { swarm } = t;
      const errors: string[] = [];
      swarm.on((e) => {
        if (e.type === "error") errors.push(e.error);
      });
      swarm.agent({ id: "lead", role: "lead" });
      const work = gatedWork(swarm);
      const pool = swarm.pool({
        role: "worker",
        min: 1,
        max: 2,
        intervalMs: 20,
        spawn: (id) => work.spawn(id).bid(() => ({ price: 1 })),
      });
      await swarm.start();
      await until(
        () => errors.some((e) => /pool workers do not bid/.test(e)),
        10_000,
        "the bidding worker refused",
      );
      assert.match(
        errors.find((e) => /pool workers do not bid/.test(e)) ?? "",
        /spawning worker worker-w\d failed: the pool's spawn\(worker-w\d\) gave its worker a bid handler/,
      );
      assert.equal(pool.serving, 0, "no bidding worker serves");
      assert.equal(
        swarm.agents.filter((a) => a.role === "worker").length,
        0,
        "nor is it left hosted",
      );
    } finally {
      await t.cleanup();
    }
  });

  test("a worker that crashes past its restart limit is taken out and replaced", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, worker: { tasks: ["work"] } },
      defaults: fast,
      maxRestartsPerMinute: 0,
    });
    try {
      const { swarm } = t;
      const events: SwarmEvent[] = [];
      swarm.on((e) => events.push(e));
      swarm.agent({ id: "lead", role: "lead" });
      let spawned = 0;
      const pool = swarm.pool({
        role: "worker",
        min: 1,
        max: 2,
        intervalMs: 20,
        spawn: (id) => {
          // Only the first worker is broken; its replacement (same slot, same id) is sound.
          const broken = ++spawned === 1;
          return swarm.agent({ id, role: "worker" }).handle<{ n: number }>("work", (ctx) => {
            if (broken) throw new AgentCrashError("out of memory");
            ctx.effect("worked", `${ctx.body.n}`, { by: ctx.agentId });
          });
        },
      });
      await swarm.start();
      await until(() => pool.serving === 1, 10_000, "one worker");
      await swarm.submit("worker", "work", { n: 1 }, { as: "lead" });
      await until(
        () => events.some((e) => e.type === "agent.gave_up"),
        10_000,
        "the worker gave up",
      );
      await until(() => spawned === 2 && pool.serving === 1, 10_000, "a replacement");
      const replaced = events.filter((e) => e.type === "pool.scaled" && e.reason === "below-min");
      assert.equal(replaced.length, 2, "the first worker, then its replacement");
      await swarm.submit("worker", "work", { n: 2 }, { as: "lead" });
      await until(
        async () => (await swarm.store.effects("worked")).some((e) => e.key === "2"),
        10_000,
        "the next task done by the replacement",
      );
    } finally {
      await t.cleanup();
    }
  });

  test("bad settings are refused with what to change", async () => {
    const t = createTestSwarm({ roles: { worker: { tasks: ["work"] } } });
    try {
      assert.throws(
        () => t.swarm.pool({ role: "worker", min: 3, max: 2, spawn: () => assert.fail() }),
        /max must be a whole number ≥ max\(min, 1\)/,
      );
      assert.throws(
        () => t.swarm.pool({ role: "nope", min: 1, max: 2, spawn: () => assert.fail() }),
        /role "nope".*add it under roles/,
      );
    } finally {
      await t.cleanup();
    }
  });
});
