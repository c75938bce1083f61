/**
 * The `MarketStore` part of the store conformance suite: an auction is
 * saved once by id, listed and counted; reputation updates are atomic
 * across handles and stay in [0, 1].
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { StoreError } from "../../../errors/index.js";
import type { MarketStore } from "../../../store/port.js";
import {
  assertClosedHandleRefuses,
  type Closable,
  describeStorePart,
  id,
  type StorePartOptions,
} from "./backend.js";

/** The part of the store conformance suite for the `MarketStore` (auctions kept once, reputation); see the port's contract. */
export function runMarketStoreConformance(options: StorePartOptions<MarketStore & Closable>): void {
  describeStorePart("market store", options, (fixture) => {
    test("auctions are saved once by id, listed, and counted", async () => {
      const before = await fixture.store.auctionStats();
      const awarded = {
        id: `auction-${id()}`,
        auctioneer: "lead",
        task: "review",
        rule: "vickrey",
        status: "awarded" as const,
        winner: "dev-1",
        price: 120,
        bids: 3,
        rejectedBids: 2,
        record: { bids: [{ bidder: "dev-1", price: 100 }], rejected: ["forged", "late"] },
        at: 1000,
      };
      const unsold = {
        id: `auction-${id()}`,
        auctioneer: "lead",
        task: "review",
        rule: "first-price",
        status: "unsold" as const,
        bids: 0,
        rejectedBids: 1,
        record: { reason: "no bid within the reserve" },
        at: 2000,
      };
      assert.deepEqual(await fixture.store.saveAuction(awarded), { saved: true, stored: awarded });
      assert.deepEqual(await fixture.store.saveAuction(unsold), { saved: true, stored: unsold });
      const other = await fixture.reopen();
      try {
        // A retried auctioneer saving a different outcome under the same id gets the first back.
        const again = await other.saveAuction({ ...awarded, winner: "dev-2", price: 1 });
        assert.deepEqual(again, { saved: false, stored: awarded });
        assert.deepEqual(await other.getAuction(unsold.id), unsold);
      } finally {
        await other.close();
      }
      assert.equal(await fixture.store.getAuction(`auction-${id()}`), undefined);
      const listed = (await fixture.store.auctions()).filter(
        (a) => a.id === awarded.id || a.id === unsold.id,
      );
      assert.deepEqual(listed, [awarded, unsold]);
      const after = await fixture.store.auctionStats();
      assert.deepEqual(
        {
          held: after.held - before.held,
          awarded: after.awarded - before.awarded,
          unsold: after.unsold - before.unsold,
          rejectedBids: after.rejectedBids - before.rejectedBids,
        },
        { held: 2, awarded: 1, unsold: 1, rejectedBids: 3 },
      );
      await assert.rejects(
        fixture.store.saveAuction({ ...unsold, id: `auction-${id()}`, record: { n: 1n } }),
        StoreError,
      );
      // A record with no JSON form at all is refused too, not saved as no record.
      for (const record of [() => 1, Symbol("s")]) {
        const refused = `auction-${id()}`;
        await assert.rejects(
          fixture.store.saveAuction({ ...unsold, id: refused, record }),
          StoreError,
        );
        assert.equal(await fixture.store.getAuction(refused), undefined);
      }
    });

    test("reputation updates are atomic across handles; out-of-range scores are refused", async () => {
      const agent = `agent-${id()}`;
      assert.deepEqual(await fixture.store.reputations([agent]), []);
      const seen: (number | undefined)[] = [];
      const first = await fixture.store.updateReputation(
        agent,
        (previous) => {
          seen.push(previous);
          return 0.5;
        },
        { at: 10 },
      );
      assert.deepEqual(first, { agent, score: 0.5, observations: 1, updatedAt: 10 });
      assert.deepEqual(seen, [undefined], "an agent never observed has no previous score");
      const other = await fixture.reopen();
      try {
        // 40 concurrent increments of 0.01 from two handles: none is lost.
        await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            (i % 2 === 0 ? fixture.store : other).updateReputation(agent, (p) => (p ?? 0) + 0.01, {
              at: 20,
            }),
          ),
        );
      } finally {
        await other.close();
      }
      const [stored] = await fixture.store.reputations([agent]);
      assert.equal(stored?.observations, 41);
      assert.ok(Math.abs((stored?.score ?? 0) - 0.9) < 1e-9, `score ${stored?.score}`);
      await assert.rejects(
        fixture.store.updateReputation(agent, () => 1.5),
        StoreError,
      );
      await assert.rejects(
        fixture.store.updateReputation(agent, () => Number.NaN),
        StoreError,
      );
      const [unchanged] = await fixture.store.reputations([agent]);
      assert.equal(unchanged?.observations, 41, "a refused update writes nothing");
      assert.ok((await fixture.store.reputations()).some((r) => r.agent === agent));
    });

    test("a closed handle refuses every market call with ClosedError", () =>
      assertClosedHandleRefuses(fixture, {
        saveAuction: (s) =>
          s.saveAuction({
            id: "x",
            auctioneer: "lead",
            task: "t",
            rule: "vickrey",
            status: "unsold",
            bids: 0,
            rejectedBids: 0,
            record: {},
            at: 0,
          }),
        getAuction: (s) => s.getAuction("x"),
        auctions: (s) => s.auctions(),
        auctionStats: (s) => s.auctionStats(),
        updateReputation: (s) => s.updateReputation("a", () => 0.5),
        reputations: (s) => s.reputations(),
      }));
  });
}
