import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { AgentCrashError, PermanentError } from "../../src/errors/index.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

const fast = {
  ackWaitMs: 2000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

describe("swarm runtime (embedded)", () => {
  test("a task no handler knows is dead-lettered with the name agent.handle takes", async () => {
    // The role lists the misspelt task, so the submit is accepted; no handler has it.
    const t = createTestSwarm({
      roles: { lead: {}, dev: { tasks: ["review", "reveiw"] } },
      defaults: fast,
    });
    try {
      const { swarm } = t;
      swarm.agent({ id: "lead", role: "lead" });
      swarm.agent({ id: "dev-1", role: "dev" }).handle("review", () => {});
      await swarm.start();
      const id = await swarm.submit("dev", "reveiw", {}, { as: "lead" });
      await until(
        async () => (await swarm.store.deadLetter(id)) !== undefined,
        5000,
        "the dead letter",
      );
      const reason = (await swarm.store.deadLetter(id))?.reason ?? "";
      assert.match(reason, /agent\.handle\("reveiw", \.\.\.\)/, reason);
      assert.doesNotMatch(reason, /agent\.handle\("task\./, reason);
    } finally {
      await t.cleanup();
    }
  });

  test("tasks flow through a pipeline of roles; effects apply once", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, dev: { tasks: ["code"] }, audit: { tasks: ["check"] } },
      defaults: fast,
    });
    try {
      const { swarm } = t;
      swarm.agent({ id: "lead", role: "lead" });
      for (const id of ["dev-1", "dev-2"]) {
        swarm.agent({ id, role: "dev", concurrency: 4 }).handle<{ n: number }>("code", (ctx) => {
          ctx.effect("code.written", ctx.root);
          ctx.submit("audit", "check", { n: ctx.body.n });
        });
      }
      swarm.agent({ id: "auditor", role: "audit", concurrency: 4 }).handle("check", (ctx) => {
        ctx.effect("audited", ctx.root);
      });
      await swarm.start();
      for (let n = 0; n < 50; n++) await swarm.submit("dev", "code", { n }, { as: "lead" });
      await until(
        async () => (await swarm.store.effectStats("audited")).keys === 50,
        10_000,
        "50 audits",
      );
      assert.equal((await swarm.store.effectStats("code.written")).duplicateKeys, 0);
      assert.equal((await swarm.store.effectStats("audited")).duplicateKeys, 0);
      const audited = await swarm.store.effects("audited");
      assert.ok(audited.every((e) => e.agent === "auditor"));
    } finally {
      await t.cleanup();
    }
  });

  test("a failing task is retried with backoff, then dead-lettered with its reason", async () => {
    const t = createTestSwarm({ roles: { lead: {}, dev: { tasks: ["code"] } }, defaults: fast });
    try {
      const { swarm } = t;
      const events: SwarmEvent[] = [];
      swarm.on((e) => events.push(e));
      swarm.agent({ id: "lead", role: "lead" });
      swarm.agent({ id: "dev-1", role: "dev" }).handle("code", () => {
        throw new Error("compiler exploded");
      });
      await swarm.start();
      const id = await swarm.submit("dev", "code", {}, { as: "lead" });
      await until(
        async () => (await swarm.store.deadLetters()).length === 1,
        5000,
        "the dead letter",
      );
      const [dead] = await swarm.store.deadLetters();
      assert.equal(dead?.id, id);
      assert.equal(dead?.corr, id);
      assert.equal(dead?.deliveries, 3);
      assert.match(dead?.reason ?? "", /compiler exploded/);
      const failures = events.filter((e) => e.type === "task.failed");
      assert.equal(failures.length, 3);
      assert.deepEqual(
        failures.map((f) => f.type === "task.failed" && f.willRetry),
        [true, true, false],
      );
    } finally {
      await t.cleanup();
    }
  });

  test("PermanentError dead-letters without retrying", async () => {
    const t = createTestSwarm({ roles: { lead: {}, dev: { tasks: ["code"] } }, defaults: fast });
    try {
      const { swarm } = t;
      let calls = 0;
      swarm.agent({ id: "lead", role: "lead" });
      swarm.agent({ id: "dev-1", role: "dev" }).handle("code", () => {
        calls++;
        throw new PermanentError("spec is contradictory");
      });
      await swarm.start();
      await swarm.submit("dev", "code", {}, { as: "lead" });
      await until(
        async () => (await swarm.store.deadLetters()).length === 1,
        5000,
        "the dead letter",
      );
      assert.equal(calls, 1);
    } finally {
      await t.cleanup();
    }
  });

  test("an unsigned or forged task is dead-lettered, never handled", async () => {
    const t = createTestSwarm({ roles: { lead: {}, dev: { tasks: ["code"] } }, defaults: fast });
    try {
      const { swarm } = t;
      let calls = 0;
      swarm.agent({ id: "lead", role: "lead" });
      swarm.agent({ id: "dev-1", role: "dev" }).handle("code", () => {
        calls++;
      });
      await swarm.start();
      const enc = new TextEncoder();
      const unsigned = {
        id: "01JD0000000000000000000001",
        type: "task.code",
        from: "lead",
        ts: Date.now(),
        body: {},
      };
      await swarm.transport.enqueue("test.task.dev.code", enc.encode(JSON.stringify(unsigned)), {
        msgId: unsigned.id,
      });
      const forged = { ...unsigned, id: "01JD0000000000000000000002", sig: "A".repeat(85) + "A" };
      await swarm.transport.enqueue("test.task.dev.code", enc.encode(JSON.stringify(forged)), {
        msgId: forged.id,
      });
      await swarm.transport.enqueue("test.task.dev.code", enc.encode("not json {"), {
        msgId: "garbage-1",
      });
      await until(
        async () => (await swarm.store.deadLetters()).length === 3,
        5000,
        "3 dead letters",
      );
      const reasons = (await swarm.store.deadLetters()).map((d) => d.reason).sort();
      assert.match(reasons.join("\n"), /InvalidEnvelopeError/);
      assert.match(reasons.join("\n"), /unsigned/);
      assert.match(reasons.join("\n"), /SignatureError/);
      assert.equal(calls, 0);
    } finally {
      await t.cleanup();
    }
  });

  test("a crashed agent hands back its task and is restarted by its supervisor", async () => {
    const t = createTestSwarm({ roles: { lead: {}, dev: { tasks: ["code"] } }, defaults: fast });
    try {
      const { swarm } = t;
      const events: SwarmEvent[] = [];
      swarm.on((e) => events.push(e));
      let calls = 0;
      swarm.agent({ id: "lead", role: "lead" });
      swarm.agent({ id: "dev-1", role: "dev" }).handle("code", (ctx) => {
        calls++;
        if (calls === 1) throw new AgentCrashError("lost the model session");
        ctx.effect("done", ctx.root);
      });
      await swarm.start();
      await swarm.submit("dev", "code", {}, { as: "lead" });
      await until(
        async () => (await swarm.store.effectStats("done")).keys === 1,
        5000,
        "the retry",
      );
      assert.ok(events.some((e) => e.type === "agent.crashed"));
    } finally {
      await t.cleanup();
    }
  });

  test("request routes to a live agent of the role and fails over", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, dev: { tasks: ["echo"], routing: "round-robin" } },
      defaults: { ...fast, heartbeatMs: 50 },
    });
    try {
      const { swarm } = t;
      swarm.agent({ id: "lead", role: "lead" });
      swarm.agent({ id: "dev-1", role: "dev" }).handle("echo", () => {
        throw new Error("I am broken");
      });
      swarm
        .agent({ id: "dev-2", role: "dev" })
        .handle<{ x: number }>("echo", (ctx) => ({ x: ctx.body.x, by: ctx.agentId }));
      await swarm.start();
      await until(() => swarm.registry.find({ role: "dev" }).length === 2, 2000, "the registry");
      for (let i = 0; i < 4; i++) {
        const result = await swarm.request<{ x: number; by: string }>(
          "dev",
          "echo",
          { x: i },
          { as: "lead", timeoutMs: 1000 },
        );
        assert.deepEqual(result, { x: i, by: "dev-2" });
      }
    } finally {
      await t.cleanup();
    }
  });
});

