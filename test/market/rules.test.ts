import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidEnvelopeError } from "../../src/errors/index.js";
import {
  type AuctionEvent,
  type AuctionResult,
  type AuctionTerms,
  awardBody,
  clearSealed,
  createAward,
  createCfp,
  parseAwardBody,
  parseCfpBody,
} from "../../src/market/index.js";
import { createWorld, near, reputations, T0 } from "./fixtures.js";

const ROUND = 1_000;

function sealed(
  rule: AuctionTerms["rule"],
  side: AuctionTerms["side"],
  extra: Partial<AuctionTerms> = {},
): AuctionTerms {
  return { id: `${rule}-${side}`, rule, side, roundMs: ROUND, ...extra };
}

function awarded(result: AuctionResult | undefined) {
  assert.ok(result, "the auction should be over");
  assert.equal(result.status, "awarded", result.status === "unsold" ? result.message : "");
  return result.award;
}

function kinds(events: readonly AuctionEvent[]): string[] {
  return events.map((event) => event.kind);
}

describe("sealed rules: textbook outcomes", () => {
  test("vickrey sale: the highest bidder wins and pays the second-highest bid", () => {
    const world = createWorld();
    const auction = world.auction(sealed("vickrey", "sale"));
    for (const [from, price] of [
      ["alice", 120],
      ["bob", 100],
      ["carol", 90],
    ] as const) {
      assert.equal(
        auction.step(world.bid(from, { auction: auction.id, price }), T0 + 10).accepted,
        true,
      );
    }
    assert.deepEqual(auction.tick(T0 + ROUND - 1), [], "nothing happens before the round closes");
    assert.equal(auction.status, "open");
    const events = auction.tick(T0 + ROUND);
    assert.deepEqual(kinds(events), ["awarded"]);
    const award = awarded(auction.result());
    assert.equal(award.winner, "alice");
    assert.equal(award.price, 100);
    assert.equal(award.effectivePrice, 100);
    assert.equal(award.runnerUp?.bidder, "bob");
    assert.equal(award.awardedAt, T0 + ROUND, "awarded at the close, not when the tick noticed");
    assert.equal(auction.result()?.bids.length, 3);
  });

  test("vickrey procurement: the lowest ask wins and is paid the second-lowest ask", () => {
    const world = createWorld();
    const auction = world.auction(sealed("vickrey", "procurement"));
    for (const [from, price] of [
      ["alice", 400],
      ["bob", 300],
      ["carol", 350],
    ] as const) {
      auction.step(world.bid(from, { auction: auction.id, price }), T0 + 10);
    }
    auction.tick(T0 + ROUND);
    const award = awarded(auction.result());
    assert.equal(award.winner, "bob");
    assert.equal(award.price, 350);
  });

  test("vickrey with a single eligible bid: the price is the reserve", () => {
    const world = createWorld();
    const sale = world.auction(sealed("vickrey", "sale", { reserve: 50 }));
    sale.step(world.bid("alice", { auction: sale.id, price: 80 }), T0 + 1);
    sale.step(world.bid("bob", { auction: sale.id, price: 40 }), T0 + 2); // below the reserve
    sale.tick(T0 + ROUND);
    assert.equal(awarded(sale.result()).price, 50);

    const procurement = world.auction(sealed("vickrey", "procurement", { reserve: 500 }));
    procurement.step(world.bid("alice", { auction: procurement.id, price: 300 }), T0 + 1);
    procurement.tick(T0 + ROUND);
    assert.equal(awarded(procurement.result()).price, 500);

    const noReserve = world.auction({ ...sealed("vickrey", "sale"), id: "no-reserve" });
    noReserve.step(world.bid("alice", { auction: noReserve.id, price: 80 }), T0 + 1);
    noReserve.tick(T0 + ROUND);
    assert.equal(awarded(noReserve.result()).price, 80, "no runner-up, no reserve: its own bid");
  });

  test("vickrey with reputation: the winner pays the least it could have bid and still won", () => {
    const world = createWorld();
    // alice: 100 × 1.5 = 150 effective beats bob: 120 × 1 = 120.
    const auction = world.auction(sealed("vickrey", "sale"), reputations({ alice: 1 }));
    auction.step(world.bid("alice", { auction: auction.id, price: 100 }), T0 + 1);
    auction.step(world.bid("bob", { auction: auction.id, price: 120 }), T0 + 2);
    auction.tick(T0 + ROUND);
    const award = awarded(auction.result());
    assert.equal(award.winner, "alice");
    assert.equal(award.price, 80, "ceil(120 / 1.5)");
    assert.equal(award.effectivePrice, 120);

    // Procurement mirror: bob asks 120 / 1.5 = 80 effective, beats alice's 100.
    const reverse = world.auction(sealed("vickrey", "procurement"), reputations({ bob: 1 }));
    reverse.step(world.bid("alice", { auction: reverse.id, price: 100 }), T0 + 1);
    reverse.step(world.bid("bob", { auction: reverse.id, price: 120 }), T0 + 2);
    reverse.tick(T0 + ROUND);
    const paid = awarded(reverse.result());
    assert.equal(paid.winner, "bob");
    assert.equal(paid.price, 150, "floor(100 × 1.5)");
    assert.equal(paid.effectivePrice, 100);
  });

  test("first-price: the best bid wins at its own price, both sides", () => {
    const world = createWorld();
    const sale = world.auction(sealed("first-price", "sale"));
    sale.step(world.bid("alice", { auction: sale.id, price: 120 }), T0 + 1);
    sale.step(world.bid("bob", { auction: sale.id, price: 100 }), T0 + 2);
    sale.tick(T0 + ROUND);
    assert.deepEqual((({ winner, price }) => ({ winner, price }))(awarded(sale.result())), {
      winner: "alice",
      price: 120,
    });

    const procurement = world.auction(sealed("first-price", "procurement"));
    procurement.step(world.bid("alice", { auction: procurement.id, price: 120 }), T0 + 1);
    procurement.step(world.bid("bob", { auction: procurement.id, price: 100 }), T0 + 2);
    procurement.tick(T0 + ROUND);
    assert.deepEqual((({ winner, price }) => ({ winner, price }))(awarded(procurement.result())), {
      winner: "bob",
      price: 100,
    });
  });

  test("ties are broken by better raw price, then bidder id, never by arrival", () => {
    const world = createWorld();
    // carol 100 × 1.2 = 120 ties bob 120 × 1: bob's raw price is higher.
    const a = world.auction(sealed("first-price", "sale"), reputations({ carol: 0.7 }));
    a.step(world.bid("carol", { auction: a.id, price: 100 }), T0 + 1);
    a.step(world.bid("bob", { auction: a.id, price: 120 }), T0 + 2);
    a.tick(T0 + ROUND);
    assert.equal(awarded(a.result()).winner, "bob");

    const b = world.auction({ ...sealed("first-price", "sale"), id: "tie-2" });
    b.step(world.bid("carol", { auction: b.id, price: 100 }), T0 + 1);
    b.step(world.bid("bob", { auction: b.id, price: 100 }), T0 + 2);
    b.tick(T0 + ROUND);
    assert.equal(awarded(b.result()).winner, "bob", "equal in everything: the smaller id");
  });

  test("every bid outside the reserve: unsold, no-eligible-bids; no bids at all: no-bids", () => {
    const world = createWorld();
    const sale = world.auction(sealed("first-price", "sale", { reserve: 100 }));
    const refused = sale.step(world.bid("alice", { auction: sale.id, price: 99 }), T0 + 1);
    assert.equal(refused.accepted, false);
    assert.equal(!refused.accepted && refused.reason, "outside-reserve");
    sale.step(world.bid("bob", { auction: sale.id, price: 50 }), T0 + 2);
    const events = sale.tick(T0 + ROUND);
    assert.deepEqual(events, [
      {
        kind: "unsold",
        reason: "no-eligible-bids",
        message: "every priced bid was below the reserve of 100",
        at: T0 + ROUND,
      },
    ]);
    assert.equal(sale.status, "unsold");

    const procurement = world.auction(sealed("vickrey", "procurement", { reserve: 100 }));
    procurement.step(world.bid("alice", { auction: procurement.id, price: 101 }), T0 + 1);
    procurement.tick(T0 + ROUND);
    const result = procurement.result();
    assert.equal(result?.status === "unsold" && result.reason, "no-eligible-bids");

    const empty = world.auction({
      ...sealed("multi-criteria", "procurement"),
      id: "empty",
      criteria: [{ name: "price", weight: 1, direction: "min" }],
    });
    empty.tick(T0 + ROUND);
    const none = empty.result();
    assert.equal(none?.status === "unsold" && none.reason, "no-bids");
  });
});

