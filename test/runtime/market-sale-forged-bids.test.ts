/**
 * A sale auction reads each bidder's balance before its bid is judged (the
 * gate is synchronous). Bids from senders no registry knows (a flood of
 * made-up ids) used to cost a store read each, and left an entry per made-up
 * id in a map the node kept for its whole life; they are refused as
 * `unknown-bidder` without touching the store.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import { createBid } from "../../src/market/index.js";
import { subjects } from "../../src/runtime/subjects.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { encodeEnvelope } from "../../src/wire/codec.js";
import { live, marketDefaults } from "../helpers/market.js";
import { until } from "../helpers/until.js";

describe("market: forged sale bids", () => {
  test("bids from unknown senders are refused without a store read each", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, dev: { tasks: ["slot"] } },
      defaults: marketDefaults,
    });
    try {
      const { swarm } = t;
      const rejected: string[] = [];
      swarm.on((e) => {
        if (e.type === "auction.bid_rejected") rejected.push(`${e.bidder}:${e.reason}`);
      });
      swarm.agent({ id: "lead", role: "lead" });
      swarm
        .agent({ id: "buyer", role: "dev", budget: { initial: 500, minBalance: 0 } })
        .bid(() => ({ price: 50 }))
        .handle("slot", () => undefined);
      // Never answers: keeps the round open for the forged bids.
      swarm
        .agent({ id: "quiet", role: "dev" })
        .bid(() => undefined)
        .handle("slot", () => undefined);
      await swarm.start();
      await live(swarm, ["buyer", "quiet"]);

      const store = swarm.store;
      const read: string[] = [];
      const balance = store.balance.bind(store);
      store.balance = (account: string) => {
        read.push(account);
        return balance(account);
      };
      const auction = swarm.auction(
        "slot",
        {},
        { as: "lead", rule: "first-price", side: "sale", roundMs: 1500, id: "sale-forged-1" },
      );
      await new Promise((r) => setTimeout(r, 100));
      const forger = generateAgentKeyPair();
      const forged = 40;
      for (let i = 0; i < forged; i++) {
        const bid = createBid(
          {
            auction: "sale-forged-1",
            round: 1,
            from: `ghost-${i}`,
            price: 400,
            privateKey: forger.privateKey,
          },
          {},
        );
        swarm.transport.publish(subjects.bid("test", "sale-forged-1"), encodeEnvelope(bid));
      }
      await until(
        () => rejected.filter((r) => r.startsWith("ghost-")).length === forged,
        5000,
        "every forged bid refused",
      );
      assert.ok(
        rejected.filter((r) => r.startsWith("ghost-")).every((r) => r.endsWith(":unknown-bidder")),
      );
      assert.deepEqual(
        read.filter((account) => account.startsWith("agent:ghost-")),
        [],
        "no balance read for a sender no registry knows",
      );
      const won = await auction;
      assert.equal(won.winner, "buyer", "the real bidder still wins");
      assert.equal(won.price, 50);
    } finally {
      await t.cleanup();
    }
  });
});
