/**
 * Optimal assignment (the Hungarian algorithm, Kuhn–Munkres with potentials)
 * over a rectangular matrix, maximising the total.
 */
import { ConfigError } from "../errors/index.js";

/**
 * Marks a pair that must never be assigned (e.g. the agent lacks a capability
 * the role requires).
 */
export const FORBIDDEN = Number.NEGATIVE_INFINITY;

/** The solution of {@link solveAssignment}. */
export interface AssignmentSolution {
  /** For each row, its column, or -1 when it has none. */
  readonly columnOfRow: readonly number[];
  /** For each column, its row, or -1 when it has none. */
  readonly rowOfColumn: readonly number[];
  /** Number of assigned pairs. */
  readonly assigned: number;
  /** Sum of the values of the assigned pairs. */
  readonly total: number;
}

/**
 * Assigns rows to columns, each at most once, to maximise the total value.
 * `values[r][c]` is the value of pairing row `r` with column `c`: a finite
 * number, or {@link FORBIDDEN} for a pair that must not be made.
 *
 * The matrix may be rectangular: with more rows than columns some rows stay
 * unassigned, and the other way round. The objective is lexicographic: first
 * as many pairs as possible without a forbidden one, then, among those, the
 * largest total. (So a role is never left empty to raise the total, and a
 * row or column whose every pair is forbidden stays unassigned.)
 *
 * O(n² · m) for n = min(rows, columns), m = max(rows, columns), in typed
 * arrays: a 200 × 200 matrix takes a few milliseconds.
 *
 * @throws ConfigError when rows have different lengths or a value is NaN or +∞.
 *
 * @example
 * ```ts
 * solveAssignment([
 *   [3, 1],
 *   [2, FORBIDDEN],
 *   [4, 0],
 * ]); // { columnOfRow: [1, -1, 0], rowOfColumn: [2, 0], assigned: 2, total: 5 }
 * ```
 */
export function solveAssignment(values: readonly (readonly number[])[]): AssignmentSolution {
  const rows = values.length;
  const columns = rows === 0 ? 0 : (values[0] as readonly number[]).length;
  let best = Number.NEGATIVE_INFINITY;
  let worst = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rows; r++) {
    const row = values[r] as readonly number[];
    if (row.length !== columns) {
      throw new ConfigError(
        `assignment matrix row ${r} has ${row.length} values, row 0 has ${columns}; every row needs one value per column`,
      );
    }
    for (let c = 0; c < columns; c++) {
      const v = row[c] as number;
      if (v === FORBIDDEN) continue;
      if (!Number.isFinite(v)) {
        throw new ConfigError(
          `assignment value [${r}][${c}] is ${v}; use a finite number, or FORBIDDEN (−∞) for a pair that must not be made`,
        );
      }
      if (v > best) best = v;
      if (v < worst) worst = v;
    }
  }
  const columnOfRow = new Array<number>(rows).fill(-1);
  const rowOfColumn = new Array<number>(columns).fill(-1);
  if (rows === 0 || columns === 0 || best === Number.NEGATIVE_INFINITY) {
    return { columnOfRow, rowOfColumn, assigned: 0, total: 0 };
  }

  // The solver minimises cost with n ≤ m, so the smaller side becomes its rows.
  const transpose = rows > columns;
  const n = transpose ? columns : rows;
  const m = transpose ? rows : columns;
  // Costs (best − v) ÷ spread lie in [0, 1] whatever the values' scale. A
  // forbidden pair costs n + 1, more than any n allowed pairs together, so
  // one forbidden pair fewer always wins: that is the lexicographic
  // objective, and forbidden pairs are dropped afterwards. (In the values'
  // own units the margin of 1 was rounded away once n × spread passed 2⁵³.)
  const costOf = scaledCost(best, worst);
  const forbiddenCost = n + 1;
  const cost = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      const v = transpose
        ? (values[j] as readonly number[])[i]
        : (values[i] as readonly number[])[j];
      cost[i * m + j] = v === FORBIDDEN ? forbiddenCost : costOf(v as number);
    }
  }
  const rowOfSolverColumn = minimiseCost(cost, n, m);

  let assigned = 0;
  let total = 0;
  for (let j = 0; j < m; j++) {
    const i = rowOfSolverColumn[j] as number;
    if (i < 0) continue;
    const r = transpose ? j : i;
    const c = transpose ? i : j;
    const v = (values[r] as readonly number[])[c] as number;
    if (v === FORBIDDEN) continue;
    columnOfRow[r] = c;
    rowOfColumn[c] = r;
    assigned++;
    total += v;
  }
  return { columnOfRow, rowOfColumn, assigned, total };
}

