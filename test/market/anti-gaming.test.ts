import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BidRejectedError } from "../../src/errors/index.js";
import {
  type Auction,
  type AuctionTerms,
  type BidOutcome,
  type BidRejection,
  bidRejections,
  createAuction,
  toBidRejectedError,
} from "../../src/market/index.js";
import { createEnvelope } from "../../src/wire/envelope.js";
import { createWorld, T0, type World } from "./fixtures.js";

const ROUND = 1_000;

function terms(extra: Partial<AuctionTerms> = {}): AuctionTerms {
  return { id: "guarded", rule: "first-price", side: "sale", roundMs: ROUND, ...extra };
}

function reason(outcome: BidOutcome): BidRejection | "accepted" {
  return outcome.accepted ? "accepted" : outcome.reason;
}

/** Steps a fresh bid `from` at T0 + 10 with `price`. */
function place(
  world: World,
  auction: Auction,
  from: string,
  price = 100,
  signer = from,
): BidOutcome {
  return auction.step(world.bid(from, { auction: auction.id, price }, signer), T0 + 10);
}

describe("the bid gate refuses, with a typed reason", () => {
  test("an unsigned bid: bad-signature", () => {
    const world = createWorld();
    const auction = world.auction(terms());
    const unsigned = createEnvelope({
      type: "market.bid",
      from: "alice",
      corr: auction.id,
      body: { auction: auction.id, round: 1, price: 100 },
    });
    assert.equal(reason(auction.step(unsigned, T0 + 1)), "bad-signature");
  });

  test("a forged bid (signed with another agent's key): bad-signature", () => {
    const world = createWorld();
    const auction = world.auction(terms());
    assert.equal(reason(place(world, auction, "alice", 100, "mallory")), "bad-signature");
  });

  test("a bid altered after signing: bad-signature", () => {
    const world = createWorld();
    const auction = world.auction(terms());
    const bid = world.bid("alice", { auction: auction.id, price: 100 });
    const altered = { ...bid, body: { auction: auction.id, round: 1, price: 1 } };
    assert.equal(reason(auction.step(altered, T0 + 1)), "bad-signature");
  });

  test("a replayed envelope: replay; the first copy stands", () => {
    const world = createWorld();
    const auction = world.auction(terms());
    const bid = world.bid("alice", { auction: auction.id, price: 100 });
    assert.equal(reason(auction.step(bid, T0 + 1)), "accepted");
    assert.equal(reason(auction.step(bid, T0 + 2)), "replay");
    auction.tick(T0 + ROUND);
    const result = auction.result();
    assert.equal(result?.bids.length, 1);
  });

  test("over the rate limit: rate-limited, the limit is shared by every auction, tokens refill with time", () => {
    const world = createWorld({ capacity: 2, refillPerSecond: 1 });
    const auctions = ["a1", "a2", "a3"].map((id) => world.auction(terms({ id, roundMs: 60_000 })));
    const [a1, a2, a3] = auctions as [Auction, Auction, Auction];
    assert.equal(reason(place(world, a1, "alice")), "accepted");
    assert.equal(reason(place(world, a2, "alice")), "accepted");
    assert.equal(reason(place(world, a3, "alice")), "rate-limited");
    assert.equal(reason(place(world, a3, "bob")), "accepted", "another agent has its own bucket");
    const later = a3.step(world.bid("alice", { auction: a3.id, price: 100 }), T0 + 10 + 1_000);
    assert.equal(reason(later), "accepted", "one token back after a second");
  });

  test("a forger cannot drain its victim's rate budget", () => {
    const world = createWorld({ capacity: 1, refillPerSecond: 0.001 });
    const auction = world.auction(terms());
    for (let i = 0; i < 5; i++) {
      assert.equal(reason(place(world, auction, "alice", 100 + i, "mallory")), "bad-signature");
    }
    assert.equal(reason(place(world, auction, "alice")), "accepted");
  });

  test("a halted agent: halted, on either side", () => {
    const world = createWorld();
    const facts = world.facts.get("alice");
    assert.ok(facts);
    world.facts.set("alice", { ...facts, halted: true });
    assert.equal(reason(place(world, world.auction(terms()), "alice")), "halted");
    const procurement = world.auction(terms({ id: "buy", side: "procurement" }));
    assert.equal(reason(place(world, procurement, "alice")), "halted");
  });

  test("a sale bid above the bidder's balance: unaffordable; procurement needs no balance", () => {
    const world = createWorld();
    world.balances.set("alice", 99);
    assert.equal(reason(place(world, world.auction(terms()), "alice", 100)), "unaffordable");
    assert.equal(reason(place(world, world.auction(terms({ id: "ok" })), "alice", 99)), "accepted");
    const procurement = world.auction(terms({ id: "buy", side: "procurement" }));
    assert.equal(reason(place(world, procurement, "alice", 1_000)), "accepted");
  });

  test("a dutch take must afford the clock price, not more", () => {
    const world = createWorld();
    world.balances.set("alice", 85);
    const auction = world.auction({
      id: "clock",
      rule: "dutch",
      side: "sale",
      startPrice: 100,
      step: 10,
      stepMs: 1_000,
      roundMs: 60_000,
    });
    // Clock at 80; alice offers 90 (sent before the step) and can pay 80.
    const take = auction.step(
      world.bid("alice", { auction: auction.id, price: 90, take: true }),
      T0 + 2_000,
    );
    assert.equal(reason(take), "accepted");
  });

  test("a second bid by one agent in one round: duplicate-bid; the first stands", () => {
    const world = createWorld();
    const auction = world.auction(terms({ rule: "vickrey" }));
    assert.equal(reason(place(world, auction, "alice", 100)), "accepted");
    assert.equal(reason(place(world, auction, "alice", 150)), "duplicate-bid");
    place(world, auction, "bob", 120);
    auction.tick(T0 + ROUND);
    const result = auction.result();
    assert.equal(result?.status, "awarded");
    if (result?.status === "awarded") {
      assert.equal(result.award.winner, "bob", "alice's first bid (100) stood, not her 150");
    }
  });

  test("two bidders with one owner: duplicate-identity; the later is refused, both are reported", () => {
    const world = createWorld();
    const mallory = world.facts.get("mallory");
    assert.ok(mallory);
    world.facts.set("mallory", { ...mallory, owner: "owner-of-bob" });
    const auction = world.auction(terms());
    assert.equal(reason(place(world, auction, "bob")), "accepted");
    const shill = place(world, auction, "mallory", 101);
    assert.equal(reason(shill), "duplicate-identity");
    const conflict = shill.accepted ? undefined : shill.conflict;
    assert.equal(conflict?.first, "bob");
    assert.equal(conflict?.second, "mallory");
    assert.equal(conflict?.shared, "owner");
    auction.tick(T0 + ROUND);
    const result = auction.result();
    assert.deepEqual(result?.identityConflicts, [conflict], "both bidders are reported");
    assert.deepEqual(
      result?.rejected.find((r) => r.reason === "duplicate-identity")?.conflict,
      conflict,
    );
    assert.equal(result?.status === "awarded" && result.award.winner, "bob", "the earlier stands");
  });

  test("two bidders with one public key: duplicate-identity", () => {
    const world = createWorld();
    const carol = world.facts.get("carol");
    const dave = world.facts.get("dave");
    assert.ok(carol && dave);
    // The registry lists dave with carol's key (and no owner): one principal behind two ids.
    world.facts.set("dave", {
      live: true,
      trusted: true,
      halted: false,
      publicKey: carol.publicKey,
    });
    const pair = world.keys.get("carol");
    assert.ok(pair);
    world.keys.set("dave", pair);
    const auction = world.auction(terms());
    assert.equal(reason(place(world, auction, "carol")), "accepted");
    const shill = place(world, auction, "dave");
    assert.equal(reason(shill), "duplicate-identity");
    assert.equal(!shill.accepted && shill.conflict?.shared, "public-key");
  });

  test("a bid after the round closed: late; after the auction ended: late", () => {
    const world = createWorld();
    const auction = world.auction(terms());
    const atClose = auction.step(
      world.bid("alice", { auction: auction.id, price: 100 }),
      T0 + ROUND,
    );
    assert.equal(reason(atClose), "late");
    assert.deepEqual(
      atClose.events.map((event) => event.kind),
      ["unsold"],
      "the step closed the round first",
    );
    assert.equal(
      reason(auction.step(world.bid("bob", { auction: auction.id, price: 100 }), T0 + 2 * ROUND)),
      "late",
    );
  });

  test("an agent the registry does not know: unknown-bidder (not bad-signature)", () => {
    const world = createWorld();
    world.facts.delete("erin");
    assert.equal(reason(place(world, world.auction(terms()), "erin")), "unknown-bidder");
  });

  test("not live, untrusted: refused", () => {
    const world = createWorld();
    const alice = world.facts.get("alice");
    const bob = world.facts.get("bob");
    assert.ok(alice && bob);
    world.facts.set("alice", { ...alice, live: false });
    world.facts.set("bob", { ...bob, trusted: false });
    const auction = world.auction(terms());
    assert.equal(reason(place(world, auction, "alice")), "not-live");
    assert.equal(reason(place(world, auction, "bob")), "untrusted");
  });

  test("wrong type, bad body, wrong auction, early, wrong round: refused", () => {
    const world = createWorld();
    const auction = world.auction(terms(), undefined, T0 + 5);
    assert.equal(
      reason(auction.step(world.bid("alice", { auction: auction.id, price: 100 }), T0 + 4)),
      "early",
      "before opensAt (time is monotonic, so this comes first)",
    );
    const wrongType = createEnvelope({ type: "market.cfp", from: "alice", body: {} });
    assert.equal(reason(auction.step(wrongType, T0 + 6)), "malformed");
    const fractional = createEnvelope({
      type: "market.bid",
      from: "alice",
      body: { auction: auction.id, round: 1, price: 1.5 },
    });
    const refused = auction.step(fractional, T0 + 6);
    assert.equal(reason(refused), "malformed");
    assert.match(refused.accepted ? "" : refused.message, /body\.price/);
    assert.equal(
      reason(auction.step(world.bid("alice", { auction: "other", price: 100 }), T0 + 6)),
      "wrong-auction",
    );
    assert.equal(
      reason(
        auction.step(world.bid("alice", { auction: auction.id, round: 2, price: 100 }), T0 + 6),
      ),
      "wrong-round",
    );
  });

  test("every refusal is kept in the result, in order, up to the cap", () => {
    const world = createWorld();
    const auction = createAuction({
      terms: terms({ reserve: 50 }),
      opensAt: T0,
      gate: world.gate,
      maxRecordedRejections: 2,
    });
    place(world, auction, "alice", 10); // outside-reserve
    place(world, auction, "bob", 100, "mallory"); // bad-signature
    place(world, auction, "carol", 20); // outside-reserve, over the cap
    auction.tick(T0 + ROUND);
    const result = auction.result();
    assert.deepEqual(
      result?.rejected.map((r) => [r.envelope.from, r.reason]),
      [
        ["alice", "outside-reserve"],
        ["bob", "bad-signature"],
      ],
    );
    assert.equal(result?.rejectedDropped, 1);
    assert.equal(result?.status === "unsold" && result.reason, "no-eligible-bids");
  });

  test("a refusal converts to a BidRejectedError with a stable code", () => {
    const world = createWorld();
    const auction = world.auction(terms());
    const outcome = place(world, auction, "alice", 100, "mallory");
    assert.equal(outcome.accepted, false);
    if (outcome.accepted) return;
    const error = toBidRejectedError(auction.id, outcome);
    assert.ok(error instanceof BidRejectedError);
    assert.equal(error.code, "E_BID_REJECTED");
    assert.equal(error.reason, "bad-signature");
    assert.equal(error.auction, "guarded");
    assert.match(error.message, /bad-signature/);
  });

  test("the reasons are a closed, documented list", () => {
    assert.equal(new Set(bidRejections).size, bidRejections.length);
    assert.ok(bidRejections.includes("duplicate-identity"));
  });
});
