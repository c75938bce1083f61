/**
 * `npm run bench [-- --json] [-- --only name,name]`: runs the benchmarks and
 * prints one result per line. With --json each line is
 * {"name","value","unit","baseline","baselineValue","ratio","machine",...}.
 */
import { agentsMemory } from "./agents-memory.js";
import { brokerBenches } from "./bus-brokers.js";
import { durable, durableBacklog, fanout, runtimeTasks } from "./bus-memory.js";
import { consensusBenches } from "./consensus.js";
import { dashboardResponsiveness } from "./dashboard.js";
import { durabilityBenches } from "./durability.js";
import { ensembleBenches } from "./ensemble.js";
import { type Bench, type BenchResult, machine } from "./harness.js";
import { hierarchyBenches } from "./hierarchy.js";
import { ledgerBenches } from "./ledger.js";
import { llmBenches } from "./llm.js";
import { marketAuctionBenches } from "./market.js";
import { contractNetTasks } from "./market-contractnet.js";
import { observabilityBenches } from "./observability.js";
import { runtimeProcessBenches } from "./runtime-processes.js";
import { ed25519Bench } from "./wire-ed25519.js";

const benches: Record<string, Bench> = {
  "bus.memory.fanout": fanout,
  "bus.memory.durable": durable,
  "bus.memory.durable.backlog": durableBacklog,
  "runtime.memory.tasks": runtimeTasks,
  "runtime.agents.memory": agentsMemory,
  "dashboard.responsiveness": dashboardResponsiveness,
  ...ledgerBenches,
  ...brokerBenches,
  ...runtimeProcessBenches,
  ...durabilityBenches,
  ...consensusBenches,
  ...marketAuctionBenches,
  "market.contractnet.tasks": contractNetTasks,
  ...hierarchyBenches,
  ...ensembleBenches,
  "wire.ed25519": ed25519Bench,
  ...llmBenches,
  // Last: the SDK variant leaves a tracer provider registered in the process.
  ...observabilityBenches,
};

const args = process.argv.slice(2);
const json = args.includes("--json");
const onlyArg = args.find((a) => a.startsWith("--only"));
const only = onlyArg
  ? (onlyArg.includes("=") ? onlyArg.split("=")[1] : args[args.indexOf(onlyArg) + 1])?.split(",")
  : undefined;

const unknown = only?.filter((name) => !(name in benches)) ?? [];
if (only !== undefined && (only.length === 0 || unknown.length > 0)) {
  process.stderr.write(
    `bench: ${only.length === 0 ? "--only needs names" : `no benchmark named ${unknown.join(", ")}`}; the names are:\n  ${Object.keys(benches).join("\n  ")}\n`,
  );
  process.exit(2);
}

const host = machine();
if (!json) process.stdout.write(`machine: ${host}\n`);
let missed = 0;
for (const [name, bench] of Object.entries(benches)) {
  if (only && !only.includes(name)) continue;
  const r = await bench();
  const ratio =
    r.baselineValue && r.baselineValue > 0
      ? Math.round((r.value / r.baselineValue) * 1000) / 1000
      : null;
  const result: BenchResult = { ...r, ratio, machine: host };
  if (r.met === false) missed++;
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const vs = r.baseline
      ? ` (baseline ${r.baselineValue} ${r.unit}: ${r.baseline}; ratio ${ratio})`
      : "";
    const goal = r.goal ? ` goal ${r.goal}: ${r.met ? "met" : "MISSED"}` : "";
    process.stdout.write(`${name}: ${r.value} ${r.unit}${vs}${goal}\n`);
  }
}
if (missed > 0 && !json) process.stdout.write(`${missed} goal(s) missed\n`);
