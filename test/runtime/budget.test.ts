import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  AgentHaltedError,
  agentAccount,
  InsufficientCreditsError,
  operations,
} from "../../src/ledger/index.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

const defaults = {
  heartbeatMs: 50,
  ackWaitMs: 2000,
  maxDeliver: 5,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

describe("budgets", () => {
  test("charging a model the price table lacks dead-letters the task at once, saying to add the price", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, dev: { tasks: ["work"] } },
      defaults,
      prices: {
        version: "p-1",
        creditsPerUsd: 1_000_000,
        models: { known: { input: 1, output: 1 } },
      },
    });
    try {
      const { swarm } = t;
      let attempts = 0;
      swarm.agent({ id: "lead", role: "lead" });
      swarm
        .agent({ id: "dev-1", role: "dev", budget: { initial: 1000, minBalance: 0 } })
        .handle("work", async (ctx) => {
          attempts++;
          await ctx.spend({ kind: "llm", model: "gpt-typo", inputTokens: 10, outputTokens: 10 });
        });
      await swarm.start();
      const id = await swarm.submit("dev", "work", {}, { as: "lead" });
      await until(
        async () => (await swarm.store.deadLetter(id)) !== undefined,
        5000,
        "the dead letter",
      );
      const dead = await swarm.store.deadLetter(id);
      assert.match(
        dead?.reason ?? "",
        /no price for model "gpt-typo" in price table p-1: add it under prices\.models/,
      );
      assert.equal(attempts, 1, "not retried: retrying cannot price it");
      assert.equal(dead?.deliveries, 1);
    } finally {
      await t.cleanup();
    }
  });

  test("an agent that exhausts its budget is halted within one task, its work goes to others, and it resumes when funded", async () => {
    const t = createTestSwarm({ roles: { lead: {}, dev: { tasks: ["work"] } }, defaults });
    try {
      const { swarm } = t;
      const events: SwarmEvent[] = [];
      swarm.on((e) => events.push(e));
      const handled: Record<string, number> = { poor: 0, rich: 0 };
      swarm.agent({ id: "lead", role: "lead" });
      for (const [id, initial] of [
        ["poor", 100],
        ["rich", 100_000],
      ] as const) {
        swarm
          .agent({ id, role: "dev", concurrency: 1, budget: { initial, minBalance: 50 } })
          .handle("work", async (ctx) => {
            await ctx.spend({ kind: "tool", credits: 30 });
            await sleep(2);
            handled[id] = (handled[id] ?? 0) + 1;
            ctx.finish();
          });
      }
      const published: string[] = [];
      swarm.transport.subscribe("test.event.agent.*", (m) => {
        published.push(m.subject);
      });
      await swarm.start();
      for (let i = 0; i < 30; i++) await swarm.submit("dev", "work", { i }, { as: "lead" });
      await until(() => (handled["poor"] ?? 0) + (handled["rich"] ?? 0) === 30, 10_000, "30 tasks");
      // 100 → 70 → 40 (< 50): halted after its second task, at most one more in flight.
      assert.ok((handled["poor"] ?? 0) <= 3, `the poor agent handled ${handled["poor"]} tasks`);
      assert.ok(events.some((e) => e.type === "agent.halted" && e.agent === "poor"));
      await until(
        () => published.includes("test.event.agent.halted"),
        2000,
        "agent.halted on the bus",
      );
      assert.ok((await swarm.store.balance(agentAccount("poor"))) >= 0);

      await swarm.store.applyLedgerOperation(
        operations.mint("fund-1", agentAccount("poor"), 1000, Date.now()),
      );
      await until(
        () => events.some((e) => e.type === "agent.resumed" && e.agent === "poor"),
        5000,
        "the resume",
      );
      const before = handled["poor"] ?? 0;
      for (let i = 0; i < 20; i++) await swarm.submit("dev", "work", { i }, { as: "lead" });
      await until(
        () => (handled["poor"] ?? 0) + (handled["rich"] ?? 0) === 50,
        10_000,
        "20 more tasks",
      );
      assert.ok((handled["poor"] ?? 0) > before, "the funded agent takes tasks again");
      const check = await swarm.store.ledgerCheck();
      assert.equal(check.sum, check.minted);
      assert.deepEqual(check.negative, []);
    } finally {
      await t.cleanup();
    }
  });

  test("delegation holds the budget in escrow; the verdict releases or refunds it; overdrafts and halted agents fail closed", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, dev: { tasks: ["work"] }, audit: { tasks: ["check"] } },
      defaults,
    });
    try {
      const { swarm } = t;
      let delegated = 0;
      const lead = swarm.agent({
        id: "lead",
        role: "lead",
        budget: { initial: 250, minBalance: 0 },
      });
      lead.onStart((ctx) =>
        ctx.once("plan", async (plan) => {
          await plan.delegate("dev", "work", { ok: true }, { budget: 100 });
          await plan.delegate("dev", "work", { ok: false }, { budget: 100 });
          delegated = 2;
          await assert.rejects(
            plan.delegate("dev", "work", {}, { budget: 100 }),
            InsufficientCreditsError,
          );
        }),
      );
      swarm
        .agent({ id: "dev", role: "dev", budget: { initial: 0, minBalance: 0 } })
        .handle<{ ok: boolean }>("work", (ctx) => {
          ctx.submit("audit", "check", { ok: ctx.body.ok, author: ctx.agentId });
        });
      swarm
        .agent({ id: "auditor", role: "audit" })
        .handle<{ ok: boolean; author: string }>("check", async (ctx) => {
          await ctx.settle(ctx.body.ok ? "pass" : "fail", ctx.body.author);
          ctx.finish();
        });
      await swarm.start();
      assert.equal(delegated, 2);
      await until(
        async () => (await swarm.store.balance(agentAccount("dev"))) === 100,
        5000,
        "the release",
      );
      await until(
        async () => (await swarm.store.balance(agentAccount("lead"))) === 150,
        5000,
        "the refund",
      );
      const check = await swarm.store.ledgerCheck();
      assert.equal(check.minted, 250);
      assert.equal(check.sum, 250);

      // An escrow settled one way and then asked the other: the first stands, and it is said.
      const events: SwarmEvent[] = [];
      swarm.on((e) => events.push(e));
      await swarm.budgets.hold("lead", "late.1", 50);
      await swarm.budgets.settle("late.1", 50, "fail", "lead");
      await swarm.budgets.settle("late.1", 50, "fail", "lead");
      await swarm.budgets.settle("late.1", 50, "pass", "dev");
      assert.equal(await swarm.store.balance(agentAccount("dev")), 100, "the pass was not applied");
      assert.deepEqual(
        events.filter((e) => e.type === "escrow.settled_before"),
        [{ type: "escrow.settled_before", escrow: "late.1", verdict: "pass", party: "dev" }],
        "said once, for the settlement asked the other way only",
      );

      swarm.budgets.add("broke", { initial: 0, minBalance: 10 });
      await swarm.budgets.start();
      assert.ok(swarm.budgets.isHalted("broke"));
      await assert.rejects(swarm.budgets.hold("broke", "x.1", 5), AgentHaltedError);
    } finally {
      await t.cleanup();
    }
  });
});