describe("multi-criteria: a hand-computed example", () => {
  // Weights 2 : 1 : 1 normalise to 0.5, 0.25, 0.25.
  const terms = sealed("multi-criteria", "procurement", {
    criteria: [
      { name: "price", weight: 2, direction: "min" },
      { name: "quality", weight: 1, direction: "max" },
      { name: "eta", weight: 1, direction: "min" },
    ],
  });
  const bids = [
    { from: "alice", price: 100, criteria: { quality: 0.9, eta: 60 } },
    { from: "bob", price: 80, criteria: { quality: 0.6, eta: 120 } },
    { from: "carol", price: 120, criteria: { quality: 1.0, eta: 30 } },
  ] as const;
  // price:   lo 80, hi 120  → alice (120−100)/40 = 0.5, bob 1, carol 0
  // quality: lo 0.6, hi 1.0 → alice 0.3/0.4 = 0.75, bob 0, carol 1
  // eta:     lo 30, hi 120  → alice (120−60)/90 = 2/3, bob 0, carol 1
  const expected = {
    alice: { normalised: [0.5, 0.75, 2 / 3], raw: 0.25 + 0.1875 + 1 / 6 },
    bob: { normalised: [1, 0, 0], raw: 0.5 },
    carol: { normalised: [0, 1, 1], raw: 0.5 },
  };

  function run(reputation?: Record<string, number>) {
    const world = createWorld();
    const auction = world.auction(
      terms,
      reputation === undefined ? undefined : reputations(reputation),
    );
    for (const bid of bids) {
      const outcome = auction.step(
        world.bid(bid.from, {
          auction: auction.id,
          price: bid.price,
          criteria: { ...bid.criteria },
        }),
        T0 + 5,
      );
      assert.equal(outcome.accepted, true);
    }
    auction.tick(T0 + ROUND);
    return awarded(auction.result());
  }

  test("neutral reputations: alice has the best balance of price, quality and speed", () => {
    const award = run();
    assert.equal(award.winner, "alice");
    assert.equal(award.price, 100, "the winner's own ask");
    const scores = award.scores ?? [];
    assert.deepEqual(
      scores.map((score) => score.bidder),
      ["alice", "bob", "carol"],
      "best first; bob and carol tie on 0.5 and bob's lower ask breaks the tie",
    );
    for (const score of scores) {
      const want = expected[score.bidder as keyof typeof expected];
      assert.ok(near(score.raw, want.raw), `${score.bidder} raw ${score.raw} ≠ ${want.raw}`);
      assert.equal(score.reputationWeight, 1);
      assert.ok(near(score.effective, want.raw));
      score.criteria.forEach((criterion, i) => {
        assert.equal(criterion.name, ["price", "quality", "eta"][i]);
        assert.ok(near(criterion.normalised, want.normalised[i] as number));
        assert.ok(near(criterion.weight, [0.5, 0.25, 0.25][i] as number));
        assert.ok(near(criterion.contribution, criterion.normalised * criterion.weight));
      });
    }
  });

  test("reputation reorders: bob (0.9 → ×1.4) overtakes alice", () => {
    const award = run({ bob: 0.9, carol: 0.2 });
    assert.equal(award.winner, "bob");
    assert.equal(award.price, 80);
    const byBidder = new Map((award.scores ?? []).map((score) => [score.bidder, score]));
    assert.ok(near(byBidder.get("bob")?.effective ?? 0, 0.7));
    assert.ok(near(byBidder.get("alice")?.effective ?? 0, expected.alice.raw));
    assert.ok(near(byBidder.get("carol")?.effective ?? 0, 0.35));
    assert.ok(near(byBidder.get("carol")?.reputationWeight ?? 0, 0.7));
  });

  test("the award body carries the winner's breakdown and parses back", () => {
    const world = createWorld();
    const auction = world.auction(terms);
    for (const bid of bids) {
      auction.step(
        world.bid(bid.from, {
          auction: auction.id,
          price: bid.price,
          criteria: { ...bid.criteria },
        }),
        T0 + 5,
      );
    }
    auction.tick(T0 + ROUND);
    const result = auction.result();
    assert.ok(result);
    const body = awardBody(result);
    assert.equal(body.outcome, "awarded");
    assert.equal(body.outcome === "awarded" && body.score?.bidder, "alice");
    assert.deepEqual(parseAwardBody(JSON.parse(JSON.stringify(body))), body);
  });

  test("a bid without every criterion is refused as malformed; price falls back to the bid's price", () => {
    const world = createWorld();
    const auction = world.auction(terms);
    const outcome = auction.step(
      world.bid("alice", { auction: auction.id, price: 100, criteria: { quality: 0.9 } }),
      T0 + 1,
    );
    assert.equal(outcome.accepted, false);
    assert.equal(!outcome.accepted && outcome.reason, "malformed");
    assert.match(!outcome.accepted ? outcome.message : "", /criterion "eta"/);
  });
});

