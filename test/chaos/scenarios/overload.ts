/**
 * Overload (issue 17): a producer ten times faster than its consumers for a
 * while, on a private nats-server, with the workers' queue bounded
 * (`maxPending`). Processes (test/chaos/overload-node.ts), one shared SQLite
 * store:
 *
 * - `producer`: submits `job` tasks at 10 × the consumers' capacity;
 * - `consumers-a`, `consumers-b`: two workers each, one task at a time,
 *   `workMs` per task.
 *
 * What must hold: the queue reaches its limit and the producer is told
 * (`queue.full`) and backs off (its submits wait); the resident memory of
 * every process stays bounded — sampled from /proc/<pid>/status (VmRSS)
 * every second, its maximum over the second half of the production no more
 * than 1.3 × its maximum over the first half (a plateau, not a climb); once
 * the producer stops, the backlog drains (the queue's limit at the
 * consumers' pace, plus slack); nothing lost, no effect applied twice.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { queueNames } from "../../../src/runtime/subjects.js";
import { workloadProgress } from "../../../src/runtime/workload.js";
import { openSqliteStore } from "../../../src/store/sqlite-store.js";
import { natsServerAvailable, startNatsServer } from "../../../src/testkit/brokers/nats-server.js";
import { createNatsTransport } from "../../../src/transport/nats/index.js";
import { randomSwarmName } from "../../integration/fixtures/processes.js";
import type { OverloadNodeSpec } from "../overload-node.js";
import type { Scenario, ScenarioResult } from "./index.js";

const script = fileURLToPath(new URL("../overload-node.ts", import.meta.url));
const tsx = import.meta.resolve("tsx");

export interface OverloadOptions {
  /** How long the producer submits. */
  readonly durationMs: number;
  readonly maxPending?: number;
  readonly workMs?: number;
  /** The producer's speed over the consumers' capacity. */
  readonly speedup?: number;
}

/** One process's memory over the run, in MiB. */
export interface MemoryReport {
  readonly process: string;
  readonly maxMiB: number;
  readonly firstHalfMaxMiB: number;
  readonly secondHalfMaxMiB: number;
  readonly endMiB: number;
}

export interface OverloadResult extends ScenarioResult {
  readonly memory: readonly MemoryReport[];
  readonly submitted: number;
  readonly attemptedRate: number;
  readonly acceptedRate: number;
  readonly queueFull: number;
  readonly backedOff: number;
  readonly slowestSubmitMs: number;
  readonly maxDepth: number;
  readonly drainMs: number;
}

interface Child {
  readonly label: string;
  readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[];
  stderr: string;
}

