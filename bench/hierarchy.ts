/**
 * Hierarchy benchmarks.
 *
 * - `hierarchy.assign.200`: one optimal assignment (Hungarian algorithm,
 *   `solveAssignment`) of 200 agents to 200 role slots over a suitability
 *   matrix built with the default suitability function from random agent
 *   profiles (capabilities, reputation, load, cost) and roles (required and
 *   preferred capabilities; about 10 % of the pairs forbidden). A fresh
 *   matrix per run; p50 over the runs is the value, p99 is in the notes.
 *   Goal: p50 ≤ 20 ms. Baseline in the same run: the greedy assignment a
 *   user would write instead (sort every allowed pair by suitability, take
 *   each pair whose agent and slot are both free), on the same matrices; the
 *   notes say how much total suitability greedy leaves on the table, and the
 *   time of `assignRoles` end to end (matrix building included).
 */
import { seededRandom } from "../src/core/random.js";
import {
  type AgentProfile,
  assignRoles,
  FORBIDDEN,
  type RoleRequirement,
  solveAssignment,
  suitability,
} from "../src/hierarchy/index.js";
import { type Bench, type BenchResult, percentile, round3, timed } from "./harness.js";

type Result = Omit<BenchResult, "machine" | "ratio">;

const SIZE = 200;
const WARMUP = 5;
const RUNS = 40;
const GOAL_MS = 20;
const SKILLS = [
  "code_review",
  "deploy",
  "write",
  "test",
  "security",
  "typescript",
  "python",
  "sql",
];

function team(seed: number): { agents: AgentProfile[]; roles: RoleRequirement[] } {
  const random = seededRandom(seed);
  const pick = (p: number) => SKILLS.filter(() => random.next() < p);
  const agents = Array.from({ length: SIZE }, (_, i) => ({
    id: `agent-${i}`,
    capabilities: [SKILLS[i % SKILLS.length] as string, ...pick(0.5)],
    reputation: random.next(),
    load: random.next(),
    cost: random.int(500),
  }));
  const roles = Array.from({ length: SIZE / 4 }, (_, i) => ({
    name: `role-${i}`,
    requires: random.next() < 0.3 ? [SKILLS[random.int(SKILLS.length)] as string] : [],
    prefers: pick(0.3),
    slots: 4,
  }));
  return { agents, roles };
}

function matrixOf({ agents, roles }: ReturnType<typeof team>): number[][] {
  const slots = roles.flatMap((role) => Array.from({ length: role.slots ?? 1 }, () => role));
  return agents.map((agent) => slots.map((role) => suitability(agent, role)));
}

/** Best remaining pair first: O(n² log n), not optimal. */
function greedy(values: readonly (readonly number[])[]): number {
  const pairs: { r: number; c: number; v: number }[] = [];
  values.forEach((row, r) => {
    row.forEach((v, c) => {
      if (v !== FORBIDDEN) pairs.push({ r, c, v });
    });
  });
  pairs.sort((a, b) => b.v - a.v);
  const rowTaken = new Uint8Array(values.length);
  const columnTaken = new Uint8Array(values[0]?.length ?? 0);
  let total = 0;
  for (const { r, c, v } of pairs) {
    if (rowTaken[r] || columnTaken[c]) continue;
    rowTaken[r] = 1;
    columnTaken[c] = 1;
    total += v;
  }
  return total;
}

export const assign200: Bench = async (): Promise<Result> => {
  const teams = Array.from({ length: WARMUP + RUNS }, (_, i) => team(1_000 + i));
  const matrices = teams.map(matrixOf);
  const forbidden = matrices.flat(2).filter((v) => v === FORBIDDEN).length / matrices.length;
  const hungarian: number[] = [];
  const baseline: number[] = [];
  const endToEnd: number[] = [];
  let optimalTotal = 0;
  let greedyTotal = 0;
  for (let i = 0; i < matrices.length; i++) {
    const values = matrices[i] as number[][];
    let solved = 0;
    let guessed = 0;
    const ms = await timed(() => {
      solved = solveAssignment(values).total;
    });
    const greedyMs = await timed(() => {
      guessed = greedy(values);
    });
    const fullMs = await timed(() => {
      const t = teams[i] as ReturnType<typeof team>;
      assignRoles(t.agents, t.roles);
    });
    if (guessed > solved + 1e-9) throw new Error("greedy beat the optimum: the solver is wrong");
    if (i < WARMUP) continue;
    hungarian.push(ms);
    baseline.push(greedyMs);
    endToEnd.push(fullMs);
    optimalTotal += solved;
    greedyTotal += guessed;
  }
  for (const list of [hungarian, baseline, endToEnd]) list.sort((a, b) => a - b);
  const p50 = percentile(hungarian, 50);
  return {
    name: "hierarchy.assign.200",
    value: round3(p50),
    unit: "ms",
    baseline: "greedy assignment (sort allowed pairs, take best free pair) on the same matrices",
    baselineValue: round3(percentile(baseline, 50)),
    goal: `p50 ≤ ${GOAL_MS} ms`,
    met: p50 <= GOAL_MS,
    notes: `p99 ${round3(percentile(hungarian, 99))} ms over ${RUNS} fresh ${SIZE} × ${SIZE} matrices (${WARMUP} warm-up), ${Math.round((forbidden / (SIZE * SIZE)) * 100)} % of pairs forbidden; greedy reaches ${round3((greedyTotal / optimalTotal) * 100)} % of the optimal total suitability; assignRoles end to end (suitability matrix + solve + result) p50 ${round3(percentile(endToEnd, 50))} ms`,
  };
};

/** The hierarchy benchmarks, by name. */
export const hierarchyBenches: Record<string, Bench> = {
  "hierarchy.assign.200": assign200,
};
