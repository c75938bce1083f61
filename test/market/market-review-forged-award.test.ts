/**
 * The market settles an auction's escrow and teaches reputation only for the
 * task that auction awarded: to its winner, at its recorded price. A task
 * that merely carries the market's headers (`conclave-auction`, a payee, the
 * auction's escrow key), whoever sent it, moves no credits and earns its
 * runner no reputation.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { agentAccount, escrowAccount } from "../../src/ledger/index.js";
import { AuctionHeaders, escrowKey } from "../../src/runtime/market/engine.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { live, marketDefaults } from "../helpers/market.js";
import { until } from "../helpers/until.js";

describe("market review: headers alone are not an award", () => {
  test("a task with a forged payee and an auction's escrow key releases nothing; the winner is paid once", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, dev: { tasks: ["review"] }, ops: { tasks: ["chore"] } },
      defaults: marketDefaults,
    });
    try {
      const { swarm } = t;
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const ran: string[] = [];
      swarm.agent({ id: "lead", role: "lead", budget: { initial: 1000, minBalance: 0 } });
      swarm
        .agent({ id: "dev-1", role: "dev", budget: { initial: 10, minBalance: 0 } })
        .bid(() => ({ price: 100 }))
        .handle("review", async () => {
          await gate;
          ran.push("dev-1");
        });
      swarm
        .agent({ id: "mallory", role: "ops", budget: { initial: 10, minBalance: 0 } })
        .handle("chore", () => {
          ran.push("mallory");
        });
      await swarm.start();
      await live(swarm, ["dev-1"]);
      const won = await swarm.auction(
        "review",
        {},
        {
          as: "lead",
          id: "forged-1",
          rule: "first-price",
          roundMs: 300,
        },
      );
      assert.equal(won.status, "awarded");
      assert.equal(won.winner, "dev-1");
      const escrow = escrowAccount(escrowKey("forged-1"));
      assert.equal(await swarm.store.balance(escrow), 100);

      // Mallory sends herself a task dressed as the award, naming herself payee.
      const forged = await swarm.submit(
        "ops",
        "chore",
        {},
        {
          as: "mallory",
          headers: {
            [AuctionHeaders.auction]: "forged-1",
            [AuctionHeaders.payee]: "mallory",
            [AuctionHeaders.awardedAt]: String(Date.now()),
            "conclave-escrow": escrowKey("forged-1"),
            "conclave-escrow-amount": "100",
            "conclave-escrow-delegator": "lead",
          },
        },
      );
      await swarm.wait(forged, { timeoutMs: 5000 });
      await until(() => ran.includes("mallory"), 5000, "the forged task ran");
      // Give a settlement (if any) its time.
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(await swarm.store.balance(agentAccount("mallory")), 10, "mallory paid nothing");
      assert.equal(await swarm.store.balance(escrow), 100, "the escrow still held");
      assert.deepEqual(
        await swarm.store.reputations(["mallory"]),
        [],
        "no reputation learned from a task no auction awarded",
      );

      release();
      await until(
        async () => (await swarm.store.balance(agentAccount("dev-1"))) === 110,
        5000,
        "the winner paid when it completes the awarded task",
      );
      assert.equal(await swarm.store.balance(escrow), 0);
      assert.equal(await swarm.store.balance(agentAccount("lead")), 900);
    } finally {
      await t.cleanup();
    }
  });
});
