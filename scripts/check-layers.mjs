#!/usr/bin/env node
// Enforces the layering of shared/DESIGN.md: each folder under src/ may import
// only from the folders listed for it (dependencies point downwards). madge
// catches cycles; this catches a lower layer reaching up.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";

/** Everything the runtime may build on: the ports, the protocols and the pure layers. */
const belowRuntime = [
  "errors",
  "core",
  "config",
  // The ledger's rules are pure and sit below the store, which enforces them.
  "ledger",
  "wire",
  "identity",
  "transport",
  "store",
  "delivery",
  "registry",
  "routing",
  "consensus",
  "market",
  "ensemble",
  "hierarchy",
  "llm",
];

const below = {
  errors: [],
  core: ["errors"],
  config: ["errors"],
  ledger: ["errors", "core"],
  wire: ["errors", "core"],
  identity: ["errors", "core", "wire"],
  transport: ["errors", "core", "wire"],
  store: ["errors", "core", "ledger"],
  sim: ["errors", "core", "wire"],
  delivery: ["errors", "core", "wire", "transport"],
  consensus: ["errors", "core", "wire", "identity"],
  market: ["errors", "core", "wire", "identity", "ledger"],
  registry: ["errors", "core", "wire", "identity"],
  routing: ["errors", "core", "registry"],
  // Pure team-shape logic (combination rules, role assignment, autoscaling
  // policy): reputation from the market, nothing with IO.
  ensemble: ["errors", "core", "market"],
  hierarchy: ["errors", "core", "market"],
  // The LLM loop sits below the runtime, which offers it as ctx.llm and
  // implements its ports; delivery lends it the backoff curve.
  llm: ["errors", "core", "config", "wire", "ledger", "delivery"],
  runtime: belowRuntime,
  // The user surfaces sit on the runtime and may use everything under it.
  testkit: [...belowRuntime, "runtime", "sim"],
  // Outside callers (A2A, MCP) meet the swarm through the runtime's public API.
  interop: [...belowRuntime, "runtime"],
  // The dashboard reads a running node and its store.
  dashboard: [...belowRuntime, "runtime"],
  cli: [...belowRuntime, "runtime", "interop", "dashboard"],
};

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith(".ts") ? [path] : [];
  });
}

const problems = [];
for (const file of files("src")) {
  const parts = relative("src", file).split(sep);
  if (parts.length < 2) continue; // src/index.ts may import anything
  const layer = parts[0];
  const allowed = below[layer];
  if (!allowed) {
    problems.push(
      `${file}: folder "${layer}" has no place in the layer list of scripts/check-layers.mjs`,
    );
    continue;
  }
  const source = readFileSync(file, "utf8");
  for (const match of source.matchAll(/from\s+"(\.\.?\/[^"]+)"/g)) {
    const target = relative("src", join(file, "..", match[1])).split(sep)[0];
    if (target !== layer && !allowed.includes(target)) {
      problems.push(`${file}: imports ${match[1]} — "${layer}" may not depend on "${target}"`);
    }
  }
}
if (problems.length > 0) {
  console.error(`layer check failed:\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log("layer check: every import points down");
