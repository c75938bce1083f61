/**
 * `observability.overhead` and `observability.overhead.sdk`: what traces
 * cost on the whole runtime path per task (the `runtime.memory.tasks`
 * workload: a signed task sent, decoded, verified, handled, committed,
 * acked), against the same runtime with its tracing switched off, in the
 * same run. Each task is a `send` span where it is built and a `process`
 * span where it is handled.
 *
 * - `observability.overhead`: the `@opentelemetry/api` calls with no SDK
 *   registered (what every user pays).
 * - `observability.overhead.sdk`: an SDK tracer provider with a batch span
 *   processor and an exporter that drops the spans (what recording costs,
 *   without the network). It registers a global provider for the rest of
 *   the process, so it runs after every other benchmark.
 *
 * Runs alternate (off, on, off, on…) and the best of each side counts, so
 * that drift in the machine's speed hits both.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { trace } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-base";
import { generateAgentKeyPair } from "../src/identity/keys.js";
import { createSwarm } from "../src/runtime/swarm.js";
import { setTracingEnabled } from "../src/runtime/tracing.js";
import { openSqliteStore } from "../src/store/sqlite-store.js";
import { createMemoryTransport } from "../src/transport/memory/memory-transport.js";
import { type Bench, round3, timed } from "./harness.js";

const TASKS = 10_000;
const ROUNDS = 4;
const GOAL = 0.9;

/** Tasks per second through the runtime (4 agents, 64 in flight each). */
export async function tasksPerSecond(n: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "conclave-bench-otel-"));
  try {
    const swarm = createSwarm({
      name: "bench",
      transport: createMemoryTransport({ journalPath: join(dir, "journal.db") }),
      store: openSqliteStore({ path: join(dir, "store.db") }),
      keys: () => generateAgentKeyPair(),
      roles: { lead: {}, worker: { tasks: ["job"] } },
    });
    let handled = 0;
    let finished: () => void = () => {};
    const all = new Promise<void>((resolve) => {
      finished = resolve;
    });
    swarm.agent({ id: "lead", role: "lead" }).onStart(async (ctx) => {
      await ctx.once("plan", (plan) => {
        for (let i = 0; i < n; i++) plan.submit("worker", "job", { i });
      });
    });
    for (let w = 0; w < 4; w++) {
      swarm.agent({ id: `w${w}`, role: "worker", concurrency: 64 }).handle("job", (ctx) => {
        ctx.effect("done", ctx.task.id);
        if (++handled === n) finished();
      });
    }
    const ms = await timed(async () => {
      await swarm.start();
      await all;
    });
    await swarm.drain();
    return (n / ms) * 1000;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Best rates with tracing off and on, alternating; the last run of each side warms nothing. */
async function alternate(): Promise<{ off: number; on: number }> {
  // One small run first, so neither side pays the JIT's warm-up.
  setTracingEnabled(false);
  await tasksPerSecond(2_000);
  let off = 0;
  let on = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      setTracingEnabled(false);
      off = Math.max(off, await tasksPerSecond(TASKS));
      setTracingEnabled(true);
      on = Math.max(on, await tasksPerSecond(TASKS));
    }
  } finally {
    setTracingEnabled(true);
  }
  return { off: Math.round(off), on: Math.round(on) };
}

/** An exporter that drops what it is given: recording's cost without the network. */
class DroppingExporter implements SpanExporter {
  spans = 0;
  export(spans: ReadableSpan[], done: (result: { code: 0 }) => void): void {
    this.spans += spans.length;
    done({ code: 0 });
  }
  async shutdown(): Promise<void> {}
}

const apiOverhead: Bench = async () => {
  const { off, on } = await alternate();
  const ratio = round3(on / off);
  return {
    name: "observability.overhead",
    value: on,
    unit: "tasks/s",
    baseline: "the same runtime with tracing switched off",
    baselineValue: off,
    goal: `ratio ≥ ${GOAL}`,
    met: ratio >= GOAL,
    notes: `@opentelemetry/api with no SDK registered; ${TASKS} signed tasks per run through 4 agents, best of ${ROUNDS} alternating runs; load average ${loadavg()[0]?.toFixed(1)}`,
  };
};

const sdkOverhead: Bench = async () => {
  const exporter = new DroppingExporter();
  const provider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  trace.setGlobalTracerProvider(provider);
  const { off, on } = await alternate();
  await provider.forceFlush();
  const ratio = round3(on / off);
  return {
    name: "observability.overhead.sdk",
    value: on,
    unit: "tasks/s",
    baseline: "the same runtime with tracing switched off",
    baselineValue: off,
    goal: `ratio ≥ ${GOAL}`,
    met: ratio >= GOAL,
    notes: `an SDK tracer provider (batch span processor, an exporter that drops spans: ${exporter.spans} spans recorded); ${TASKS} signed tasks per run through 4 agents, best of ${ROUNDS} alternating runs; load average ${loadavg()[0]?.toFixed(1)}`,
  };
};

/** Registered last in bench/run.ts: the SDK bench leaves a provider registered. */
export const observabilityBenches: Record<string, Bench> = {
  "observability.overhead": apiOverhead,
  "observability.overhead.sdk": sdkOverhead,
};