describe("english: open ascending (sale) or descending (procurement) rounds", () => {
  const sale = (extra: Partial<AuctionTerms> = {}): AuctionTerms => ({
    id: "english-sale",
    rule: "english",
    side: "sale",
    reserve: 100,
    minIncrement: 10,
    roundMs: ROUND,
    ...extra,
  });

  test("raises continue rounds; the first round without a raise ends it", () => {
    const world = createWorld();
    const auction = world.auction(sale());
    assert.equal(auction.announcement().round, 1);
    assert.equal(auction.announcement().standing, undefined);
    assert.equal(
      auction.step(world.bid("alice", { auction: auction.id, price: 100 }), T0 + 1).accepted,
      true,
    );
    assert.equal(
      auction.step(world.bid("bob", { auction: auction.id, price: 110 }), T0 + 2).accepted,
      true,
    );

    const round2 = auction.tick(T0 + ROUND);
    assert.deepEqual(kinds(round2), ["round-opened"]);
    const cfp = auction.announcement();
    assert.equal(cfp.round, 2);
    assert.equal(cfp.opensAt, T0 + ROUND);
    assert.equal(cfp.closesAt, T0 + 2 * ROUND);
    assert.deepEqual(cfp.standing, { bidder: "bob", price: 110, effective: 110 });
    assert.equal(cfp.minimumEffective, 120);

    const small = auction.step(
      world.bid("alice", { auction: auction.id, round: 2, price: 115 }),
      T0 + ROUND + 1,
    );
    assert.equal(!small.accepted && small.reason, "too-small-raise");
    const stale = auction.step(
      world.bid("carol", { auction: auction.id, round: 1, price: 200 }),
      T0 + ROUND + 2,
    );
    assert.equal(!stale.accepted && stale.reason, "late", "a bid for a closed round");
    assert.equal(
      auction.step(
        world.bid("alice", { auction: auction.id, round: 2, price: 120 }),
        T0 + ROUND + 3,
      ).accepted,
      true,
    );

    assert.deepEqual(kinds(auction.tick(T0 + 2 * ROUND)), ["round-opened"]);
    assert.deepEqual(auction.announcement().standing, {
      bidder: "alice",
      price: 120,
      effective: 120,
    });
    // Nobody raises in round 3.
    const end = auction.tick(T0 + 3 * ROUND);
    assert.deepEqual(kinds(end), ["awarded"]);
    const award = awarded(auction.result());
    assert.equal(award.winner, "alice");
    assert.equal(award.price, 120, "the winner pays its own standing bid");
    assert.equal(award.round, 3);
    assert.equal(auction.result()?.rounds, 3);
  });

  test("one late tick closes every elapsed round in order", () => {
    const world = createWorld();
    const auction = world.auction(sale());
    auction.step(world.bid("alice", { auction: auction.id, price: 150 }), T0 + 1);
    const events = auction.tick(T0 + 10 * ROUND);
    assert.deepEqual(kinds(events), ["round-opened", "awarded"]);
    assert.equal(awarded(auction.result()).awardedAt, T0 + 2 * ROUND);
  });

  test("maxRounds ends the auction even while raises keep coming", () => {
    const world = createWorld();
    const auction = world.auction(sale({ maxRounds: 2 }));
    auction.step(world.bid("alice", { auction: auction.id, price: 100 }), T0 + 1);
    auction.tick(T0 + ROUND);
    auction.step(world.bid("bob", { auction: auction.id, round: 2, price: 130 }), T0 + ROUND + 1);
    const events = auction.tick(T0 + 2 * ROUND);
    assert.deepEqual(kinds(events), ["awarded"]);
    const award = awarded(auction.result());
    assert.equal(award.winner, "bob");
    assert.equal(award.price, 130);
  });

  test("procurement mirror: asks descend by at least the decrement; the lowest standing ask wins", () => {
    const world = createWorld();
    const auction = world.auction({
      id: "english-procurement",
      rule: "english",
      side: "procurement",
      reserve: 500,
      minIncrement: 20,
      roundMs: ROUND,
    });
    const above = auction.step(world.bid("alice", { auction: auction.id, price: 501 }), T0 + 1);
    assert.equal(!above.accepted && above.reason, "outside-reserve");
    auction.step(world.bid("alice", { auction: auction.id, price: 480 }), T0 + 2);
    auction.step(world.bid("bob", { auction: auction.id, price: 450 }), T0 + 3);
    auction.tick(T0 + ROUND);
    assert.equal(auction.announcement().minimumEffective, 430);
    const small = auction.step(
      world.bid("alice", { auction: auction.id, round: 2, price: 440 }),
      T0 + ROUND + 1,
    );
    assert.equal(!small.accepted && small.reason, "too-small-raise");
    assert.equal(
      auction.step(
        world.bid("carol", { auction: auction.id, round: 2, price: 430 }),
        T0 + ROUND + 2,
      ).accepted,
      true,
    );
    auction.tick(T0 + 2 * ROUND);
    auction.tick(T0 + 3 * ROUND);
    const award = awarded(auction.result());
    assert.equal(award.winner, "carol");
    assert.equal(award.price, 430, "the winner is paid its own ask");
  });

  test("no bid in round 1: unsold", () => {
    const world = createWorld();
    const auction = world.auction(sale());
    assert.deepEqual(kinds(auction.tick(T0 + ROUND)), ["unsold"]);
  });
});

