import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { seededRandom } from "../../src/core/random.js";
import { ConfigError } from "../../src/errors/index.js";
import { FORBIDDEN, solveAssignment } from "../../src/hierarchy/index.js";

/**
 * The best (pairs, total) by trying every way to give each row a distinct
 * column or none: the lexicographic objective solveAssignment promises.
 */
function bruteForce(values: readonly (readonly number[])[]): { assigned: number; total: number } {
  const rows = values.length;
  const columns = values[0]?.length ?? 0;
  const used = new Array<boolean>(columns).fill(false);
  let best = { assigned: 0, total: 0 };
  const visit = (row: number, assigned: number, total: number) => {
    if (row === rows) {
      if (assigned > best.assigned || (assigned === best.assigned && total > best.total + 1e-9)) {
        best = { assigned, total };
      }
      return;
    }
    visit(row + 1, assigned, total);
    for (let c = 0; c < columns; c++) {
      const v = (values[row] as readonly number[])[c] as number;
      if (used[c] || v === FORBIDDEN) continue;
      used[c] = true;
      visit(row + 1, assigned + 1, total + v);
      used[c] = false;
    }
  };
  visit(0, 0, 0);
  return best;
}

/** Checks that a solution is a valid matching whose figures add up. */
function checkConsistent(
  values: readonly (readonly number[])[],
  solution: ReturnType<typeof solveAssignment>,
) {
  let assigned = 0;
  let total = 0;
  solution.columnOfRow.forEach((c, r) => {
    if (c < 0) return;
    assert.equal(solution.rowOfColumn[c], r);
    const v = (values[r] as readonly number[])[c] as number;
    assert.notEqual(v, FORBIDDEN, `forbidden pair (${r}, ${c}) was chosen`);
    assigned++;
    total += v;
  });
  solution.rowOfColumn.forEach((r, c) => {
    if (r >= 0) assert.equal(solution.columnOfRow[r], c);
  });
  assert.equal(solution.assigned, assigned);
  assert.ok(Math.abs(solution.total - total) < 1e-9);
}

const matrix = fc
  .record({ rows: fc.integer({ min: 1, max: 8 }), columns: fc.integer({ min: 1, max: 8 }) })
  .chain(({ rows, columns }) =>
    fc.array(
      fc.array(
        fc.oneof(
          { weight: 5, arbitrary: fc.integer({ min: -20, max: 20 }) },
          { weight: 4, arbitrary: fc.double({ min: -1, max: 1, noNaN: true }) },
          { weight: 2, arbitrary: fc.constant(FORBIDDEN) },
        ),
        { minLength: columns, maxLength: columns },
      ),
      { minLength: rows, maxLength: rows },
    ),
  );

describe("Hungarian assignment", () => {
  it("solves the textbook case", () => {
    // A classic 3 × 3 cost matrix, negated to maximise: the optimum costs 1 + 2 + 2 = 5.
    const costs = [
      [4, 1, 3],
      [2, 0, 5],
      [3, 2, 2],
    ];
    const solution = solveAssignment(costs.map((row) => row.map((c) => -c)));
    assert.deepEqual(solution.columnOfRow, [1, 0, 2]);
    assert.equal(solution.total, -5);
  });

  it("solves the rectangular example of its documentation, with a forbidden pair", () => {
    assert.deepEqual(
      solveAssignment([
        [3, 1],
        [2, FORBIDDEN],
        [4, 0],
      ]),
      { columnOfRow: [1, -1, 0], rowOfColumn: [2, 0], assigned: 2, total: 5 },
    );
  });

  it("fills as many pairs as possible before raising the total", () => {
    // Taking (0,0) = 100 alone would leave row 1 without a column; the optimum fills both.
    const solution = solveAssignment([
      [100, 1],
      [5, FORBIDDEN],
    ]);
    assert.deepEqual(solution.columnOfRow, [1, 0]);
    assert.equal(solution.total, 6);
  });

  it("leaves unassigned a row or column whose pairs are all forbidden", () => {
    const solution = solveAssignment([
      [FORBIDDEN, FORBIDDEN],
      [1, 2],
    ]);
    assert.deepEqual(solution.columnOfRow, [-1, 1]);
    assert.deepEqual(solveAssignment([[FORBIDDEN]]), {
      columnOfRow: [-1],
      rowOfColumn: [-1],
      assigned: 0,
      total: 0,
    });
    assert.deepEqual(solveAssignment([]), {
      columnOfRow: [],
      rowOfColumn: [],
      assigned: 0,
      total: 0,
    });
  });

  it("matches brute force on random matrices up to 8 × 8, rectangular and with forbidden pairs (property)", () => {
    fc.assert(
      fc.property(matrix, (values) => {
        const solution = solveAssignment(values);
        checkConsistent(values, solution);
        const best = bruteForce(values);
        assert.equal(solution.assigned, best.assigned);
        assert.ok(
          Math.abs(solution.total - best.total) < 1e-9,
          `total ${solution.total}, brute force ${best.total}`,
        );
      }),
      { numRuns: 300 },
    );
  });

  it("solves a 200 × 200 matrix optimally: no single swap of two rows' columns improves it", () => {
    const random = seededRandom(200);
    const n = 200;
    const values = Array.from({ length: n }, () =>
      Array.from({ length: n }, () => (random.next() < 0.05 ? FORBIDDEN : random.next())),
    );
    const solution = solveAssignment(values);
    checkConsistent(values, solution);
    assert.equal(solution.assigned, n);
    const at = (r: number, c: number) => (values[r] as number[])[c] as number;
    for (let a = 0; a < n; a++) {
      for (let b = a + 1; b < n; b++) {
        const ca = solution.columnOfRow[a] as number;
        const cb = solution.columnOfRow[b] as number;
        assert.ok(at(a, cb) + at(b, ca) <= at(a, ca) + at(b, cb) + 1e-9);
      }
    }
    // Greedy (best remaining pair first) never beats the optimum.
    const taken = new Set<number>();
    let greedy = 0;
    const pairs = values
      .flatMap((row, r) => row.map((v, c) => ({ r, c, v })))
      .filter((p) => p.v !== FORBIDDEN)
      .sort((x, y) => y.v - x.v);
    const rowDone = new Set<number>();
    for (const p of pairs) {
      if (rowDone.has(p.r) || taken.has(p.c)) continue;
      rowDone.add(p.r);
      taken.add(p.c);
      greedy += p.v;
    }
    assert.ok(solution.total >= greedy);
  });

  it("refuses ragged rows and values that are NaN or +∞", () => {
    assert.throws(() => solveAssignment([[1, 2], [3]]), ConfigError);
    assert.throws(() => solveAssignment([[Number.NaN]]), ConfigError);
    assert.throws(() => solveAssignment([[Number.POSITIVE_INFINITY]]), ConfigError);
  });
});