describe("conversation ordering of a role's tasks", () => {
  test("tasks of one conversation run in seq order across agents, whatever the submit order", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, dev: { tasks: ["step"], ordering: "conversation", gapTimeoutMs: 5000 } },
      defaults: fast,
    });
    try {
      const { swarm } = t;
      const ran: number[] = [];
      swarm.agent({ id: "lead", role: "lead" });
      for (const id of ["dev-1", "dev-2"]) {
        swarm
          .agent({ id, role: "dev", concurrency: 4 })
          .handle<{ seq: number }>("step", async (ctx) => {
            await sleep(5);
            ran.push(ctx.body.seq);
          });
      }
      await swarm.start();
      for (const seq of [4, 2, 3, 0, 1]) {
        await swarm.submit("dev", "step", { seq }, { as: "lead", conv: "build-7", seq });
      }
      await until(() => ran.length === 5, 5000, "five steps");
      assert.deepEqual(ran, [0, 1, 2, 3, 4]);
    } finally {
      await t.cleanup();
    }
  });

  test("a missing predecessor is waited for only up to the gap timeout", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, dev: { tasks: ["step"], ordering: "conversation", gapTimeoutMs: 150 } },
      defaults: fast,
    });
    try {
      const { swarm } = t;
      const ran: number[] = [];
      swarm.agent({ id: "lead", role: "lead" });
      swarm
        .agent({ id: "dev-1", role: "dev", concurrency: 4 })
        .handle<{ seq: number }>("step", (ctx) => {
          ran.push(ctx.body.seq);
        });
      await swarm.start();
      const started = Date.now();
      await swarm.submit("dev", "step", { seq: 2 }, { as: "lead", conv: "c", seq: 2 });
      await until(() => ran.length === 1, 3000, "seq 2 after the gap timeout");
      assert.ok(Date.now() - started >= 140, "it waited for seq 1 first");
    } finally {
      await t.cleanup();
    }
  });

  test("causal ordering of a role's task queue is refused with a pointer to event subscriptions", () => {
    assert.throws(
      () => createTestSwarm({ roles: { dev: { tasks: ["x"], ordering: "causal" } } }),
      /causal ordering applies to event subscriptions/,
    );
  });
});
