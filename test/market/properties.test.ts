import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  type AuctionSide,
  type BidInput,
  type Criterion,
  clearSealed,
  dutchClock,
  dutchClockPrice,
  observationScore,
  orientedScore,
  type ReputationLookup,
  reputationWeight,
  scoreMultiCriteria,
  updateMarketReputation,
  withinReserve,
} from "../../src/market/index.js";

const sides: AuctionSide[] = ["sale", "procurement"];

/** Bids with distinct bidders b0, b1, …; prices small enough to tie often. */
function bidsArbitrary(maxPrice = 1_000, minLength = 0) {
  return fc
    .array(fc.integer({ min: 0, max: maxPrice }), { minLength, maxLength: 12 })
    .map((prices) => prices.map((price, i): BidInput => ({ bidder: `b${i}`, price })));
}

/** A reputation per bidder b0…b11, sometimes missing (neutral). */
const reputationArbitrary = fc
  .array(fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }), {
    minLength: 12,
    maxLength: 12,
  })
  .map(
    (table): ReputationLookup =>
      (bidder) =>
        table[Number(bidder.slice(1))],
  );

const reserveArbitrary = fc.option(fc.integer({ min: 0, max: 1_000 }), { nil: undefined });

/** Utility of a bidder valuing the item at `value`: surplus when it wins, 0 otherwise. */
function utility(side: AuctionSide, value: number, wins: boolean, price: number): number {
  if (!wins) return 0;
  return side === "sale" ? value - price : price - value;
}

