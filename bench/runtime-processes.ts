/**
 * `runtime.nats.tasks.processes`: the workload of `runtime.nats.tasks` over
 * two OS processes, the shape issue 11 names ("≥ 10,000 tasks/s with 2
 * processes"). The bench process hosts the lead, which plans the tasks in one
 * `once()` (signed, committed to the outbox, published); a second process
 * (`test/integration/fixtures/swarm-node.ts`) hosts the 4 worker agents,
 * concurrency 64 each, which verify, handle (an effect and `ctx.finish()`),
 * commit and ack. Both use one SQLite store file, as the processes of
 * `conclave demo --processes` do, and agent keys derived from their names.
 * Timed from the lead's `swarm.start()` until the workers' process reports
 * that every task completed there.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSwarm } from "../src/runtime/swarm.js";
import { openSqliteStore } from "../src/store/sqlite-store.js";
import { createNatsTransport, deleteNatsQueue } from "../src/transport/nats/index.js";
import { agentKeys } from "../test/integration/fixtures/keys.js";
import { startNode } from "../test/integration/fixtures/processes.js";
import { fmt, guarded, interleaved, load, NATS_URL, rate, rid } from "./bus-brokers.js";
import { type Bench, timed } from "./harness.js";

const TASKS = 5_000;
const RUNS = 3;
const WORKERS = 4;

export async function runAcrossProcesses(n: number): Promise<number> {
  const name = `bench-${rid()}`;
  const dir = mkdtempSync(join(tmpdir(), "conclave-bench-"));
  const store = `sqlite:${join(dir, "store.db")}`;
  const roles = { lead: {}, worker: { tasks: ["job"] } };
  const workers = await startNode(
    {
      swarm: name,
      transport: { kind: "nats", servers: [NATS_URL] },
      store,
      roles,
      agents: Array.from({ length: WORKERS }, (_, w) => ({
        id: `w${w}`,
        role: "worker",
        concurrency: 64,
      })),
      quiet: true,
      announceCompleted: n,
    },
    "workers",
  );
  const transport = await createNatsTransport({ servers: NATS_URL, connectTimeoutMs: 5_000 });
  const swarm = createSwarm({
    name,
    transport,
    store: openSqliteStore({ path: join(dir, "store.db") }),
    keys: (id) => agentKeys(name, id),
    roles,
  });
  swarm.agent({ id: "lead", role: "lead" }).onStart(async (ctx) => {
    await ctx.once("plan", (plan) => {
      for (let i = 0; i < n; i++) plan.submit("worker", "job", { i, file: `src/m${i % 97}.ts` });
    });
  });
  try {
    const ms = await timed(async () => {
      await swarm.start();
      await workers.waitFor((line) => line.type === "completed.count", 120_000, "every task");
    });
    return rate(n, ms);
  } finally {
    await swarm.close().catch(() => undefined);
    await workers.drain().catch(() => workers.kill());
    const admin = await createNatsTransport({ servers: NATS_URL, connectTimeoutMs: 5_000 });
    for (const q of [`${name}-task-lead`, `${name}-task-worker`, `${name}-dlq`]) {
      await deleteNatsQueue(admin, q).catch(() => false);
    }
    await admin.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const runtimeNatsProcesses: Bench = () => {
  const shape = {
    name: "runtime.nats.tasks.processes",
    unit: "tasks/s",
    baseline: null,
  } as const;
  return guarded(shape, ["nats"], async () => {
    await runAcrossProcesses(500); // warm-up: JIT, broker, SQLite
    const [value] = (await interleaved(RUNS, [() => runAcrossProcesses(TASKS)])) as [number];
    return {
      ...shape,
      value,
      baselineValue: null,
      notes:
        `${fmt(TASKS)} signed tasks per run (best of ${RUNS}, fresh swarm, queues and SQLite store each run) over JetStream and 2 processes: ` +
        `this one plans them in one once() (Ed25519 sign + outbox commit, enqueue); the other hosts ${WORKERS} worker agents (concurrency 64 each: ` +
        `decode + schema, verify on the worker thread, handler with an effect and ctx.finish(), store commit, ack); one SQLite file shared. ` +
        `Timed from swarm.start() until the workers' process counted every task completed. ${load()}`,
    };
  });
};

export const runtimeProcessBenches: Record<string, Bench> = {
  "runtime.nats.tasks.processes": runtimeNatsProcesses,
};