function spawnNode(label: string, spec: OverloadNodeSpec): Child {
  const child = spawn(process.execPath, ["--import", tsx, script, JSON.stringify(spec)], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  const node: Child = { label, child, lines: [], stderr: "" };
  child.stderr?.on("data", (d: Buffer) => {
    node.stderr = (node.stderr + d.toString()).slice(-4000);
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (text) => {
    try {
      node.lines.push(JSON.parse(text) as Record<string, unknown>);
    } catch {
      // Not ours: ignored.
    }
  });
  return node;
}

async function waitForLine(node: Child, type: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!node.lines.some((l) => l["type"] === type)) {
    const fatal = node.lines.find((l) => l["type"] === "fatal");
    if (fatal || node.child.exitCode !== null)
      throw new Error(`${node.label} failed: ${String(fatal?.["error"])}\n${node.stderr}`);
    if (Date.now() > end) throw new Error(`${node.label}: no ${type} within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** VmRSS of `pid` in KiB, or undefined once it is gone. */
function rssKiB(pid: number | undefined): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

const WORKERS = {
  "consumers-a": ["worker-1", "worker-2"],
  "consumers-b": ["worker-3", "worker-4"],
};

/** Runs the overload scenario; `log` gets a line per 10 s of production and the numbers. */
export async function runOverload(
  options: OverloadOptions,
  seed: number,
  log: (line: string) => void,
): Promise<OverloadResult> {
  const began = Date.now();
  const maxPending = options.maxPending ?? 100;
  const workMs = options.workMs ?? 200;
  const capacity = (Object.values(WORKERS).flat().length * 1000) / workMs;
  const rate = capacity * (options.speedup ?? 10);
  const server = await startNatsServer();
  const dir = mkdtempSync(join(tmpdir(), "conclave-chaos-overload-"));
  const storePath = join(dir, "swarm.db");
  const swarm = randomSwarmName("overload");
  const base = { swarm, servers: [server.url], storePath, maxPending, workMs };
  const nodes: Child[] = [];
  const problems: string[] = [];
  const samples: { at: number; rss: (number | undefined)[] }[] = [];
  const probe = await createNatsTransport({ servers: [server.url] });
  try {
    for (const [label, agents] of Object.entries(WORKERS)) {
      nodes.push(spawnNode(label, { ...base, mode: "consumer", agents }));
    }
    await Promise.all(nodes.map((n) => waitForLine(n, "ready", 90_000)));
    const producer = spawnNode("producer", {
      ...base,
      mode: "producer",
      ratePerSecond: rate,
      loops: 16,
      durationMs: options.durationMs,
    });
    nodes.push(producer);
    await waitForLine(producer, "ready", 90_000);
    const t0 = Date.now();
    log(
      `  consumers' capacity ${capacity}/s, producer's target ${rate}/s for ${options.durationMs} ms, queue limit ${maxPending}`,
    );
    let maxDepth = 0;
    let lastLog = t0;
    const sample = async () => {
      samples.push({ at: Date.now() - t0, rss: nodes.map((n) => rssKiB(n.child.pid)) });
      const depth = await probe
        .queueInfo(queueNames.role(swarm, "worker"))
        .then((i) => i.pending)
        .catch(() => 0);
      maxDepth = Math.max(maxDepth, depth);
      if (Date.now() - lastLog >= 10_000) {
        lastLog = Date.now();
        const stats = [...producer.lines].reverse().find((l) => l["type"] === "stats") ?? {};
        log(
          `  t=${Date.now() - t0}ms depth ${depth} submitted ${stats["submitted"]} queue.full ${stats["queueFull"]} rss MiB ${nodes.map((n, i) => `${n.label} ${((samples.at(-1)?.rss[i] ?? 0) / 1024).toFixed(0)}`).join(", ")}`,
        );
      }
    };
    let producing = true;
    const sampling = (async () => {
      while (producing) {
        await sample();
        await sleep(1_000);
      }
    })();
    await waitForLine(producer, "produced", options.durationMs + 60_000).catch((e: Error) =>
      problems.push(e.message),
    );
    producing = false;
    await sampling;
    const producedAt = Date.now() - t0;
    const produced = producer.lines.find((l) => l["type"] === "produced") ?? {};
    const submitted = Number(produced["submitted"] ?? 0);
    // Drain: the backlog is at most the queue's limit, at the consumers' pace.
    const drainBudgetMs = 30_000 + (maxPending / capacity) * 1000 * 3;
    const store = openSqliteStore({ path: storePath });
    let drainMs = -1;
    let progress = await workloadProgress(store);
    try {
      const end = Date.now() + drainBudgetMs;
      while (Date.now() < end) {
        await sample();
        progress = await workloadProgress(store);
        if (progress.submitted >= submitted && progress.pending === 0) {
          drainMs = Date.now() - t0 - producedAt;
          break;
        }
        await sleep(1_000);
      }
    } finally {
      await store.close();
    }
    if (drainMs < 0)
      problems.push(
        `the backlog did not drain within ${drainBudgetMs} ms: ${progress.pending} pending`,
      );
    if (progress.submitted !== submitted)
      problems.push(
        `the producer had ${submitted} submits taken, the store holds ${progress.submitted}`,
      );
    if (progress.pending > 0) problems.push(`${progress.pending} task(s) lost`);
    if (progress.duplicateEffects > 0)
      problems.push(`${progress.duplicateEffects} effect key(s) applied more than once`);
    const queueFull = Number(produced["queueFull"] ?? 0);
    if (queueFull === 0) problems.push("the producer never saw its queue full");
    if (maxDepth < maxPending) problems.push(`the queue peaked at ${maxDepth} < ${maxPending}`);
    const memory = nodes.map((n, i) => memoryOf(n.label, samples, i, producedAt));
    for (const m of memory) {
      if (m.secondHalfMaxMiB > 1.3 * m.firstHalfMaxMiB)
        problems.push(
          `${m.process}'s memory climbs: ${m.secondHalfMaxMiB} MiB in the second half, ${m.firstHalfMaxMiB} in the first`,
        );
    }
    for (const n of nodes) {
      const fatal = n.lines.find((l) => l["type"] === "fatal");
      if (fatal) problems.push(`${n.label} crashed: ${String(fatal["error"]).slice(0, 300)}`);
    }
    return {
      scenario: "overload",
      seed,
      faults: [],
      crashes: [],
      producerExit: null,
      durationMs: Date.now() - began,
      verdict: {
        tasks: progress.submitted,
        completed: progress.completed,
        deadLettered: progress.deadLettered,
        untrustedDeadLetters: 0,
        lost: progress.pending,
        duplicateEffects: progress.duplicateEffects,
        ledgerBalanced: true,
        auditVerified: true,
        stuck: drainMs < 0,
        problems,
        ok: problems.length === 0,
      },
      memory,
      submitted,
      attemptedRate: rate,
      acceptedRate: Math.round((submitted / (options.durationMs / 1000)) * 10) / 10,
      queueFull,
      backedOff: Number(produced["backedOff"] ?? 0),
      slowestSubmitMs: Number(produced["slowestSubmitMs"] ?? 0),
      maxDepth,
      drainMs,
    };
  } finally {
    for (const n of nodes) n.child.kill("SIGKILL");
    await probe.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Max RSS over the production's first and second half, and overall, of process `i`. */
function memoryOf(
  label: string,
  samples: readonly { at: number; rss: (number | undefined)[] }[],
  i: number,
  producedAt: number,
): MemoryReport {
  const mib = (kib: number) => Math.round(kib / 102.4) / 10;
  const max = (list: typeof samples) => Math.max(0, ...list.map((s) => s.rss[i] ?? 0));
  return {
    process: label,
    maxMiB: mib(max(samples)),
    firstHalfMaxMiB: mib(max(samples.filter((s) => s.at < producedAt / 2))),
    secondHalfMaxMiB: mib(max(samples.filter((s) => s.at >= producedAt / 2 && s.at <= producedAt))),
    endMiB: mib([...samples].reverse().find((s) => s.rss[i] !== undefined)?.rss[i] ?? 0),
  };
}

/** `overload`, for scenarios/index.ts: 5 minutes, or `CHAOS_OVERLOAD_MS`. */
export const overloadScenario: Scenario = {
  name: "overload",
  what: "a producer 10x faster than its consumers for 5 min (CHAOS_OVERLOAD_MS) into a bounded queue: it backs off, every process's memory plateaus, the backlog drains, nothing lost or applied twice",
  missing: () => (natsServerAvailable() ? undefined : "no nats-server binary on PATH"),
  plan: () => [],
  run: async (seed, log) => {
    const result = await runOverload(
      { durationMs: Number(process.env["CHAOS_OVERLOAD_MS"] ?? 300_000) },
      seed,
      log,
    );
    log(`  ${JSON.stringify({ ...result, faults: undefined, verdict: undefined })}`);
    return result;
  },
};
