import { setTimeout as sleep } from "node:timers/promises";
import { generateAgentKeyPair } from "../src/identity/keys.js";
import { createSwarm } from "../src/runtime/swarm.js";
import { openSqliteStore } from "../src/store/sqlite-store.js";
import { createMemoryTransport } from "../src/transport/memory/memory-transport.js";
import type { Bench } from "./harness.js";

function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run the benchmarks with node --expose-gc (npm run bench does)");
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/**
 * `runtime.agents.memory`: heap per idle agent with 10,000 agents registered
 * in one process: each with its key pair, card, handler, consumer on its
 * role queue, request subscription, and its entry in the registry view.
 */
export const agentsMemory: Bench = async () => {
  const n = 10_000;
  const keys = Array.from({ length: n }, () => generateAgentKeyPair());
  const before = heapAfterGc();
  const swarm = createSwarm({
    name: "mem",
    transport: createMemoryTransport(),
    store: openSqliteStore({ path: ":memory:" }),
    keys: (id) => keys[Number(id.slice(1))] ?? generateAgentKeyPair(),
    roles: { worker: { tasks: ["job"] } },
    defaults: { heartbeatMs: 200 },
  });
  for (let i = 0; i < n; i++) {
    swarm.agent({ id: `a${i}`, role: "worker", tags: ["bench"] }).handle("job", () => undefined);
  }
  await swarm.start();
  await sleep(500);
  if (swarm.registry.size !== n)
    throw new Error(`registry holds ${swarm.registry.size} of ${n} agents`);
  const after = heapAfterGc();
  await swarm.close();
  const perAgent = (after - before) / n;
  return {
    name: "runtime.agents.memory",
    value: Math.round(perAgent),
    unit: "bytes/agent",
    baseline: null,
    baselineValue: null,
    goal: "≤ 20 KB per agent",
    met: perAgent <= 20 * 1024,
    notes: `${n} idle agents with handlers, consumers, request subscriptions and registry entries (key pairs made before the first reading)`,
  };
};
