/**
 * A sealed round closes as soon as every bidder the auctioneer expects has
 * answered (`expectedBidders`), at the time of the last answer; a bidder
 * that stays silent keeps it open to its deadline, and only an authenticated
 * bid counts as an answer.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type AuctionTerms, createAuction } from "../../src/market/index.js";
import { createWorld, T0 } from "./fixtures.js";

const ROUND = 1_000;

function terms(extra: Partial<AuctionTerms> = {}): AuctionTerms {
  return { id: "early", rule: "vickrey", side: "procurement", roundMs: ROUND, ...extra };
}

describe("sealed rounds close when every expected bidder has answered", () => {
  test("the last expected answer closes the round at its own time; a later bid is late", () => {
    const world = createWorld();
    const auction = createAuction({
      terms: terms({ reserve: 500 }),
      opensAt: T0,
      gate: world.gate,
      expectedBidders: ["alice", "bob", "carol"],
    });
    assert.equal(
      auction.step(world.bid("alice", { auction: "early", price: 120 }), T0 + 5).accepted,
      true,
    );
    assert.equal(
      auction.step(world.bid("bob", { auction: "early", price: 100 }), T0 + 7).accepted,
      true,
    );
    assert.equal(auction.status, "open", "carol has not answered yet");
    const last = auction.step(world.bid("carol", { auction: "early", price: 90 }), T0 + 9);
    assert.equal(last.accepted, true);
    assert.deepEqual(
      last.events.map((e) => e.kind),
      ["awarded"],
    );
    const result = auction.result();
    assert.equal(result?.status, "awarded");
    assert.equal(result.award.winner, "carol");
    assert.equal(result.award.price, 100, "Vickrey: the second-lowest ask");
    assert.equal(result.award.awardedAt, T0 + 9, "closed at the last answer, not at the deadline");
    assert.equal(result.endedAt, T0 + 9);
    const late = auction.step(world.bid("dave", { auction: "early", price: 1 }), T0 + 10);
    assert.equal(late.accepted, false);
    assert.equal(!late.accepted && late.reason, "late");
  });

  test("a bidder that never answers keeps the round open to its deadline", () => {
    const world = createWorld();
    const auction = createAuction({
      terms: terms(),
      opensAt: T0,
      gate: world.gate,
      expectedBidders: ["alice", "bob", "carol"],
    });
    auction.step(world.bid("alice", { auction: "early", price: 120 }), T0 + 5);
    auction.step(world.bid("bob", { auction: "early", price: 100 }), T0 + 7);
    assert.deepEqual(auction.tick(T0 + ROUND - 1), []);
    assert.equal(auction.status, "open", "carol is still expected");
    assert.deepEqual(
      auction.tick(T0 + ROUND).map((e) => e.kind),
      ["awarded"],
    );
    const result = auction.result();
    assert.equal(result?.status === "awarded" && result.award.awardedAt, T0 + ROUND);
  });

  test("a forged bid in an expected bidder's name is not its answer", () => {
    const world = createWorld();
    const auction = createAuction({
      terms: terms(),
      opensAt: T0,
      gate: world.gate,
      expectedBidders: ["alice", "bob"],
    });
    auction.step(world.bid("alice", { auction: "early", price: 120 }), T0 + 5);
    const forged = auction.step(
      world.bid("bob", { auction: "early", price: 1 }, "mallory"),
      T0 + 6,
    );
    assert.equal(!forged.accepted && forged.reason, "bad-signature");
    assert.equal(auction.status, "open", "bob itself has not answered");
    auction.step(world.bid("bob", { auction: "early", price: 100 }), T0 + 8);
    assert.equal(auction.result()?.status, "awarded");
    assert.equal(auction.result()?.endedAt, T0 + 8);
  });

  test("an authenticated bid the rules refuse still answers: every ask above the reserve, unsold at once", () => {
    const world = createWorld();
    const auction = createAuction({
      terms: terms({ reserve: 50 }),
      opensAt: T0,
      gate: world.gate,
      expectedBidders: ["alice", "bob"],
    });
    auction.step(world.bid("alice", { auction: "early", price: 120 }), T0 + 5);
    auction.step(world.bid("bob", { auction: "early", price: 100 }), T0 + 6);
    const result = auction.result();
    assert.equal(result?.status, "unsold");
    assert.equal(result.status === "unsold" && result.reason, "no-eligible-bids");
    assert.equal(result.endedAt, T0 + 6);
  });

  test("no expected bidders, or an English auction: the deadline alone closes the round", () => {
    const world = createWorld();
    const none = createAuction({
      terms: terms(),
      opensAt: T0,
      gate: world.gate,
      expectedBidders: [],
    });
    none.step(world.bid("alice", { auction: "early", price: 120 }), T0 + 5);
    assert.equal(none.status, "open");
    const english = createAuction({
      terms: terms({ rule: "english", side: "sale", reserve: 10, minIncrement: 1 }),
      opensAt: T0,
      gate: world.gate,
      expectedBidders: ["alice"],
    });
    english.step(world.bid("alice", { auction: "early", price: 20 }), T0 + 5);
    assert.equal(english.status, "open");
    assert.equal(english.announcement().round, 1, "round 1 runs to its deadline");
  });
});
