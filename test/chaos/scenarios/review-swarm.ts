/**
 * The review swarm (examples/review-swarm: delegated tasks with escrow,
 * consensus rounds with a Byzantine voter, auctions) split over three
 * processes, each reaching the broker through its own chaos proxy:
 *
 * - `producer` (`conclave up --agents …`): architect, auditor, ops-1, mole —
 *   the architect submits the workload; this process ends when it settles;
 * - `workers-a` (`conclave agent`): dev-1, dev-2, sentinel, rev-1;
 * - `workers-b` (`conclave agent`): dev-3, dev-4, rev-2, rev-3.
 *
 * Developers live in both worker processes, so a task held by a paused or
 * killed one can be redelivered to the other. One SQLite store is shared.
 */
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { loadSwarmConfig } from "../../../src/config/load.js";
import { workloadProgress } from "../../../src/runtime/workload.js";
import { openStore } from "../../../src/store/open-store.js";
import { dropPostgresSchema } from "../../../src/store/postgres-store.js";
import { root } from "../../cli/run-cli.js";
import { checkStore, type Verdict, watchProgress } from "../checker.js";
import {
  type CustomTarget,
  type FaultRecord,
  FaultRunner,
  type PlannedFault,
  type Service,
  SwarmProcess,
  type Target,
} from "../harness.js";
import { type ChaosProxy, startChaosProxy } from "../proxy.js";

/** A broker a scenario runs against: where it listens, how a client URL to a port reads. */
export interface Broker {
  readonly kind: "nats" | "amqp";
  /** The broker's own port (the proxies forward to it). */
  readonly port: number;
  /** A cluster: the port of the node a process's proxy forwards to (default {@link port}). */
  readonly portFor?: (process: string) => number;
  /** The URL a process gets: the broker's scheme and credentials, the proxy's port. */
  urlFor(port: number): string;
  stop(): Promise<void>;
  /** A cluster: the swarm file's `broker:` section (more servers, stream replicas). */
  readonly section?: { readonly servers: readonly string[]; readonly replicas: 3 };
  /** Faults on the broker itself (its servers), by name, next to the processes'. */
  readonly targets?: ReadonlyMap<string, CustomTarget>;
}

export interface ReviewRunOptions {
  readonly name: string;
  readonly seed: number;
  readonly broker: Broker;
  readonly tasks: number;
  /** Drawn from the seed by the scenario; offsets from the first submission. */
  readonly plan: readonly PlannedFault[];
  /** Give up (and count what is left as lost) after this long. */
  readonly budgetMs: number;
  /** No progress for this long after the last heal, with work pending: stuck. */
  readonly stuckAfterMs: number;
  /**
   * Whether a process may crash on a fault and be restarted by its
   * supervisor (the AMQP transport does not reconnect: by design the process
   * ends and `up --processes` starts it again). Otherwise a crash is a problem.
   */
  readonly crashesExpected: boolean;
  /**
   * Where the shared store lives. `postgres`: a fresh schema in the
   * database at `url` (default: a SQLite file), and the faults hit each
   * process's link to Postgres instead of its link to the broker (a proxy
   * per process between it and `port`).
   */
  readonly postgres?: { readonly url: string; readonly port: number };
  /** A process whose clock runs `offsetMs` off for the whole run (`CONCLAVE_CLOCK_OFFSET_MS`). */
  readonly clockSkew?: { readonly target: keyof typeof GROUPS; readonly offsetMs: number };
  /** Servers the plan's `stop` faults name as targets (e.g. `broker`, `postgres`). */
  readonly services?: Readonly<Record<string, Service>>;
  readonly log: (line: string) => void;
}

export interface ReviewRunResult {
  readonly verdict: Verdict;
  readonly history: readonly FaultRecord[];
  /** Processes that exited on their own and were restarted (ms after the workload started). */
  readonly crashes: readonly Crash[];
  /** The producer's exit code (its own summary's verdict), null if it was stopped. */
  readonly producerExit: number | null;
  /** The producer's stderr tail when the scenario failed, to see why. */
  readonly tail?: string;
}

/**
 * The workload a scenario runs with, its time budget and its fault plan.
 * `budgetMs` and `plan` are for the scenario's default of `tasks`; a larger
 * workload (`npm run chaos -- --tasks 2000`) gets a budget in proportion,
 * and the plan once per default workload, each copy drawn from the next
 * seed and starting where the previous one ended, so the faults keep coming
 * through most of a long run instead of all landing in its first seconds.
 */
export function workload(
  scenario: {
    readonly budgetMs: number;
    readonly tasks: number;
    readonly plan: (seed: number) => PlannedFault[];
  },
  seed: number,
  overrides: { readonly tasks?: number } | undefined,
): { readonly tasks: number; readonly budgetMs: number; readonly plan: PlannedFault[] } {
  const tasks = overrides?.tasks ?? scenario.tasks;
  const scale = Math.max(1, tasks / scenario.tasks);
  return {
    tasks,
    budgetMs: Math.round(scenario.budgetMs * scale),
    plan: repeatedPlan(scenario.plan, seed, Math.ceil(scale)),
  };
}

