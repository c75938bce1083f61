import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { loadSwarmConfig } from "../config/load.js";
import type { SwarmConfig as SwarmFile } from "../config/schema.js";
import { systemClock } from "../core/clock.js";
import { systemRandom } from "../core/random.js";
import { toError } from "../errors/index.js";
import { createSupervisor, type Supervisor } from "../runtime/supervisor.js";
import { type WorkloadProgress, workloadProgress } from "../runtime/workload.js";
import { openStore } from "../store/open-store.js";
import { ProgressView, RunCounters, useColor } from "./progress.js";
import {
  buildSummary,
  humanSummary,
  nothingSubmitted,
  runExitCode,
  type SummarySections,
  summaryHolds,
  summarySections,
} from "./run.js";

export interface DistributedRunOptions {
  readonly processes: number;
  readonly json: boolean;
  readonly timeoutMs: number;
  readonly workload?: Readonly<Record<string, unknown>>;
  /** Arguments every child gets after `up <file>` (transport, store, data folder overrides). */
  readonly childArgs: readonly string[];
  readonly configure?: (config: SwarmFile) => SwarmFile;
  /** Exit 1 when any root task was dead-lettered. */
  readonly failOnDeadLetter?: boolean;
  /** `--log-level` of the children, which run the agents (default: theirs, `warn`). */
  readonly logLevel?: string;
}

/**
 * Runs a swarm file over several OS processes: the agents are dealt
 * round-robin to `processes` children (`conclave up --agents … --forever`),
 * each supervised (restarted with backoff if it crashes or ends on its own,
 * as a child that runs `--forever` only does by failing); this process hosts
 * no agent, follows the workload in the shared store, relays the children's
 * events, and when every root task has settled (or on SIGINT/SIGTERM: exit
 * 130) drains them and prints the same summary as a single-process run.
 */
