/**
 * A bidder that stops for good while an auction it bid in is still open
 * (revoked, or retired by its pool: an idle worker is the one that bids)
 * handed back what its award queue held at that moment, then nobody read
 * that queue again: the award that came when the auction closed waited
 * there for ever, its price held in escrow and its delegator waiting.
 * The hand-back now also waits for the auctions the agent bid in.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { agentAccount } from "../../src/ledger/index.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { live, marketDefaults } from "../helpers/market.js";
import { until } from "../helpers/until.js";

test("an award that comes after its winner stopped for good is handed back, not stranded", async () => {
  const t = createTestSwarm({
    roles: { lead: {}, dev: { tasks: ["review"] } },
    defaults: marketDefaults,
  });
  try {
    const { swarm } = t;
    swarm.agent({ id: "lead", role: "lead", budget: { initial: 1000, minBalance: 0 } });
    let bids = 0;
    swarm
      .agent({ id: "dev-1", role: "dev", budget: { initial: 0, minBalance: 0 } })
      .bid(() => {
        bids++;
        return { price: 30 };
      })
      .handle("review", () => "reviewed");
    await swarm.start();
    await live(swarm, ["dev-1"]);
    const auction = swarm.auction(
      "review",
      { pr: 1 },
      { as: "lead", rule: "first-price", reserve: 100, roundMs: 1500 },
    );
    await until(() => bids === 1, 5000, "dev-1 bids");
    // Stopped for good while the auction is open.
    await swarm.revoke("dev-1", { as: "dev-1" }, "leaving");
    const won = await auction;
    if (won.status === "awarded") {
      assert.ok(won.task);
      const task = won.task;
      await until(
        async () => (await swarm.outcome(task))?.status === "dead_lettered",
        15_000,
        "the award handed back",
      );
    }
    await until(
      async () => (await swarm.store.balance(agentAccount("lead"))) === 1000,
      15_000,
      "the price back with the payer",
    );
  } finally {
    await t.cleanup();
  }
});