/** `copies` of a plan, one after the other: the first drawn from `seed`, the next from `seed + 1`, and so on. */
export function repeatedPlan(
  plan: (seed: number) => PlannedFault[],
  seed: number,
  copies: number,
): PlannedFault[] {
  const out: PlannedFault[] = [];
  let offset = 0;
  for (let k = 0; k < copies; k++) {
    let end = offset;
    for (const fault of plan(seed + k)) {
      const atMs = fault.atMs + offset;
      out.push({ ...fault, atMs });
      end = Math.max(end, atMs + fault.forMs + (fault.stepMs ?? 0));
    }
    offset = end;
  }
  return out;
}

/** A review-swarm run as a scenario's result (`ScenarioResult`): what `npm run chaos` prints. */
export function scenarioResult(
  scenario: string,
  seed: number,
  startedAt: number,
  result: ReviewRunResult,
) {
  return {
    scenario,
    seed,
    faults: result.history,
    crashes: result.crashes,
    verdict: result.verdict,
    producerExit: result.producerExit,
    durationMs: Date.now() - startedAt,
    ...(result.tail ? { tail: result.tail } : {}),
  };
}

export interface Crash {
  readonly process: string;
  readonly atMs: number;
  readonly code: number | null;
  readonly why: string;
}

const GROUPS = {
  producer: ["architect", "auditor", "ops-1", "mole"],
  "workers-a": ["dev-1", "dev-2", "sentinel", "rev-1"],
  "workers-b": ["dev-3", "dev-4", "rev-2", "rev-3"],
} as const;

/** Timings short enough that a fault of a few seconds outlasts the ack deadline and the heartbeat. */
const DEFAULTS = [
  ["ackWaitMs: 10000", "ackWaitMs: 3000"],
  ["heartbeatMs: 500", "heartbeatMs: 300"],
  // Slower work, so the workload lasts long enough for the faults to land mid-run.
  ["workMs: 4", "workMs: 1000"],
  ["concurrency: 4", "concurrency: 2"],
] as const;

/** Writes the scenario's copy of the review swarm into `dir`; returns the file. */
function writeSwarm(dir: string, swarm: string, broker: Broker): string {
  cpSync(join(root, "examples", "review-swarm"), dir, { recursive: true });
  const file = join(dir, "swarm.yaml");
  let text = readFileSync(file, "utf8").replace("swarm: review-swarm", `swarm: ${swarm}`);
  for (const [from, to] of DEFAULTS) {
    if (!text.includes(from)) throw new Error(`the review swarm no longer says "${from}"`);
    text = text.replace(from, to);
  }
  // A fourth developer, so each worker process has two.
  text = text.replace(
    "\nagents:\n",
    "\nagents:\n  - id: dev-4\n    role: developer\n    tags: [ts]\n    budget: { initial: 600, minBalance: 100 }\n",
  );
  const section = broker.section;
  if (section) {
    // Every process knows every server (it fails over) and streams keep 3 copies.
    text = text.replace(
      "\ntransport: memory\n",
      `\ntransport: ${broker.urlFor(broker.port)}\nbroker:\n  servers: [${section.servers.join(", ")}]\n  replicas: ${section.replicas}\n`,
    );
  }
  writeFileSync(file, text);
  return file;
}

