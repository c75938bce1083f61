/**
 * A task of an auctioned type sent with a delegation's escrow: the budget
 * its own sender delegated with it pays for the auction's price (what is
 * left goes back to the sender in the same commit), and one it only
 * inherited from an ancestor's delegation is not the auction's to refund.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { agentAccount, escrowAccount } from "../../src/ledger/index.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { live, marketDefaults } from "../helpers/market.js";
import { until } from "../helpers/until.js";

const auctioned = {
  review: {
    allocation: "auction" as const,
    role: "helper",
    auction: {
      rule: "first-price" as const,
      side: "procurement" as const,
      roundMs: 500,
      maxRounds: 1,
      criteria: [],
      onUnsold: "dead-letter" as const,
    },
  },
};

describe("market: auctioned tasks sent with a delegation's escrow", () => {
  test("a delegator whose whole balance is the delegated budget gets the task awarded, paid from that budget", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, helper: { tasks: ["review"] } },
      defaults: marketDefaults,
      tasks: auctioned,
    });
    try {
      const { swarm } = t;
      swarm.agent({ id: "lead", role: "lead", budget: { initial: 100, minBalance: 0 } });
      const ran: string[] = [];
      swarm
        .agent({ id: "helper-1", role: "helper" })
        .bid(() => ({ price: 60 }))
        .handle("review", (ctx) => {
          ran.push(ctx.task.headers?.["conclave-auction"] === undefined ? "queued" : "awarded");
        });
      await swarm.start();
      await live(swarm, ["helper-1"]);
      // The lead puts all it has into the delegation's escrow.
      await swarm.delegate("helper", "review", {}, { as: "lead", budget: 100 });
      await until(() => ran.length === 1, 10_000, "the review runs");
      assert.deepEqual(ran, ["awarded"], "awarded: the delegated budget pays the price");
      await until(
        async () => (await swarm.store.balance(agentAccount("helper-1"))) === 60,
        5000,
        "the winner is paid the price",
      );
      assert.equal(
        await swarm.store.balance(agentAccount("lead")),
        40,
        "the rest of the budget is back",
      );
      const check = await swarm.store.ledgerCheck();
      assert.equal(check.sum, check.minted);
      assert.deepEqual(check.negative, []);
    } finally {
      await t.cleanup();
    }
  });

  test("a worker's auctioned sub-task does not refund the budget its own task was delegated with", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, dev: { tasks: ["work"] }, helper: { tasks: ["review"] } },
      defaults: marketDefaults,
      tasks: auctioned,
    });
    try {
      const { swarm } = t;
      swarm.agent({ id: "lead", role: "lead", budget: { initial: 1000, minBalance: 0 } });
      const reviewed: string[] = [];
      swarm
        .agent({ id: "helper-1", role: "helper" })
        .bid(() => ({ price: 0 }))
        .handle("review", (ctx) => {
          reviewed.push(ctx.task.id);
        });
      swarm.agent({ id: "dev-1", role: "dev" }).handle("work", (ctx) => {
        ctx.submit("helper", "review", {});
      });
      await swarm.start();
      await live(swarm, ["helper-1", "dev-1"]);
      await swarm.delegate("dev", "work", {}, { as: "lead", budget: 100, escrow: "work-1" });
      await until(() => reviewed.length === 1, 10_000, "the sub-task is auctioned and runs");
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(
        await swarm.store.balance(escrowAccount("work-1")),
        100,
        "the delegation's budget waits for its audit",
      );
      assert.equal(await swarm.store.balance(agentAccount("lead")), 900);
    } finally {
      await t.cleanup();
    }
  });
});