describe("sealed clearing: properties", () => {
  test("the winner has the best effective bid among the eligible bids", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...sides),
        fc.constantFrom("first-price" as const, "vickrey" as const),
        bidsArbitrary(),
        reputationArbitrary,
        reserveArbitrary,
        (side, rule, bids, reputation, reserve) => {
          const clearing = clearSealed({ rule, side, reserve }, bids, reputation);
          const eligible = bids.filter((bid) => withinReserve(side, bid.price, reserve));
          if (eligible.length === 0) {
            assert.equal(clearing.outcome, "unsold");
            return;
          }
          assert.equal(clearing.outcome, "awarded");
          if (clearing.outcome !== "awarded") return;
          const best = orientedScore(side, clearing.winner.price, clearing.winner.reputationWeight);
          for (const bid of eligible) {
            const weight = reputationWeight(reputation(bid.bidder) ?? 0.5);
            assert.ok(orientedScore(side, bid.price, weight) <= best);
          }
        },
      ),
    );
  });

  test("multi-criteria: the winner has the highest weighted score", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...sides),
        criteriaAndBids(),
        reputationArbitrary,
        (side, { criteria, bids }, reputation) => {
          const clearing = clearSealed(
            { rule: "multi-criteria", side, criteria },
            bids,
            reputation,
          );
          assert.equal(clearing.outcome, "awarded");
          if (clearing.outcome !== "awarded") return;
          const scores = scoreMultiCriteria(criteria, bids, reputation);
          const top = Math.max(...scores.map((score) => score.effective));
          assert.equal(clearing.winner.effective, top);
          assert.equal(clearing.price, clearing.winner.price, "the winner's own price");
          assert.equal(clearing.scores?.length, bids.length, "a breakdown for every eligible bid");
        },
      ),
    );
  });

  test("no winner pays more than it bid (sale) or is paid less than it asked (procurement)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...sides),
        fc.constantFrom("first-price" as const, "vickrey" as const),
        bidsArbitrary(100_000, 1),
        reputationArbitrary,
        reserveArbitrary,
        (side, rule, bids, reputation, reserve) => {
          const clearing = clearSealed({ rule, side, reserve }, bids, reputation);
          if (clearing.outcome !== "awarded") return;
          const { price, winner } = clearing;
          assert.ok(Number.isSafeInteger(price) && price >= 0, `price ${price} is whole credits`);
          if (side === "sale") assert.ok(price <= winner.price);
          else assert.ok(price >= winner.price);
          assert.ok(withinReserve(side, price, reserve), "never worse than the reserve");
          if (rule === "first-price") assert.equal(price, winner.price);
        },
      ),
    );
  });

  test("vickrey with neutral reputations charges exactly the second-best bid (or the reserve)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...sides),
        bidsArbitrary(1_000, 1),
        reserveArbitrary,
        (side, bids, reserve) => {
          const clearing = clearSealed({ rule: "vickrey", side, reserve }, bids);
          const eligible = bids
            .filter((bid) => withinReserve(side, bid.price, reserve))
            .map((bid) => bid.price)
            .sort((a, b) => (side === "sale" ? b - a : a - b));
          if (eligible.length === 0) return;
          assert.equal(clearing.outcome, "awarded");
          if (clearing.outcome !== "awarded") return;
          const second = eligible[1];
          const expected =
            second === undefined
              ? (reserve ?? eligible[0])
              : reserve === undefined
                ? second
                : side === "sale"
                  ? Math.max(second, reserve)
                  : Math.min(second, reserve);
          assert.equal(clearing.price, expected);
          assert.equal(clearing.effectivePrice, expected);
        },
      ),
    );
  });

  test("vickrey: bidding one's true value is a dominant strategy", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...sides),
        fc.integer({ min: 0, max: 1_000 }),
        bidsArbitrary(1_000),
        fc.array(fc.integer({ min: 0, max: 1_000 }), { minLength: 1, maxLength: 8 }),
        reputationArbitrary,
        reserveArbitrary,
        fc.constantFrom("me", "a", "zz"),
        (side, value, others, deviations, reputation, reserve, me) => {
          // Alone and without a reserve, nothing but its own bid can price the
          // winner (it pays its bid), so truthfulness needs competition or a reserve.
          fc.pre(reserve !== undefined || others.length > 0);
          const outcomeOf = (bid: number): number => {
            const clearing = clearSealed(
              { rule: "vickrey", side, reserve },
              [...others, { bidder: me, price: bid }],
              (bidder) => (bidder === me ? reputation("b0") : reputation(bidder)),
            );
            const wins = clearing.outcome === "awarded" && clearing.winner.bidder === me;
            return utility(side, value, wins, clearing.outcome === "awarded" ? clearing.price : 0);
          };
          const truthful = outcomeOf(value);
          // Random deviations, plus the ones most likely to pay: just around the value and every rival bid.
          const candidates = [
            ...deviations,
            Math.max(0, value - 1),
            value + 1,
            0,
            ...others.flatMap(({ price }) => [price, price + 1, Math.max(0, price - 1)]),
          ];
          for (const deviation of candidates) {
            assert.ok(
              outcomeOf(deviation) <= truthful,
              `bidding ${deviation} instead of the value ${value} paid more than truthful bidding`,
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test("procurement is the mirror of a sale (neutral reputations)", () => {
    const ceiling = 1_000;
    fc.assert(
      fc.property(
        fc.constantFrom("first-price" as const, "vickrey" as const),
        bidsArbitrary(ceiling),
        reserveArbitrary,
        (rule, bids, reserve) => {
          const sale = clearSealed({ rule, side: "sale", reserve }, bids);
          const procurement = clearSealed(
            {
              rule,
              side: "procurement",
              ...(reserve === undefined ? {} : { reserve: ceiling - reserve }),
            },
            bids.map((bid) => ({ ...bid, price: ceiling - bid.price })),
          );
          assert.equal(procurement.outcome, sale.outcome);
          if (sale.outcome === "awarded" && procurement.outcome === "awarded") {
            assert.equal(procurement.winner.bidder, sale.winner.bidder);
            assert.equal(procurement.price, ceiling - sale.price);
          }
        },
      ),
    );
  });
});

/** 1-5 criteria and 1-12 bids giving a value for each. */
function criteriaAndBids() {
  return fc
    .array(
      fc.record({
        weight: fc.double({ min: 0.01, max: 100, noNaN: true }),
        direction: fc.constantFrom("min" as const, "max" as const),
      }),
      { minLength: 1, maxLength: 5 },
    )
    .chain((shapes) => {
      const criteria: Criterion[] = shapes.map((shape, i) => ({ name: `c${i}`, ...shape }));
      const bid = fc.record({
        price: fc.integer({ min: 0, max: 10_000 }),
        // Hundredths, as real measurements come: subnormal doubles would underflow when scaled.
        values: fc.array(
          fc.integer({ min: -1e8, max: 1e8 }).map((value) => value / 100),
          {
            minLength: criteria.length,
            maxLength: criteria.length,
          },
        ),
      });
      return fc.array(bid, { minLength: 1, maxLength: 12 }).map((raw) => ({
        criteria,
        bids: raw.map(
          ({ price, values }, i): BidInput => ({
            bidder: `b${i}`,
            price,
            criteria: Object.fromEntries(values.map((value, c) => [`c${c}`, value])),
          }),
        ),
      }));
    });
}

describe("multi-criteria scoring: properties", () => {
  test("every normalised value, contribution and raw score stays in [0, 1]", () => {
    fc.assert(
      fc.property(criteriaAndBids(), reputationArbitrary, ({ criteria, bids }, reputation) => {
        for (const score of scoreMultiCriteria(criteria, bids, reputation)) {
          assert.ok(score.raw >= 0 && score.raw <= 1, `raw ${score.raw}`);
          assert.ok(score.effective >= 0 && score.effective <= 1.5);
          for (const part of score.criteria) {
            assert.ok(
              part.normalised >= 0 && part.normalised <= 1,
              `normalised ${part.normalised}`,
            );
            assert.ok(part.contribution >= 0 && part.contribution <= 1);
          }
          const weights = score.criteria.reduce((sum, part) => sum + part.weight, 0);
          assert.ok(Math.abs(weights - 1) < 1e-9, "weights sum to 1");
        }
      }),
    );
  });

  test("scaling one criterion by a positive factor changes no score", () => {
    fc.assert(
      fc.property(
        criteriaAndBids(),
        fc.nat(),
        fc.constantFrom(0.001, 0.5, 3, 1_000),
        ({ criteria, bids }, pick, factor) => {
          const name = (criteria[pick % criteria.length] as Criterion).name;
          const scaled = bids.map((bid) => ({
            ...bid,
            criteria: { ...bid.criteria, [name]: (bid.criteria?.[name] as number) * factor },
          }));
          const before = scoreMultiCriteria(criteria, bids);
          const after = scoreMultiCriteria(criteria, scaled);
          before.forEach((score, i) => {
            const other = after[i];
            assert.ok(other);
            // Relative tolerance: a spread tiny against the values loses digits to rounding.
            assert.ok(Math.abs(score.raw - other.raw) < 1e-6, `${score.raw} vs ${other.raw}`);
          });
        },
      ),
    );
  });

  test("all values equal: every bid scores 1 on that criterion", () => {
    const scores = scoreMultiCriteria(
      [{ name: "quality", weight: 1, direction: "max" }],
      [
        { bidder: "a", price: 1, criteria: { quality: 0.8 } },
        { bidder: "b", price: 2, criteria: { quality: 0.8 } },
      ],
    );
    assert.deepEqual(
      scores.map((score) => score.raw),
      [1, 1],
    );
  });
});

describe("reputation: properties", () => {
  const observation = fc.record({
    success: fc.boolean(),
    audit: fc.constantFrom("pass" as const, "fail" as const, "none" as const),
    latencyMs: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined }),
    estimateMs: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined }),
  });

  test("the EWMA stays in [0, 1] and moves toward the observation, never past it", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        observation,
        fc.double({ min: Number.EPSILON, max: 1, noNaN: true }),
        (previous, seen, alpha) => {
          const target = observationScore(seen);
          assert.ok(target >= 0 && target <= 1);
          const next = updateMarketReputation(previous, seen, alpha);
          assert.ok(next >= 0 && next <= 1, `next ${next}`);
          assert.ok(Math.abs(next - target) <= Math.abs(previous - target) + 1e-15);
          assert.ok(next >= Math.min(previous, target) - 1e-15);
          assert.ok(next <= Math.max(previous, target) + 1e-15);
        },
      ),
    );
  });

  test("the observation formula: failure 0, failed audit 0, late work keeps at least half", () => {
    assert.equal(observationScore({ success: false, latencyMs: 1, estimateMs: 1000 }), 0);
    assert.equal(observationScore({ success: true, audit: "fail" }), 0);
    assert.equal(observationScore({ success: true, audit: "pass" }), 1);
    assert.equal(observationScore({ success: true, latencyMs: 500, estimateMs: 1000 }), 1);
    assert.equal(observationScore({ success: true, latencyMs: 2000, estimateMs: 1000 }), 0.75);
    assert.equal(updateMarketReputation(undefined, { success: true }, 0.2), 0.6);
    assert.equal(updateMarketReputation(0.5, { success: false }, 0.2), 0.4);
    assert.equal(reputationWeight(0.5), 1);
    assert.equal(reputationWeight(7), 1.5, "clamped");
    assert.equal(reputationWeight(Number.NaN), 1, "NaN is unknown, neutral");
  });
});

describe("dutch clock: properties", () => {
  test("the clock moves one way, by whole steps, and never passes its stop price", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...sides),
        fc.integer({ min: 0, max: 1_000 }),
        fc.integer({ min: 0, max: 1_000 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 5_000 }),
        fc.array(fc.integer({ min: 0, max: 200_000 }), { minLength: 2, maxLength: 20 }),
        (side, a, b, step, stepMs, times) => {
          const [startPrice, reserve] =
            side === "sale" ? [Math.max(a, b), Math.min(a, b)] : [Math.min(a, b), Math.max(a, b)];
          const clock = dutchClock({ side, startPrice, step, stepMs, reserve }, 0);
          let previous: number | undefined = startPrice;
          for (const t of [...times].sort((x, y) => x - y)) {
            const price = dutchClockPrice(clock, t);
            if (price === undefined) {
              assert.ok(t >= clock.expiresAt);
              previous = undefined;
              continue;
            }
            assert.ok(previous !== undefined, "the clock never comes back once expired");
            assert.equal(Math.abs(price - startPrice) % step, 0);
            assert.ok(withinReserve(side, price, reserve));
            assert.ok(side === "sale" ? price <= previous : price >= previous);
            previous = price;
          }
        },
      ),
    );
  });
});
