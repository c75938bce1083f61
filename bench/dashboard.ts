import { setTimeout as sleep } from "node:timers/promises";
import { parseSwarmConfig } from "../src/config/load.js";
import { serveDashboard } from "../src/dashboard/server.js";
import { generateAgentKeyPair } from "../src/identity/keys.js";
import { createSwarm } from "../src/runtime/swarm.js";
import { openSqliteStore } from "../src/store/sqlite-store.js";
import { createMemoryTransport } from "../src/transport/memory/memory-transport.js";
import { type Bench, percentile, round3 } from "./harness.js";

const AGENTS = 10_000;
const EVENTS_PER_SECOND = 1_000;
const LOAD_MS = 5_000;
const TOKEN = "bench-token-0123456789";

/** Latencies (ms) of `path` sampled every `everyMs` for `forMs`. */
async function sample(
  url: string,
  path: string,
  forMs: number,
  everyMs: number,
): Promise<number[]> {
  const out: number[] = [];
  const end = Date.now() + forMs;
  while (Date.now() < end) {
    const start = performance.now();
    const response = await fetch(`${url}${path}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    await response.arrayBuffer();
    out.push(performance.now() - start);
    await sleep(everyMs);
  }
  return out.sort((a, b) => a - b);
}

/**
 * `dashboard.responsiveness`: the dashboard of one process hosting 10,000
 * agents while 1,000 events/s flow on the bus: how long `/api/agents` (all
 * 10,000 rows) and `/api/overview` take, against the same requests on the
 * idle swarm, and how many updates per second an open page receives (the
 * server aggregates; the page must not receive the event rate).
 */
export const dashboardResponsiveness: Bench = async () => {
  const keys = Array.from({ length: AGENTS }, () => generateAgentKeyPair());
  const config = parseSwarmConfig(
    `swarm: scale\nroles: { worker: { tasks: [job] } }\nagents:\n  - { id: a0, role: worker }\n`,
    { baseDir: "/tmp" },
  );
  const swarm = createSwarm({
    name: "scale",
    transport: createMemoryTransport(),
    store: openSqliteStore({ path: ":memory:" }),
    keys: (id) => keys[Number(id.slice(1))] ?? generateAgentKeyPair(),
    roles: { worker: { tasks: ["job"] } },
    defaults: { heartbeatMs: 1000 },
  });
  for (let i = 0; i < AGENTS; i++)
    swarm.agent({ id: `a${i}`, role: "worker" }).handle("job", () => undefined);
  await swarm.start();
  await sleep(1500);
  const dashboard = await serveDashboard(swarm, config, { token: TOKEN });
  // A page's live stream: count what it receives.
  let updates = 0;
  const controller = new AbortController();
  const stream = await fetch(`${dashboard.url}/api/stream?token=${TOKEN}`, {
    signal: controller.signal,
  });
  const reading = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream.body as AsyncIterable<Uint8Array>) {
        updates += (decoder.decode(chunk).match(/^event: /gm) ?? []).length;
      }
    } catch {
      // aborted
    }
  })();
  const idleAgents = await sample(dashboard.url, "/api/agents", 2000, 100);
  const idleOverview = await sample(dashboard.url, "/api/overview", 1000, 50);
  // The load: 1,000 events/s on the bus, caught up on every 10 ms tick.
  let published = 0;
  const loadStart = Date.now();
  const load = setInterval(() => {
    const due = Math.floor(((Date.now() - loadStart) / 1000) * EVENTS_PER_SECOND);
    while (published < due) swarm.publish("bench.tick", { n: published++ }, { as: "a0" });
  }, 10);
  const updatesBefore = updates;
  const [loadedAgents, loadedOverview] = await Promise.all([
    sample(dashboard.url, "/api/agents", LOAD_MS, 100),
    sample(dashboard.url, "/api/overview", LOAD_MS, 50),
  ]);
  clearInterval(load);
  const seconds = (Date.now() - loadStart) / 1000;
  const updatesPerSecond = (updates - updatesBefore) / seconds;
  controller.abort();
  await reading;
  await dashboard.close();
  await swarm.close();
  const p99 = percentile(loadedAgents, 99);
  const idleP99 = percentile(idleAgents, 99);
  const met = p99 <= 1000 && percentile(loadedOverview, 99) <= 250 && updatesPerSecond <= 6;
  return {
    name: "dashboard.responsiveness",
    value: round3(p99),
    unit: "ms p99 GET /api/agents under load",
    baseline: "the same request, idle swarm",
    baselineValue: round3(idleP99),
    goal: "10,000 agents and 1,000 events/s: /api/agents p99 ≤ 1 s, /api/overview p99 ≤ 250 ms, ≤ 6 page updates/s",
    met,
    notes: `${AGENTS} agents, ${Math.round(published / seconds)} events/s published; /api/agents p50 ${round3(percentile(loadedAgents, 50))} ms (idle ${round3(percentile(idleAgents, 50))}); /api/overview p50 ${round3(percentile(loadedOverview, 50))} ms, p99 ${round3(percentile(loadedOverview, 99))} ms (idle p99 ${round3(percentile(idleOverview, 99))}); the page received ${round3(updatesPerSecond)} updates/s`,
  };
};
