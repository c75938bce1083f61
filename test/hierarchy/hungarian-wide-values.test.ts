/**
 * `solveAssignment` promises the lexicographic objective (as many pairs as
 * possible without a forbidden one, then the largest total) for any finite
 * values. A forbidden pair cost `n × spread + 1` in the solver, in absolute
 * units: once `n × spread` passed 2⁵³ the `+ 1` was rounded away (and a
 * spread past the largest double was +∞), so a matching with a forbidden
 * pair cost no more than one without, and the solver gave up a pair to raise
 * the total. A custom suitability in credits or tokens reaches such values.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { FORBIDDEN, solveAssignment } from "../../src/hierarchy/index.js";

describe("Hungarian assignment with values far apart", () => {
  it("fills both pairs rather than one forbidden-adjacent high one, however large the values", () => {
    for (const high of [1e16, 2 ** 53, 1e17, 1e300, Number.MAX_VALUE]) {
      const solution = solveAssignment([
        [0, high],
        [FORBIDDEN, 0],
      ]);
      assert.equal(solution.assigned, 2, `values up to ${high}`);
      assert.deepEqual(solution.columnOfRow, [0, 1], `values up to ${high}`);
    }
  });

  it("keeps the pair count when the spread itself overflows (−max … +max)", () => {
    const solution = solveAssignment([
      [-Number.MAX_VALUE, Number.MAX_VALUE],
      [FORBIDDEN, -Number.MAX_VALUE],
    ]);
    assert.equal(solution.assigned, 2);
  });

  it("assigns as many pairs as a perfect matching of the allowed pairs allows, at any scale (property)", () => {
    // A diagonal of allowed pairs guarantees a perfect matching; the other
    // pairs are large values or forbidden, tempting the solver to give one up.
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 7 }),
        fc.double({ min: 1e10, max: 1e307, noNaN: true }),
        fc.array(fc.boolean(), { minLength: 49, maxLength: 49 }),
        (n, scale, forbid) => {
          const values = Array.from({ length: n }, (_, r) =>
            Array.from({ length: n }, (_, c) =>
              r === c ? 0 : forbid[r * 7 + c] ? FORBIDDEN : scale * ((r + c) % 3),
            ),
          );
          assert.equal(solveAssignment(values).assigned, n);
        },
      ),
      { seed: 7, numRuns: 300 },
    );
  });
});
