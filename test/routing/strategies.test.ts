import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { seededRandom } from "../../src/core/random.js";
import type { AgentCard } from "../../src/registry/index.js";
import {
  ewma,
  explore,
  orderByKey,
  reputationScore,
  rotateAfter,
  sortById,
  unknownReputation,
  updateReputation,
} from "../../src/routing/index.js";

function card(id: string): AgentCard {
  return { id, role: "r", tags: [], capabilities: [], weight: 1, publicKey: `key-${id}` };
}

const cardIds = (cards: readonly AgentCard[]) => cards.map((c) => c.id);

describe("routing strategies", () => {
  it("sorts by id and removes duplicate ids without touching the input", () => {
    const input = [card("c"), card("a"), card("b"), card("a")];
    assert.deepEqual(cardIds(sortById(input)), ["a", "b", "c"]);
    assert.deepEqual(cardIds(input), ["c", "a", "b", "a"]);
  });

  it("rotates to start just after the previous pick, even if it is gone", () => {
    const sorted = [card("a"), card("c"), card("e")];
    assert.deepEqual(cardIds(rotateAfter(sorted, undefined)), ["a", "c", "e"]);
    assert.deepEqual(cardIds(rotateAfter(sorted, "a")), ["c", "e", "a"]);
    assert.deepEqual(cardIds(rotateAfter(sorted, "d")), ["e", "a", "c"]);
    assert.deepEqual(cardIds(rotateAfter(sorted, "e")), ["a", "c", "e"]);
    assert.deepEqual(cardIds(rotateAfter(sorted, "z")), ["a", "c", "e"]);
  });

  it("orders by key stably", () => {
    const load: Record<string, number> = { a: 1, b: 0, c: 1, d: 0 };
    const ordered = orderByKey([card("c"), card("d"), card("a"), card("b")], (id) => load[id]!);
    assert.deepEqual(cardIds(ordered), ["d", "b", "c", "a"]);
  });

  it("learns success and latency by EWMA, latency from successes only", () => {
    assert.equal(ewma(10, 20, 0.5), 15);
    let rep = updateReputation(unknownReputation, { ok: true, latencyMs: 100 }, 0.2);
    assert.deepEqual(rep, { success: 1, latencyMs: 100, samples: 1 });
    rep = updateReputation(rep, { ok: true, latencyMs: 200 }, 0.2);
    assert.equal(rep.latencyMs, 120);
    rep = updateReputation(rep, { ok: false, latencyMs: 30_000 }, 0.2);
    assert.equal(rep.latencyMs, 120);
    assert.ok(Math.abs(rep.success - 0.8) < 1e-12);
    assert.equal(rep.samples, 3);
  });

  it("scores in [0, 1], halving at the latency scale", () => {
    assert.equal(reputationScore(unknownReputation, 1000), 1);
    assert.equal(reputationScore({ success: 1, latencyMs: 1000, samples: 1 }, 1000), 0.5);
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1e7, noNaN: true }),
        (success, latencyMs) => {
          const score = reputationScore({ success, latencyMs, samples: 1 }, 1000);
          return score >= 0 && score <= 1;
        },
      ),
    );
  });

  it("explores a non-best candidate at about the asked rate", () => {
    const random = seededRandom(3);
    const ranked = [card("best"), card("b"), card("c")];
    let explored = 0;
    const runs = 10_000;
    for (let i = 0; i < runs; i++) {
      const out = explore(ranked, random, 0.1);
      assert.equal(out.length, 3);
      if (out[0]!.id !== "best") explored++;
    }
    assert.ok(explored > runs * 0.08 && explored < runs * 0.12, `explored ${explored}`);
    assert.deepEqual(cardIds(explore(ranked, random, 0)), ["best", "b", "c"]);
  });

  it("every helper returns a permutation of its input", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 3 }), { maxLength: 8 }),
        fc.option(fc.string({ maxLength: 3 }), { nil: undefined }),
        fc.integer(),
        (idList, lastId, seed) => {
          const cards = idList.map(card);
          const expected = [...idList].sort();
          const sorted = sortById(cards);
          assert.deepEqual(cardIds(sorted), expected);
          assert.deepEqual(cardIds(rotateAfter(sorted, lastId)).sort(), expected);
          assert.deepEqual(cardIds(explore(sorted, seededRandom(seed), 0.5)).sort(), expected);
          assert.deepEqual(cardIds(orderByKey(sorted, (id) => id.length)).sort(), expected);
        },
      ),
    );
  });
});
