import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AuctionTermsError, ConfigError, InvalidEnvelopeError } from "../../src/errors/index.js";
import {
  type AuctionTerms,
  BID_TYPE,
  bidVerifierFromKeys,
  createAward,
  createBid,
  createRateLimiter,
  DEFAULT_ENGLISH_MAX_ROUNDS,
  parseAwardBody,
  parseBidBody,
  resolveTerms,
} from "../../src/market/index.js";
import { createWorld, keyPair, T0 } from "./fixtures.js";

const base: AuctionTerms = { id: "a1", rule: "first-price", side: "sale", roundMs: 1_000 };

/** Asserts that `terms` are refused naming `field`, with a message matching `hint`. */
function refuses(
  terms: Partial<AuctionTerms> & Record<string, unknown>,
  field: string,
  hint: RegExp,
): void {
  assert.throws(
    () => resolveTerms({ ...base, ...terms } as AuctionTerms),
    (error: unknown) => {
      assert.ok(
        error instanceof AuctionTermsError,
        `expected AuctionTermsError, got ${String(error)}`,
      );
      assert.equal(error.code, "E_AUCTION_TERMS");
      assert.equal(error.field, field);
      assert.match(error.message, hint);
      return true;
    },
  );
}

describe("auction terms: bad terms say what to fix", () => {
  test("defaults: english runs 5 rounds, everything else 1; the result is frozen", () => {
    const english = resolveTerms({ ...base, rule: "english", minIncrement: 1 });
    assert.equal(english.maxRounds, DEFAULT_ENGLISH_MAX_ROUNDS);
    assert.equal(resolveTerms(base).maxRounds, 1);
    assert.ok(Object.isFrozen(english));
  });

  test("common terms", () => {
    refuses({ id: "" }, "id", /ULID/);
    refuses({ rule: "candle" as AuctionTerms["rule"] }, "rule", /one of multi-criteria/);
    refuses({ side: "buy" as AuctionTerms["side"] }, "side", /"sale".*"procurement"/);
    refuses({ roundMs: 0 }, "roundMs", /whole number ≥ 1/);
    refuses({ reserve: -1 }, "reserve", /minimum price/);
    refuses({ reserve: 2.5, side: "procurement" }, "reserve", /maximum payment/);
    refuses({ maxRounds: 3 }, "maxRounds", /use "english"/);
  });

  test("multi-criteria needs sound criteria; others take none", () => {
    const mc = { rule: "multi-criteria" as const };
    refuses(mc, "criteria", /is required for multi-criteria/);
    refuses({ ...mc, criteria: [] }, "criteria", /at least one/);
    refuses(
      { ...mc, criteria: [{ name: "Price", weight: 1, direction: "min" }] },
      "criteria.0.name",
      /lower-case/,
    );
    refuses(
      {
        ...mc,
        criteria: [
          { name: "price", weight: 1, direction: "min" },
          { name: "price", weight: 2, direction: "min" },
        ],
      },
      "criteria.1.name",
      /repeats "price"/,
    );
    refuses(
      { ...mc, criteria: [{ name: "price", weight: 0, direction: "min" }] },
      "criteria.0.weight",
      /> 0/,
    );
    refuses(
      { ...mc, criteria: [{ name: "price", weight: 1, direction: "down" as "min" }] },
      "criteria.0.direction",
      /"min"/,
    );
    refuses(
      { criteria: [{ name: "price", weight: 1, direction: "min" }] },
      "criteria",
      /only to multi-criteria/,
    );
  });

  test("english needs a positive minIncrement", () => {
    refuses({ rule: "english" }, "minIncrement", /is required for english/);
    refuses({ rule: "english", minIncrement: 0 }, "minIncrement", /> 0/);
    refuses({ rule: "english", minIncrement: 1, maxRounds: 0 }, "maxRounds", /≥ 1/);
    refuses({ minIncrement: 5 }, "minIncrement", /only to english/);
  });

  test("dutch needs a clock that can reach its reserve", () => {
    const dutch = { rule: "dutch" as const, startPrice: 100, step: 10, stepMs: 1_000 };
    refuses({ rule: "dutch" }, "startPrice", /clock's first price/);
    refuses({ ...dutch, step: 0 }, "step", /≥ 1/);
    refuses({ ...dutch, stepMs: 0.5 }, "stepMs", /whole number/);
    refuses({ ...dutch, reserve: 150 }, "startPrice", /below the reserve/);
    refuses({ ...dutch, side: "procurement" }, "reserve", /ceiling/);
    refuses({ ...dutch, side: "procurement", reserve: 50 }, "startPrice", /above the reserve/);
    refuses({ startPrice: 100 }, "startPrice", /only to dutch/);
    assert.equal(resolveTerms({ ...base, ...dutch }).maxRounds, 1);
  });
});

describe("bids on the wire", () => {
  test("createBid signs a market.bid correlated to the auction; it verifies and parses back", () => {
    const world = createWorld();
    const bid = world.bid("alice", { auction: "a1", price: 420, criteria: { quality: 0.9 } });
    assert.equal(bid.type, BID_TYPE);
    assert.equal(bid.corr, "a1");
    assert.deepEqual(parseBidBody(JSON.parse(JSON.stringify(bid.body))), {
      auction: "a1",
      round: 1,
      price: 420,
      criteria: { quality: 0.9 },
    });
    const alice = world.keys.get("alice");
    assert.ok(alice);
    const verify = bidVerifierFromKeys(new Map([["alice", alice.publicKey]]));
    assert.equal(verify(bid), true);
    assert.equal(
      verify({ ...bid, body: { auction: "a1", round: 1, price: 1, criteria: { quality: 0.9 } } }),
      false,
    );
    assert.equal(verify({ ...bid, from: "bob" }), false, "no key for bob");
  });

  test("createBid refuses a body that could not be a bid", () => {
    const { privateKey } = keyPair(1);
    for (const price of [1.5, -1, Number.NaN, 2 ** 53]) {
      assert.throws(
        () => createBid({ auction: "a1", round: 1, from: "alice", price, privateKey }),
        InvalidEnvelopeError,
      );
    }
    assert.throws(
      () => createBid({ auction: "a1", round: 0, from: "alice", price: 1, privateKey }),
      /body\.round/,
    );
  });

  test("parseBidBody explains what is wrong", () => {
    assert.match(String(parseBidBody(null)), /body/);
    assert.match(String(parseBidBody({ auction: "a1", round: 1, price: "10" })), /body\.price/);
    assert.match(
      String(parseBidBody({ auction: "a1", round: 1, price: 10, criteria: { Bad: 1 } })),
      /body\.criteria/,
    );
    assert.deepEqual(parseBidBody({ auction: "a1", round: 1, price: 0, take: true, extra: 1 }), {
      auction: "a1",
      round: 1,
      price: 0,
      take: true,
    });
  });

  test("an award body is checked before signing", () => {
    const { privateKey } = keyPair(1);
    const unsold = {
      auction: "a1",
      rule: "vickrey" as const,
      side: "sale" as const,
      round: 1,
      outcome: "unsold" as const,
      reason: "no-bids" as const,
    };
    const envelope = createAward(unsold, { from: "lead", privateKey });
    assert.equal(envelope.type, "market.award");
    assert.deepEqual(parseAwardBody(envelope.body), unsold);
    assert.throws(
      () => createAward({ ...unsold, round: 0 }, { from: "lead", privateKey }),
      InvalidEnvelopeError,
    );
  });
});

describe("rate limiter", () => {
  test("a token bucket on injected time", () => {
    const limiter = createRateLimiter({ capacity: 2, refillPerSecond: 2 });
    assert.equal(limiter.take("a", T0), true);
    assert.equal(limiter.take("a", T0), true);
    assert.equal(limiter.take("a", T0), false);
    assert.equal(limiter.available("a", T0 + 250), 0.5);
    assert.equal(limiter.take("a", T0 + 250), false);
    assert.equal(limiter.take("a", T0 + 500), true);
    assert.equal(limiter.take("a", T0 - 10_000), false, "time going back mints nothing");
    assert.equal(limiter.prune(T0 + 500), 0);
    assert.equal(limiter.prune(T0 + 10_000), 1, "a full bucket is forgotten");
    assert.equal(limiter.available("a", T0 + 10_000), 2);
  });

  test("bad configuration is refused", () => {
    assert.throws(() => createRateLimiter({ capacity: 0, refillPerSecond: 1 }), ConfigError);
    assert.throws(() => createRateLimiter({ capacity: 1, refillPerSecond: 0 }), ConfigError);
  });
});