/** Runs the review swarm under `options.plan` and checks the store. */
export async function runReviewSwarm(options: ReviewRunOptions): Promise<ReviewRunResult> {
  const dir = mkdtempSync(join(tmpdir(), `conclave-chaos-${options.name}-`));
  const swarm = `chaos-${options.name}-${options.seed}-${process.pid}`;
  const file = writeSwarm(dir, swarm, options.broker);
  const pg = options.postgres;
  const schema = `chaos_${randomBytes(6).toString("hex")}`;
  // The harness reads the store directly; the processes through their proxies.
  const storeUrl = pg ? `${pg.url}?schema=${schema}` : `sqlite:${join(dir, "swarm.db")}`;
  const proxies: ChaosProxy[] = [];
  const processes: SwarmProcess[] = [];
  try {
    const targets = new Map<string, Target | CustomTarget>(options.broker.targets ?? []);
    for (const [label, agents] of Object.entries(GROUPS)) {
      const proxy = await startChaosProxy(
        pg ? pg.port : (options.broker.portFor?.(label) ?? options.broker.port),
      );
      proxies.push(proxy);
      const common = [
        "--transport",
        options.broker.urlFor(pg ? options.broker.port : proxy.port),
        "--store",
        pg ? `${pg.url.replace(`:${pg.port}/`, `:${proxy.port}/`)}?schema=${schema}` : storeUrl,
        "--data-dir",
        join(dir, "data"),
      ];
      const args =
        label === "producer"
          ? ["up", file, "--agents", agents.join(","), "--tasks", String(options.tasks), "--json"]
          : ["agent", "--swarm", file, "--id", agents.join(","), "--json"];
      const timeout = ["--timeout", String(Math.ceil(options.budgetMs / 1000) + 30)];
      const skew = options.clockSkew?.target === label ? options.clockSkew.offsetMs : undefined;
      if (skew !== undefined)
        options.log(`  ${label}'s clock runs ${skew} ms off for the whole run`);
      const proc = new SwarmProcess(
        label,
        [...args, ...common, ...(label === "producer" ? timeout : [])],
        dir,
        `${options.name}-${options.seed}.`,
        skew === undefined ? {} : { CONCLAVE_CLOCK_OFFSET_MS: String(skew) },
      );
      processes.push(proc);
      targets.set(label, { process: proc, proxy });
    }
    const producer = processes[0] as SwarmProcess;
    for (const p of processes) p.supervise();

    const begun = Date.now();
    // Starting three processes takes 4-6 s on a quiet machine, 25-30 s on a busy one.
    await waitForSubmission(storeUrl, producer, 90_000);
    options.log(`  t=0 the workload started (${Date.now() - begun} ms after launch)`);
    const t0 = Date.now();
    const faults = new FaultRunner(
      options.plan,
      new Map<string, Target | Service | CustomTarget>([
        ...targets,
        ...Object.entries(options.services ?? {}),
      ]),
      options.log,
    );
    let settled = false;
    const watching = watchProgress({
      storeUrl,
      expected: options.tasks,
      stuckAfterMs: options.stuckAfterMs,
      deadline: Date.now() + options.budgetMs,
      healedAt: faults.healedAt,
    }).finally(() => {
      settled = true;
    });
    const [watch] = await Promise.all([watching, faults.run(() => settled)]);
    options.log(
      `  ${watch.settled ? "settled" : watch.stuck ? "STUCK" : "deadline passed"} ${JSON.stringify(watch.last ?? {})}`,
    );
    for (const p of processes) p.unsupervise();
    const crashes = processes.flatMap((p) =>
      p.crashes.map((c) => ({ process: p.label, atMs: c.at - t0, code: c.code, why: c.why })),
    );
    for (const c of crashes)
      options.log(`  t=${c.atMs}ms ${c.process} exited (${c.code}) and was restarted: ${c.why}`);
    // The producer ends by itself once it sees the workload settled.
    const producerExit = await Promise.race([
      producer.exited.then((e) => e.code),
      sleep(15_000).then(() => null),
    ]);
    await Promise.all(processes.map((p) => p.stop()));
    const config = await loadSwarmConfig(file);
    const checked = await checkStore(storeUrl, config, watch.stuck);
    const extra = [
      // A run that settled before its first fault tested nothing: not ok either.
      ...(faults.history.length > 0 || options.plan.length === 0
        ? []
        : ["the workload settled before its first fault"]),
      ...(options.crashesExpected || crashes.length === 0
        ? []
        : [
            `${crashes.length} process crash(es): ${crashes.map((c) => `${c.process}: ${c.why}`).join("; ")}`,
          ]),
    ];
    const verdict =
      extra.length === 0
        ? checked
        : { ...checked, ok: false, problems: [...checked.problems, ...extra] };
    return {
      verdict,
      history: faults.history,
      crashes,
      producerExit,
      ...(verdict.ok ? {} : { tail: producer.stderr.slice(-3000) }),
    };
  } finally {
    await Promise.all(processes.map((p) => p.kill()));
    await Promise.all(proxies.map((p) => p.close()));
    if (pg) await dropPostgresSchema({ url: pg.url, schema }).catch(() => undefined);
    // CHAOS_KEEP=1 keeps the run's folder (the SQLite store, the swarm file) to look into.
    if (process.env["CHAOS_KEEP"]) options.log(`  kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

/** Resolves once the first root task is in the store; fails if the producer died first. */
async function waitForSubmission(
  storeUrl: string,
  producer: SwarmProcess,
  timeoutMs: number,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const store = await openStore(storeUrl, { create: false }).catch(() => undefined);
    if (store) {
      try {
        if ((await workloadProgress(store)).submitted > 0) return;
      } catch {
        // Not migrated yet: the first process is still creating the schema.
      } finally {
        await store.close();
      }
    }
    if (!producer.running)
      throw new Error(`the producer exited before submitting:\n${producer.stderr.slice(-2000)}`);
    if (Date.now() > end) throw new Error(`nothing submitted within ${timeoutMs} ms`);
    await sleep(100);
  }
}
