/**
 * Auction ids name the auction's bus subjects (`<swarm>.market.bid.<id>`)
 * and its escrow account (`escrow:auction-<id>`): an id that cannot be
 * either is refused at once with a typed error, not run to an auction
 * whose bids can never arrive.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AuctionTermsError } from "../../src/errors/index.js";
import { agentAccount } from "../../src/ledger/index.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { live, marketDefaults } from "../helpers/market.js";

async function market(events: SwarmEvent[]) {
  const t = createTestSwarm({
    roles: { lead: {}, dev: { tasks: ["review"] } },
    defaults: marketDefaults,
  });
  const { swarm } = t;
  swarm.on((e) => events.push(e));
  swarm.agent({ id: "lead", role: "lead", budget: { initial: 1000, minBalance: 0 } });
  swarm
    .agent({ id: "dev-1", role: "dev", budget: { initial: 10, minBalance: 0 } })
    .bid(() => ({ price: 10 }))
    .handle("review", () => undefined);
  await swarm.start();
  await live(swarm, ["dev-1"]);
  return t;
}

describe("market review: auction ids the bus and the ledger can carry", () => {
  test("an id with a dot, a space or a '$' is an AuctionTermsError before any call for proposals", async () => {
    const events: SwarmEvent[] = [];
    const t = await market(events);
    try {
      const { swarm } = t;
      for (const id of ["order.42", "order 42", "order$42", "order/42"]) {
        await assert.rejects(
          swarm.auction("review", {}, { as: "lead", id, roundMs: 300 }),
          (error: unknown) =>
            error instanceof AuctionTermsError &&
            error.field === "id" &&
            error.message.includes(JSON.stringify(id)),
          id,
        );
        assert.equal(await swarm.store.getAuction(id), undefined, id);
      }
      assert.equal(events.filter((e) => e.type === "auction.opened").length, 0);
      assert.equal(await swarm.store.balance(agentAccount("lead")), 1000);
    } finally {
      await t.cleanup();
    }
  });

  test("an id of letters, digits, '_', '-' and ':' is auctioned and awarded", async () => {
    const events: SwarmEvent[] = [];
    const t = await market(events);
    try {
      const won = await t.swarm.auction(
        "review",
        {},
        { as: "lead", id: "order_42:a-1", roundMs: 300 },
      );
      assert.equal(won.status, "awarded");
      assert.equal(won.winner, "dev-1");
    } finally {
      await t.cleanup();
    }
  });
});