describe("dutch: a clock that stops at the first taker", () => {
  const saleClock: AuctionTerms = {
    id: "dutch-sale",
    rule: "dutch",
    side: "sale",
    reserve: 60,
    startPrice: 100,
    step: 10,
    stepMs: 1_000,
    roundMs: 60_000,
  };

  test("sale: the price falls each step; the first take at the clock price wins at once", () => {
    const world = createWorld();
    const auction = world.auction(saleClock);
    assert.deepEqual(auction.announcement().clock, {
      startPrice: 100,
      step: 10,
      stepMs: 1_000,
      stopPrice: 60,
      expiresAt: T0 + 5_000,
    });
    assert.equal(auction.announcement().closesAt, T0 + 5_000);
    const early = auction.step(
      world.bid("alice", { auction: auction.id, price: 70, take: true }),
      T0 + 2_500,
    );
    assert.equal(!early.accepted && early.reason, "not-the-clock-price", "the clock is at 80");
    const notTake = auction.step(world.bid("bob", { auction: auction.id, price: 80 }), T0 + 2_500);
    assert.equal(!notTake.accepted && notTake.reason, "malformed");
    const take = auction.step(
      world.bid("carol", { auction: auction.id, price: 80, take: true }),
      T0 + 2_600,
    );
    assert.equal(take.accepted, true);
    assert.deepEqual(kinds(take.events), ["awarded"]);
    const award = awarded(auction.result());
    assert.equal(award.winner, "carol");
    assert.equal(award.price, 80);
    assert.equal(award.awardedAt, T0 + 2_600);
    const after = auction.step(
      world.bid("dave", { auction: auction.id, price: 80, take: true }),
      T0 + 2_700,
    );
    assert.equal(!after.accepted && after.reason, "late");
  });

  test("a take above the clock (sent before a step) wins at the clock price", () => {
    const world = createWorld();
    const auction = world.auction(saleClock);
    const take = auction.step(
      world.bid("alice", { auction: auction.id, price: 90, take: true }),
      T0 + 2_000,
    );
    assert.equal(take.accepted, true);
    assert.equal(awarded(auction.result()).price, 80);
  });

  test("nobody takes: unsold when the clock would pass the reserve", () => {
    const world = createWorld();
    const auction = world.auction(saleClock);
    assert.deepEqual(auction.tick(T0 + 4_999), []);
    const events = auction.tick(T0 + 5_000);
    assert.deepEqual(kinds(events), ["unsold"]);
    const result = auction.result();
    assert.equal(result?.status === "unsold" && result.reason, "no-taker");
  });

  test("procurement mirror: the offered payment rises to the reserve; the first taker is paid it", () => {
    const world = createWorld();
    const auction = world.auction({
      id: "dutch-procurement",
      rule: "dutch",
      side: "procurement",
      reserve: 100,
      startPrice: 50,
      step: 10,
      stepMs: 1_000,
      roundMs: 60_000,
    });
    assert.equal(auction.announcement().clock?.expiresAt, T0 + 6_000, "50, 60, …, 100: six steps");
    const greedy = auction.step(
      world.bid("alice", { auction: auction.id, price: 90, take: true }),
      T0 + 3_000,
    );
    assert.equal(!greedy.accepted && greedy.reason, "not-the-clock-price", "the offer is 80");
    const take = auction.step(
      world.bid("bob", { auction: auction.id, price: 80, take: true }),
      T0 + 3_000,
    );
    assert.equal(take.accepted, true);
    const award = awarded(auction.result());
    assert.equal(award.winner, "bob");
    assert.equal(award.price, 80);
  });
});

