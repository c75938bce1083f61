/**
 * `suitability` clamps an agent's measured figures (a NaN or out-of-range
 * reputation counts as documented), but a cost of +∞ (an agent priced out,
 * an unpriced model) made the cost penalty ∞ ÷ ∞ = NaN, and a NaN load or
 * cost passed straight through: `assignRoles` then threw a ConfigError
 * blaming the suitability function, and no slot of any role was assigned.
 * The penalty's limit for an infinite cost is its maximum (`weights.cost`);
 * an unknown (NaN) load or cost counts as its default, as an unknown
 * reputation counts as neutral.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { assignRoles, suitability } from "../../src/hierarchy/index.js";

const near = (actual: number, expected: number) =>
  assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} ≉ ${expected}`);

describe("suitability of agents with extreme figures", () => {
  it("an infinite cost takes the whole cost penalty, not NaN", () => {
    // 0.4 (no preferences) + 0.3 × 0.5 + 0.2 × 1 − 0.1 × 1
    near(
      suitability({ id: "x", capabilities: [], cost: Number.POSITIVE_INFINITY }, { name: "any" }),
      0.65,
    );
  });

  it("an unknown (NaN) load or cost counts as its default", () => {
    near(suitability({ id: "x", capabilities: [], load: Number.NaN }, { name: "any" }), 0.75);
    near(suitability({ id: "x", capabilities: [], cost: Number.NaN }, { name: "any" }), 0.75);
  });

  it("is a finite number for any figures an agent reports (property)", () => {
    const figure = fc.oneof(
      fc.double(),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
    );
    fc.assert(
      fc.property(figure, figure, figure, (reputation, load, cost) => {
        const value = suitability(
          { id: "x", capabilities: [], reputation, load, cost },
          { name: "any" },
        );
        assert.ok(
          Number.isFinite(value),
          `reputation ${reputation}, load ${load}, cost ${cost}: ${value}`,
        );
      }),
      { seed: 11, numRuns: 500 },
    );
  });

  it("assigns the roles when one agent is priced out, preferring the priced one", () => {
    const { assignments } = assignRoles(
      [
        { id: "priced-out", capabilities: ["review"], cost: Number.POSITIVE_INFINITY },
        { id: "cheap", capabilities: ["review"], cost: 1 },
      ],
      [{ name: "reviewer", requires: ["review"] }],
    );
    assert.deepEqual(
      assignments.map((a) => a.agent),
      ["cheap"],
    );
  });
});

it("a cost equal to costScale takes half the penalty even when cost + costScale overflows (it took none)", () => {
  near(
    suitability(
      { id: "x", capabilities: [], cost: Number.MAX_VALUE },
      { name: "any" },
      {
        preferred: 0.4,
        reputation: 0.3,
        spareCapacity: 0.2,
        cost: 0.1,
        costScale: Number.MAX_VALUE,
      },
    ),
    0.4 + 0.15 + 0.2 - 0.05,
  );
});
