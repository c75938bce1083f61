/**
 * One process of the `overload` chaos scenario (scenarios/overload.ts): a
 * swarm node on a real broker and a shared SQLite store whose `worker` role
 * has a bounded queue (`maxPending`), either
 *
 * - `producer`: agent `producer` submits `job` tasks to the workers at
 *   `ratePerSecond` from `loops` concurrent loops for `durationMs`; a submit
 *   that finds the queue full waits (backs off) until the bus takes it, so
 *   each loop slows down; or
 * - `consumer`: agents that each handle one `job` at a time, taking `workMs`
 *   each, recording an effect keyed by the task and finishing its root.
 *
 * Reports on stdout, one JSON object per line: `ready`; every second
 * `stats` (`submitted`, `queueFull` events, `backedOff` submits that waited
 * more than 20 ms, `slowestSubmitMs`, `completed`); `produced` once a
 * producer stopped submitting; `fatal`. SIGTERM drains and exits 0.
 *
 * Usage: `node --import tsx overload-node.ts '<OverloadNodeSpec as JSON>'`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { toError } from "../../src/errors/index.js";
import { createSwarm } from "../../src/runtime/swarm.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { createNatsTransport } from "../../src/transport/nats/index.js";
import { agentKeys } from "../integration/fixtures/keys.js";

export interface OverloadNodeSpec {
  readonly swarm: string;
  readonly servers: readonly string[];
  /** A SQLite file shared by every process. */
  readonly storePath: string;
  readonly mode: "producer" | "consumer";
  /** The worker queue's limit. */
  readonly maxPending: number;
  /** Consumer: the agents hosted here. */
  readonly agents?: readonly string[];
  readonly workMs?: number;
  /** Producer: the target rate of submits (the sum over its loops). */
  readonly ratePerSecond?: number;
  readonly loops?: number;
  readonly durationMs?: number;
}

const spec = JSON.parse(process.argv[2] ?? "{}") as OverloadNodeSpec;
const out = (line: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ ts: Date.now(), ...line })}\n`);
const counts = {
  submitted: 0,
  queueFull: 0,
  backedOff: 0,
  slowestSubmitMs: 0,
  completed: 0,
  errors: 0,
};

async function main(): Promise<void> {
  const transport = await createNatsTransport({
    servers: spec.servers,
    name: `${spec.swarm}-${spec.mode}-${process.pid}`,
    storage: "file",
    reconnectTimeWaitMs: 250,
    onError: (error) => out({ type: "transport.error", error: error.message }),
  });
  const store = openSqliteStore({ path: spec.storePath });
  const swarm = createSwarm({
    name: spec.swarm,
    transport,
    store,
    keys: (id) => agentKeys(spec.swarm, id),
    roles: {
      worker: { tasks: ["job"], maxPending: spec.maxPending },
      producer: {},
    },
    defaults: { ackWaitMs: 10_000, maxDeliver: 5, heartbeatMs: 500 },
  });
  swarm.on((event) => {
    if (event.type === "queue.full") counts.queueFull++;
    else if (event.type === "task.completed") counts.completed++;
    else if (event.type === "error") {
      counts.errors++;
      if (counts.errors <= 20) out({ type: "error", error: event.error });
    }
  });
  const workMs = spec.workMs ?? 100;
  if (spec.mode === "producer") {
    swarm.agent({ id: "producer", role: "producer" });
  } else {
    for (const id of spec.agents ?? []) {
      swarm.agent({ id, role: "worker", concurrency: 1 }).handle("job", async (ctx) => {
        await sleep(workMs, undefined, { signal: ctx.signal });
        ctx.effect("work.done", ctx.task.id, { by: ctx.agentId });
        ctx.finish();
      });
    }
  }
  const stats = setInterval(() => out({ type: "stats", ...counts }), 1_000);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      clearInterval(stats);
      await swarm.drain();
      out({ type: "stats", final: true, ...counts });
      process.exit(0);
    })().catch((error: unknown) => {
      out({ type: "fatal", error: toError(error).stack ?? String(error) });
      process.exit(1);
    });
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);

  await swarm.start();
  out({ type: "ready", pid: process.pid });
  if (spec.mode !== "producer") return;

  const loops = spec.loops ?? 8;
  const everyMs = (1000 * loops) / (spec.ratePerSecond ?? 100);
  const endsAt = Date.now() + (spec.durationMs ?? 20_000);
  let n = 0;
  const loop = async () => {
    let next = Date.now();
    while (!stopping && Date.now() < endsAt) {
      const began = Date.now();
      await swarm.submit("worker", "job", { n: n++ }, { as: "producer" });
      const took = Date.now() - began;
      counts.submitted++;
      if (took > 20) counts.backedOff++;
      counts.slowestSubmitMs = Math.max(counts.slowestSubmitMs, took);
      // Paced, without catching up after a wait: a back-off is not made up for.
      next = Math.max(next + everyMs, Date.now());
      await sleep(next - Date.now());
    }
  };
  await Promise.all(Array.from({ length: loops }, loop));
  out({ type: "produced", ...counts });
}

process.on("uncaughtException", (error) => {
  out({ type: "fatal", error: error.stack ?? error.message });
  process.exit(1);
});
process.on("unhandledRejection", (error) => {
  out({ type: "fatal", error: toError(error).stack ?? String(error) });
  process.exit(1);
});

main().catch((error: unknown) => {
  out({ type: "fatal", error: toError(error).stack ?? String(error) });
  process.exit(1);
});