export async function runDistributed(
  file: string,
  options: DistributedRunOptions,
): Promise<number> {
  const started = Date.now();
  const loaded = await loadSwarmConfig(file);
  const config = options.configure ? options.configure(loaded) : loaded;
  if (config.transport === "memory") {
    throw new (await import("../errors/index.js")).ConfigError(
      "--processes needs a broker every process can reach: pass --transport nats://… or amqp://…",
    );
  }
  const groups: string[][] = Array.from(
    { length: Math.min(options.processes, config.agents.length) },
    () => [],
  );
  for (const [i, a] of config.agents.entries()) groups[i % groups.length]?.push(a.id);

  const counters = new RunCounters();
  // The last error each child printed, to say why when nothing ran.
  const problems = new Map<number, string>();
  const view = new ProgressView({ stream: process.stderr, color: useColor(process.stderr) });
  const children = new Set<ChildProcess>();
  const supervisors: Supervisor[] = groups.map((agents, n) =>
    createSupervisor({
      name: `process-${n}`,
      clock: systemClock,
      random: systemRandom,
      backoff: { baseMs: 200, maxMs: 5000, factor: 2, jitter: "full" },
      maxRestarts: 5,
      windowMs: 60_000,
      start: async () => {
        const child = spawnChild(file, agents, options);
        children.add(child);
        relay(child, options.json, counters, (problem) => problems.set(n, problem));
        let asked = false;
        const exited = new Promise<Error | undefined>((resolve) => {
          child.once("exit", (code, signal) => {
            children.delete(child);
            // Asked to stop, or the run is stopping (a terminal's Ctrl-C reaches the children too).
            if (asked || stopping !== undefined) return resolve(undefined);
            // A child runs `up --forever`: ending on its own, even with
            // code 0, leaves its agents' tasks to nobody, so it is a crash
            // (restarted with backoff, or given up on) like any other.
            if (code === 0) {
              const why = `process-${n} (agents ${agents.join(",")}) exited with code 0 on its own while the run was going`;
              process.stderr.write(`conclave: ${why}; restarted as a crashed one is\n`);
              return resolve(new Error(why));
            }
            resolve(new Error(`agents ${agents.join(",")} exited with ${signal ?? code}`));
          });
        });
        return {
          exited,
          stop: async () => {
            asked = true;
            child.kill("SIGTERM");
            await exited;
          },
        };
      },
    }),
  );
  // SIGINT/SIGTERM ends the run as a settled workload does: the children
  // drain (each gets SIGTERM), then the summary. A second signal does not wait.
  let stopping: string | undefined;
  const onSignal = (signal: string) => () => {
    if (stopping) {
      for (const child of children) child.kill("SIGKILL");
      process.exit(130);
    }
    stopping = signal;
  };
  const onInt = onSignal("SIGINT");
  const onTerm = onSignal("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  // Until the summary is out: a signal while the children drain is the run
  // stopped (a second one does not wait), not this process killed before
  // it could say what was kept.
  try {
    await Promise.all(supervisors.map((s) => s.start()));

    const store = await openStore(config.store);
    let progress: WorkloadProgress;
    let sections: SummarySections = {};
    try {
      for (;;) {
        try {
          progress = await workloadProgress(store);
        } catch (error) {
          // The store unreachable for a moment (a Postgres restart): keep watching until the timeout.
          if (Date.now() - started > options.timeoutMs) throw error;
          await sleep(500);
          continue;
        }
        view.update(progress, counters, Date.now() - started);
        if (
          stopping !== undefined ||
          (progress.submitted > 0 && progress.pending === 0) ||
          Date.now() - started > options.timeoutMs ||
          // Every child gave up restarting: nothing will progress any more.
          supervisors.every((s) => s.state === "failed") ||
          // Nothing submitted and an agent given up on in its process (the
          // one that submits the workload, as a rule): nothing will be submitted any more.
          (progress.submitted === 0 && counters.gaveUp.size > 0)
        )
          break;
        await sleep(200);
      }
    } finally {
      view.end();
      await Promise.all(
        supervisors.map((s) =>
          s.stop().catch((e: unknown) => process.stderr.write(`${toError(e).message}\n`)),
        ),
      );
      // Measured once the children have drained: the workload, the ledger,
      // the audit log and the auctions as stored.
      try {
        // (Unassigned only when the first read failed past the timeout.)
        progress = await workloadProgress(store).catch(() => progress);
        sections = await summarySections(config, store, counters);
      } finally {
        await store.close();
      }
    }
    const bySignal = stopping !== undefined;
    const summary = buildSummary(config.swarm, progress, counters, sections, started, bySignal);
    if (sections.auditProblem) process.stderr.write(`conclave: ${sections.auditProblem}\n`);
    process.stdout.write(
      options.json
        ? `${JSON.stringify(summary)}\n`
        : humanSummary(
            summary,
            counters,
            useColor(process.stdout),
            summaryHolds(summary, sections),
          ),
    );
    // Interrupted, as a single-process run stopped by a signal.
    if (bySignal) return 130;
    // A run that never started its workload kept no promise worth an exit 0.
    if (progress.submitted === 0) {
      const why =
        counters.gaveUp.size > 0 && supervisors.some((s) => s.state !== "failed")
          ? nothingSubmitted(counters, options.timeoutMs)
          : nothingRan(supervisors, problems, options.timeoutMs);
      process.stderr.write(`conclave: ${why}\n`);
      return 1;
    }
    return runExitCode(summary, sections, options.failOnDeadLetter === true);
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
  }
}

/** Why a distributed run submitted nothing, with the last error a child printed. */
function nothingRan(
  supervisors: readonly Supervisor[],
  problems: ReadonlyMap<number, string>,
  timeoutMs: number,
): string {
  const failed = supervisors.filter((s) => s.state === "failed").length;
  const when =
    failed === supervisors.length
      ? `every process (${failed}) crashed and gave up after its restarts`
      : `nothing was submitted within ${Math.round(timeoutMs / 1000)} s (${failed} of ${supervisors.length} processes gave up)`;
  const last = [...problems.values()].at(-1);
  return `no task was submitted: ${when}; ${
    last === undefined
      ? "check that the agent that submits the workload is in the swarm file and its process starts"
      : `the last error: ${last}`
  }`;
}

function spawnChild(
  file: string,
  agents: readonly string[],
  options: DistributedRunOptions,
): ChildProcess {
  const script = process.argv[1] as string;
  const args = [
    ...process.execArgv,
    script,
    ...(options.logLevel === undefined ? [] : ["--log-level", options.logLevel]),
    "up",
    file,
    "--json",
    "--forever",
    "--agents",
    agents.join(","),
    ...options.childArgs,
    ...(options.workload?.["tasks"] === undefined
      ? []
      : ["--tasks", String(options.workload["tasks"])]),
  ];
  return spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: process.env });
}

/**
 * Children print JSON events; count them, and pass them on with --json (not
 * their summaries). Their stderr passes through but for their progress
 * lines; its `conclave: …` error lines are also handed to `onProblem`.
 */
function relay(
  child: ChildProcess,
  json: boolean,
  counters: RunCounters,
  onProblem: (problem: string) => void,
): void {
  if (child.stderr) {
    createInterface({ input: child.stderr }).on("line", (line) => {
      // Each child's progress line measures the same store as this
      // process's own: passed on, they would interleave with it (and break
      // its bar on a terminal), each with its own elapsed time.
      if (line.startsWith("progress: ")) return;
      process.stderr.write(`${line}\n`);
      if (line.startsWith("conclave: ")) onProblem(line.slice("conclave: ".length));
    });
  }
  if (!child.stdout) return;
  const lines = createInterface({ input: child.stdout });
  lines.on("line", (line) => {
    let event: { type?: string };
    try {
      event = JSON.parse(line) as { type?: string };
    } catch {
      return;
    }
    if (event.type === "summary") return;
    counters.observe(event as Parameters<RunCounters["observe"]>[0]);
    if (json) process.stdout.write(`${line}\n`);
  });
}
