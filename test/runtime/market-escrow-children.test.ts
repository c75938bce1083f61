/**
 * An awarded task's escrow belongs to its auction: released to the payee
 * when the winner completes the task, refunded when the awarded task itself
 * dies. A child task the winner sends (`ctx.call`, `ctx.gather`, an LLM
 * tool call, a submitted task of an auctioned type) does not carry it on:
 * its death must not refund the winner's pay.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PermanentError } from "../../src/errors/index.js";
import { agentAccount, escrowAccount } from "../../src/ledger/index.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { escrowKey } from "../../src/runtime/market/engine.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { live, marketDefaults } from "../helpers/market.js";
import { until } from "../helpers/until.js";

describe("market: the escrow of an awarded task stays with it", () => {
  test("a child the winner calls dies, the winner completes: the winner is paid, the payer not refunded", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, dev: { tasks: ["review"] }, helper: { tasks: ["lookup"] } },
      defaults: marketDefaults,
    });
    try {
      const { swarm } = t;
      const events: SwarmEvent[] = [];
      swarm.on((e) => events.push(e));
      swarm.agent({ id: "lead", role: "lead", budget: { initial: 1000, minBalance: 0 } });
      swarm.agent({ id: "helper-1", role: "helper" }).handle("lookup", () => {
        throw new PermanentError("no such thing");
      });
      let gathered: string | undefined;
      swarm
        .agent({ id: "dev-1", role: "dev", budget: { initial: 10, minBalance: 0 } })
        .bid(() => ({ price: 70 }))
        .handle("review", async (ctx) => {
          const [part] = await ctx.gather([{ role: "helper", task: "lookup", body: {} }]);
          gathered = part?.status;
          // The winner copes without the lookup and delivers.
        });
      await swarm.start();
      await live(swarm, ["dev-1", "helper-1"]);
      const won = await swarm.auction(
        "review",
        {},
        { as: "lead", rule: "first-price", roundMs: 1000 },
      );
      assert.equal(won.winner, "dev-1");
      assert.equal(won.price, 70);
      await until(
        async () => (await swarm.store.isCompleted(won.task as string)) && gathered !== undefined,
        10_000,
        "the winner completes the awarded task",
      );
      assert.equal(gathered, "dead_lettered", "the child died");
      await until(
        async () => (await swarm.store.balance(escrowAccount(escrowKey(won.auction)))) === 0,
        5000,
        "the escrow settled",
      );
      // Let any late settlement land.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(
        await swarm.store.balance(agentAccount("dev-1")),
        80,
        "the winner that completed the task is paid the price",
      );
      assert.equal(await swarm.store.balance(agentAccount("lead")), 930, "the payer paid once");
      assert.equal(
        events.filter((e) => e.type === "escrow.settled_before").length,
        0,
        "nobody settled the auction's escrow but the market",
      );
      const check = await swarm.store.ledgerCheck();
      assert.equal(check.sum, check.minted);
      assert.deepEqual(check.negative, []);
    } finally {
      await t.cleanup();
    }
  });
  test("a task of an auctioned type the winner submits is auctioned without refunding the winner's pay", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, dev: { tasks: ["review"] }, helper: { tasks: ["lookup"] } },
      defaults: marketDefaults,
      tasks: {
        lookup: {
          allocation: "auction",
          role: "helper",
          auction: {
            rule: "first-price",
            side: "procurement",
            roundMs: 500,
            maxRounds: 1,
            criteria: [],
            onUnsold: "queue",
          },
        },
      },
    });
    try {
      const { swarm } = t;
      const events: SwarmEvent[] = [];
      swarm.on((e) => events.push(e));
      swarm.agent({ id: "lead", role: "lead", budget: { initial: 1000, minBalance: 0 } });
      const looked: string[] = [];
      swarm
        .agent({ id: "helper-1", role: "helper", budget: { initial: 5, minBalance: 0 } })
        .bid(() => ({ price: 0 }))
        .handle("lookup", (ctx) => {
          looked.push(ctx.task.id);
        });
      swarm
        .agent({ id: "dev-1", role: "dev", budget: { initial: 10, minBalance: 0 } })
        .bid(() => ({ price: 70 }))
        .handle("review", (ctx) => {
          ctx.submit("helper", "lookup", { for: ctx.task.id });
        });
      await swarm.start();
      await live(swarm, ["dev-1", "helper-1"]);
      const won = await swarm.auction(
        "review",
        {},
        { as: "lead", rule: "first-price", roundMs: 1000 },
      );
      assert.equal(won.winner, "dev-1");
      await until(() => looked.length === 1, 10_000, "the sub-auctioned lookup runs");
      await until(
        async () => (await swarm.store.balance(escrowAccount(escrowKey(won.auction)))) === 0,
        5000,
        "the escrow settled",
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(await swarm.store.balance(agentAccount("dev-1")), 80, "the winner is paid");
      assert.equal(await swarm.store.balance(agentAccount("lead")), 930, "the payer paid once");
      assert.equal(events.filter((e) => e.type === "escrow.settled_before").length, 0);
    } finally {
      await t.cleanup();
    }
  });
});