/**
 * The cost of a finite value in [0, 1]: 0 for `best`, 1 for `worst`. Halves
 * when the spread overflows (values from −1e308 to 1e308).
 */
function scaledCost(best: number, worst: number): (value: number) => number {
  const spread = best - worst;
  if (spread === 0) return () => 0;
  if (Number.isFinite(spread)) return (value) => (best - value) / spread;
  const halfSpread = best / 2 - worst / 2;
  return (value) => (best / 2 - value / 2) / halfSpread;
}

/**
 * Kuhn–Munkres in its shortest-augmenting-path form, minimising cost with
 * n ≤ m. Potentials `u` (rows) and `v` (columns) keep every reduced cost
 * `cost − u − v` ≥ 0, and 0 on the matching. Returns, for each column, its
 * row or -1.
 *
 * - Start: `u` = each row's minimum, `v` = 0, and each row takes a free
 *   column at its minimum when there is one, so only the rest need a search.
 *   (Column reduction, the other usual start, would make `v` positive on
 *   columns that stay free, which a rectangular problem's dual forbids.)
 * - Each free row is then matched along a shortest path over reduced costs
 *   (Dijkstra: the path alternates a row's edge to a column and that
 *   column's matched edge back to its row), and the potentials move by the
 *   distances so that the path becomes tight. Only the columns the search
 *   finished are updated, not all of them, and the unfinished ones live in a
 *   shrinking list: one pass over it per step.
 */
function minimiseCost(cost: Float64Array, n: number, m: number): Int32Array {
  const u = new Float64Array(n);
  const v = new Float64Array(m);
  const rowOf = new Int32Array(m).fill(-1);
  const columnOf = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const base = i * m;
    let least = Number.POSITIVE_INFINITY;
    for (let j = 0; j < m; j++) least = Math.min(least, cost[base + j] as number);
    u[i] = least;
    for (let j = 0; j < m; j++) {
      if (cost[base + j] === least && rowOf[j] === -1) {
        rowOf[j] = i;
        columnOf[i] = j;
        break;
      }
    }
  }

  const distance = new Float64Array(m);
  const reachedFrom = new Int32Array(m);
  const open = new Int32Array(m);
  const finished = new Int32Array(m);
  for (let start = 0; start < n; start++) {
    if (columnOf[start] !== -1) continue;
    for (let j = 0; j < m; j++) open[j] = j;
    distance.fill(Number.POSITIVE_INFINITY);
    let remaining = m;
    let finishedCount = 0;
    let row = start;
    let rowDistance = 0;
    let sink = -1;
    let sinkDistance = 0;
    while (sink === -1) {
      const base = row * m;
      // Distance through `row` to column j: rowDistance + cost − u[row] − v[j].
      const offset = (u[row] as number) - rowDistance;
      let best = Number.POSITIVE_INFINITY;
      let bestAt = 0;
      for (let k = 0; k < remaining; k++) {
        const j = open[k] as number;
        const through = (cost[base + j] as number) - offset - (v[j] as number);
        if (through < (distance[j] as number)) {
          distance[j] = through;
          reachedFrom[j] = row;
        }
        if ((distance[j] as number) < best) {
          best = distance[j] as number;
          bestAt = k;
        }
      }
      const column = open[bestAt] as number;
      open[bestAt] = open[--remaining] as number;
      if (rowOf[column] === -1) {
        sink = column;
        sinkDistance = best;
      } else {
        finished[finishedCount++] = column;
        row = rowOf[column] as number;
        rowDistance = best;
      }
    }
    u[start] = (u[start] as number) + sinkDistance;
    for (let k = 0; k < finishedCount; k++) {
      const j = finished[k] as number;
      const shift = sinkDistance - (distance[j] as number);
      const i = rowOf[j] as number;
      u[i] = (u[i] as number) + shift;
      v[j] = (v[j] as number) - shift;
    }
    // Flip the path: each row on it takes the column it reached, back to `start`.
    let column = sink;
    for (;;) {
      const i = reachedFrom[column] as number;
      const freed = columnOf[i] as number;
      rowOf[column] = i;
      columnOf[i] = column;
      if (i === start) break;
      column = freed;
    }
  }
  return rowOf;
}