describe("calls for proposals and awards on the wire", () => {
  test("the announcement is a valid market.cfp body; signed, it parses back", () => {
    const world = createWorld();
    const auction = world.auction({
      id: "cfp",
      rule: "english",
      side: "procurement",
      reserve: 900,
      minIncrement: 5,
      roundMs: ROUND,
      item: { task: "code_review", pr: 42 },
    });
    const cfp = auction.announcement();
    const keys = world.keys.get("alice");
    assert.ok(keys);
    const envelope = createCfp(
      cfp,
      { from: "alice", privateKey: keys.privateKey },
      { clock: world.clock },
    );
    assert.equal(envelope.type, "market.cfp");
    assert.equal(envelope.corr, "cfp");
    assert.deepEqual(parseCfpBody(JSON.parse(JSON.stringify(envelope.body))), cfp);
  });

  test("only what the auction built is signed without its schema check: it is frozen, anything else is checked", () => {
    const world = createWorld();
    const auction = world.auction({ id: "built", rule: "vickrey", side: "sale", roundMs: ROUND });
    const keys = world.keys.get("alice");
    assert.ok(keys);
    const signer = { from: "alice", privateKey: keys.privateKey };
    const cfp = auction.announcement();
    assert.ok(Object.isFrozen(cfp), "the announcement cannot change after it was built");
    assert.equal(createCfp(cfp, signer).type, "market.cfp");
    // A copy is not the auction's own: it is checked, and a bad one refused.
    assert.throws(() => createCfp({ ...cfp, round: 0 }, signer), InvalidEnvelopeError);
    auction.step(world.bid("bob", { auction: "built", price: 10 }), T0 + 1);
    auction.tick(T0 + ROUND);
    const result = auction.result();
    assert.ok(result);
    assert.ok(Object.isFrozen(result));
    const award = awardBody(result);
    assert.ok(Object.isFrozen(award));
    assert.equal(createAward(award, signer).type, "market.award");
    // An award made from a result the auction did not build is checked in full.
    const forged = awardBody({ ...result, auction: "" });
    assert.throws(() => createAward(forged, signer), InvalidEnvelopeError);
  });

  test("clearSealed and the auction agree", () => {
    const bids = [
      { bidder: "alice", price: 120 },
      { bidder: "bob", price: 100 },
    ];
    const clearing = clearSealed({ rule: "vickrey", side: "sale" }, bids);
    assert.equal(clearing.outcome, "awarded");
    assert.equal(clearing.outcome === "awarded" && clearing.price, 100);
  });
});
