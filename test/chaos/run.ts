/**
 * `npm run chaos [-- --json] [-- --only NAME[,NAME]] [-- --seed N] [-- --seeds K] [-- --tasks N]`
 *
 * Runs the chaos scenarios one after the other. Each prints its seed and its
 * fault history (what, on which process, when), then its verdict; with
 * `--json`, one line per scenario on stdout. Exit 1 if any scenario is not
 * ok. `--seed N` replays the fault plan a failure printed. `--seeds K` runs
 * each scenario K times (seeds N, N+1, … with `--seed`, random otherwise),
 * the long run of docs/RELIABILITY.md, and ends with one summary line per
 * scenario. `--tasks N` runs the review-swarm scenarios with a workload of N
 * tasks instead of their 150-200: their time budget grows with it, and
 * their fault plan repeats once per default workload, each copy drawn from
 * the next seed (the consensus scenarios have no task workload and ignore
 * it).
 */
import { parseArgs } from "node:util";
import { type ScenarioResult, scenarios } from "./scenarios/index.js";

const { values } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    only: { type: "string" },
    seed: { type: "string" },
    seeds: { type: "string", default: "1" },
    tasks: { type: "string" },
    list: { type: "boolean", default: false },
  },
});

if (values.list) {
  for (const s of scenarios) process.stdout.write(`${s.name.padEnd(18)} ${s.what}\n`);
  process.exit(0);
}

const only = values.only?.split(",").map((s) => s.trim());
const unknown = only?.filter((name) => !scenarios.some((s) => s.name === name)) ?? [];
if (unknown.length > 0) {
  process.stderr.write(
    `no scenario ${unknown.join(", ")}; there are: ${scenarios.map((s) => s.name).join(", ")}\n`,
  );
  process.exit(2);
}
const chosen = scenarios.filter((s) => !only || only.includes(s.name));
const runs = Number(values.seeds);
if (!Number.isSafeInteger(runs) || runs < 1) {
  process.stderr.write(
    `--seeds must be a whole number of runs, 1 or more; got "${values.seeds}"\n`,
  );
  process.exit(2);
}
const tasks = values.tasks === undefined ? undefined : Number(values.tasks);
if (tasks !== undefined && (!Number.isSafeInteger(tasks) || tasks < 1)) {
  process.stderr.write(
    `--tasks must be a whole number of tasks, 1 or more; got "${values.tasks}"\n`,
  );
  process.exit(2);
}
/** Per scenario: the seeds run and the ones that were not ok. */
const tally = new Map<string, { seeds: number[]; failed: number[] }>();
const log = (line: string) => process.stderr.write(`${line}\n`);

/** The one-line record `--json` prints per scenario. */
function jsonLine(r: ScenarioResult) {
  return {
    scenario: r.scenario,
    seed: r.seed,
    faults: r.faults,
    crashes: r.crashes,
    tasks: r.verdict.tasks,
    lost: r.verdict.lost,
    duplicateEffects: r.verdict.duplicateEffects,
    ledgerBalanced: r.verdict.ledgerBalanced,
    auditVerified: r.verdict.auditVerified,
    stuck: r.verdict.stuck,
    ok: r.verdict.ok,
    completed: r.verdict.completed,
    deadLettered: r.verdict.deadLettered,
    untrustedDeadLetters: r.verdict.untrustedDeadLetters,
    durationMs: r.durationMs,
    ...(r.verdict.ok ? {} : { problems: r.verdict.problems }),
  };
}

let failed = 0;
for (const scenario of chosen) {
  const missing = scenario.missing();
  if (missing) {
    log(`${scenario.name}: skipped (${missing})`);
    if (values.json)
      process.stdout.write(`${JSON.stringify({ scenario: scenario.name, skipped: missing })}\n`);
    continue;
  }
  for (let k = 0; k < runs; k++) {
    const seed =
      values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed) + k;
    const record = tally.get(scenario.name) ?? { seeds: [], failed: [] };
    tally.set(scenario.name, record);
    record.seeds.push(seed);
    if (!(await runOnce(scenario, seed))) record.failed.push(seed);
  }
}
if (runs > 1) {
  for (const [name, { seeds, failed: bad }] of tally) {
    log(
      `${name}: ${seeds.length - bad.length} of ${seeds.length} seeds ok${bad.length ? ` (not ok: ${bad.join(", ")})` : ""}`,
    );
  }
}
process.exit(failed > 0 ? 1 : 0);

/** Runs one scenario with one seed, prints its verdict; true when ok. */
async function runOnce(scenario: (typeof scenarios)[number], seed: number): Promise<boolean> {
  log(`${scenario.name} seed=${seed}: ${scenario.what}`);
  log(
    `  plan ${JSON.stringify(scenario.plan(seed))}${tasks === undefined ? "" : " (repeated once per default workload in --tasks)"}`,
  );
  let result: ScenarioResult;
  try {
    result = await scenario.run(seed, log, tasks === undefined ? undefined : { tasks });
  } catch (error) {
    failed++;
    const reason = error instanceof Error ? error.message : String(error);
    log(`${scenario.name} seed=${seed}: ERROR ${reason}`);
    if (values.json)
      process.stdout.write(
        `${JSON.stringify({ scenario: scenario.name, seed, ok: false, error: reason })}\n`,
      );
    return false;
  }
  if (!result.verdict.ok) failed++;
  const v = result.verdict;
  log(
    `${scenario.name} seed=${seed}: ${v.ok ? "ok" : "NOT OK"} in ${(result.durationMs / 1000).toFixed(1)} s — tasks ${v.tasks}, completed ${v.completed}, dead-lettered ${v.deadLettered} (${v.untrustedDeadLetters} dead letters for an unknown signer), lost ${v.lost}, duplicate effects ${v.duplicateEffects}, ledger ${v.ledgerBalanced ? "balanced" : "UNBALANCED"}, audit ${v.auditVerified ? "verified" : "BROKEN"}${v.stuck ? ", STUCK" : ""}`,
  );
  for (const problem of v.problems) log(`  problem: ${problem}`);
  if (!v.ok && result.tail) log(`  producer stderr:\n${result.tail}`);
  if (!v.ok) log(`  replay: npm run chaos -- --only ${scenario.name} --seed ${seed}`);
  if (values.json) process.stdout.write(`${JSON.stringify(jsonLine(result))}\n`);
  return v.ok;
}
