import { setTimeout as sleep } from "node:timers/promises";
import pino from "pino";
import { loadSwarmConfig } from "../config/load.js";
import type { SwarmConfig as SwarmFile } from "../config/schema.js";
import {
  type ConsensusSummary,
  readAuditLog,
  summarizeDecisions,
  verifyStoredAuditLog,
} from "../runtime/consensus/audit-log.js";
import type { SwarmEvent } from "../runtime/events.js";
import { openSwarm } from "../runtime/from-config.js";
import { serveMetrics } from "../runtime/metrics-server.js";
import type { Swarm } from "../runtime/swarm.js";
import { type WorkloadProgress, workloadProgress } from "../runtime/workload.js";
import { openStore, parseStoreUrl } from "../store/open-store.js";
import type { AuctionStats, Store } from "../store/port.js";
import { clockFromEnvironment } from "./clock-offset.js";
import { openDashboard } from "./dashboard.js";
import { listenFailure } from "./listen-failure.js";
import { ProgressView, RunCounters, useColor } from "./progress.js";

export interface RunOptions {
  readonly json: boolean;
  /** Overrides of the file's workload (e.g. `{ tasks: 50 }`). */
  readonly workload?: Readonly<Record<string, unknown>>;
  /** Only these agents run here. */
  readonly agents?: readonly string[];
  /** Give up waiting for the workload after this long (ms); what is left counts as lost. */
  readonly timeoutMs: number;
  /** Keep running after the workload settles, until a signal. */
  readonly forever: boolean;
  /** pino level of the logs on stderr. Default `warn`. */
  readonly logLevel?: string;
  /** Adjusts the loaded file before anything opens (the demo moves its state and clears it). */
  readonly configure?: (config: SwarmFile) => SwarmFile;
  /** Exit 1 when any root task was dead-lettered (default: dead letters are reported, not a failure). */
  readonly failOnDeadLetter?: boolean;
  /** Serve Prometheus metrics on this port (0: any free one) while the swarm runs. */
  readonly metrics?: { readonly port: number; readonly host?: string };
  /** Serve the dashboard on this port (0: any free one) while the swarm runs. */
  readonly dashboard?: { readonly port: number; readonly host?: string };
}

/** The last line of `--json` output. */
export interface RunSummary {
  readonly type: "summary";
  readonly swarm: string;
  readonly tasks: {
    readonly submitted: number;
    readonly completed: number;
    readonly deadLettered: number;
    readonly lost: number;
    /** A run stopped by a signal: tasks not settled yet, kept to resume (not lost). */
    readonly pending?: number;
    readonly duplicateEffects: number;
  };
  /** Present when the swarm meters agents. */
  readonly ledger?: LedgerSummary;
  /** Present when the swarm has privileged actions: its decisions, measured from the audit log. */
  readonly consensus?: ConsensusSummary;
  /** Present when the swarm allocates task types by auction: measured from the store. */
  readonly auctions?: AuctionStats;
  /** Present when agents call models: the calls charged, measured from the ledger. */
  readonly llm?: LlmSummary;
  readonly retries: number;
  /**
   * Present when this run met tasks of another run (an earlier run's
   * leftovers on the same broker and swarm name): how many it parked in
   * `<swarm>-other-runs`, unrun and unrecorded.
   */
  readonly otherRunTasks?: number;
  readonly durationMs: number;
}

/** The ledger section of a run summary: the invariants, measured from the store. */
export interface LedgerSummary {
  readonly minted: number;
  readonly sum: number;
  /** Accounts below zero (there must be none). */
  readonly negative: number;
  /** Agents halted during the run for falling below their minimum balance. */
  readonly halted: string[];
}

/** The model calls of a swarm, from the ledger's `llm` fees (every run on the store). */
export interface LlmSummary {
  /** Model calls charged (each once, whatever restarts happened). */
  readonly calls: number;
  /** Calls answered from the step journal in this run: no request sent, nothing charged. */
  readonly replayed: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Credits charged. */
  readonly cost: number;
  /** Per model entry that answered: calls and credits charged. */
  readonly models: Readonly<Record<string, { calls: number; cost: number }>>;
}

/** Reads the `llm` fees of the ledger for the summary. */
export async function llmSummary(store: Store, replayed: number): Promise<LlmSummary> {
  let calls = 0;
  let inputTokens = 0;
  let outputTokens = 0;
  let cost = 0;
  const models: Record<string, { calls: number; cost: number }> = {};
  for (const op of await store.ledgerOperations({ kind: "fee", limit: 1_000_000 })) {
    if (op.memo["kind"] !== "llm") continue;
    const fee = -(
      op.entries.find((e) => e.delta < 0 && e.account.startsWith("agent:"))?.delta ?? 0
    );
    calls++;
    inputTokens += Number(op.memo["inputTokens"] ?? 0);
    outputTokens += Number(op.memo["outputTokens"] ?? 0);
    cost += fee;
    const model = String(op.memo["model"] ?? "(unknown)");
    const line = models[model] ?? { calls: 0, cost: 0 };
    models[model] = { calls: line.calls + 1, cost: line.cost + fee };
  }
  return { calls, replayed, inputTokens, outputTokens, cost, models };
}

/** The summary sections a swarm has besides tasks: ledger and consensus, measured from the store. */
export interface SummarySections {
  readonly ledger?: LedgerSummary;
  readonly consensus?: ConsensusSummary;
  readonly auctions?: AuctionStats;
  readonly llm?: LlmSummary;
  /** Why the audit log does not verify, when it does not. */
  readonly auditProblem?: string;
}

/** Measures the ledger (when agents are metered) and the consensus audit log (when actions are privileged). */
export async function summarySections(
  config: SwarmFile,
  store: Store,
  counters: RunCounters,
): Promise<SummarySections> {
  const ledger = config.agents.some((a) => a.budget)
    ? await ledgerSummary(store, counters.halted)
    : undefined;
  const auctions = Object.values(config.tasks ?? {}).some((t) => t.allocation === "auction")
    ? await store.auctionStats()
    : undefined;
  const llm = config.agents.some((a) => a.llm)
    ? await llmSummary(store, counters.replayedCalls)
    : undefined;
  const base = {
    ...(ledger ? { ledger } : {}),
    ...(auctions ? { auctions } : {}),
    ...(llm ? { llm } : {}),
  };
  if (Object.keys(config.privileged ?? {}).length === 0) return base;
  const records = await readAuditLog(store);
  // The one verifier, with the registry's keys (seal signatures) and the store's signed heads.
  const verdict = await verifyStoredAuditLog(store);
  return {
    ...base,
    consensus: summarizeDecisions(records),
    ...(verdict.ok
      ? {}
      : {
          auditProblem: `the audit log does not verify at entry ${verdict.seq}: ${verdict.reason}`,
        }),
  };
}

/** The summary line of a run, single- or multi-process. */
export function buildSummary(
  swarm: string,
  progress: WorkloadProgress,
  counters: RunCounters,
  sections: SummarySections,
  started: number,
  stopped = false,
): RunSummary {
  return {
    type: "summary",
    swarm,
    tasks: {
      submitted: progress.submitted,
      completed: progress.completed,
      deadLettered: progress.deadLettered,
      // Stopped on purpose, what is left waits in the journal or broker for the next run.
      lost: stopped ? 0 : progress.pending,
      ...(stopped ? { pending: progress.pending } : {}),
      duplicateEffects: progress.duplicateEffects,
    },
    ...(sections.ledger ? { ledger: sections.ledger } : {}),
    ...(sections.consensus ? { consensus: sections.consensus } : {}),
    ...(sections.auctions ? { auctions: sections.auctions } : {}),
    ...(sections.llm ? { llm: sections.llm } : {}),
    retries: counters.retries,
    ...(counters.otherRuns > 0 ? { otherRunTasks: counters.otherRuns } : {}),
    durationMs: Date.now() - started,
  };
}

/** Whether a run kept every promise: nothing lost or applied twice, the ledger exact, the audit log verified. */
export function summaryHolds(summary: RunSummary, sections: SummarySections): boolean {
  const ledger = summary.ledger;
  const ledgerOk = !ledger || (ledger.sum === ledger.minted && ledger.negative === 0);
  return (
    summary.tasks.lost === 0 &&
    summary.tasks.duplicateEffects === 0 &&
    ledgerOk &&
    !sections.auditProblem
  );
}

/** Reads the ledger invariants for the summary. */
export async function ledgerSummary(
  store: Store,
  halted: Iterable<string>,
): Promise<LedgerSummary> {
  const check = await store.ledgerCheck();
  return {
    minted: check.minted,
    sum: check.sum,
    negative: check.negative.length,
    halted: [...halted].sort(),
  };
}

/**
 * Runs a swarm file in this process until its workload settles (every root
 * task completed or dead-lettered), or until SIGINT/SIGTERM; prints the
 * summary. Returns the exit code: 0 when nothing was lost or applied twice.
 */
export async function runSwarmFile(file: string, options: RunOptions): Promise<number> {
  const started = Date.now();
  const loaded = await loadSwarmConfig(file);
  const config = options.configure ? options.configure(loaded) : loaded;
  const clock = clockFromEnvironment();
  const swarm = await openSwarm(config, {
    ...(clock ? { clock } : {}),
    ...(options.workload ? { workload: options.workload } : {}),
    ...(options.agents ? { agents: options.agents } : {}),
  });
  const log = pino({ name: "conclave", level: options.logLevel ?? "warn" }, pino.destination(2));
  const counters = new RunCounters();
  const view = new ProgressView({ stream: process.stderr, color: useColor(process.stderr) });
  swarm.on((event) => {
    counters.observe(event);
    if (options.json) writeEvent(event);
    logEvent(log, event);
  });

  let stopping: string | undefined;
  const onSignal = (signal: string) => () => {
    if (stopping) process.exit(130);
    stopping = signal;
  };
  const onInt = onSignal("SIGINT");
  const onTerm = onSignal("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  // Until the summary is out: a signal while the run drains is the run
  // stopped (and a second one does not wait), not the process killed
  // before it could say what it kept.
  try {
    const metrics = options.metrics
      ? await serveMetrics(swarm, options.metrics).catch(async (error: unknown) => {
          await swarm.close();
          const { port, host = "127.0.0.1" } = options.metrics ?? { port: 0 };
          throw listenFailure(error, "metrics", host, port, {
            port: "--metrics",
            host: "--metrics-host",
            wrap: true,
          });
        })
      : undefined;
    if (metrics) process.stderr.write(`metrics: ${metrics.url}\n`);
    const dashboard = options.dashboard
      ? await openDashboard(swarm, config, options.dashboard).catch(async (error: unknown) => {
          await metrics?.close();
          await swarm.close();
          throw error;
        })
      : undefined;

    // A transport that gives up for good (RabbitMQ does not reconnect) ends the
    // run with the reason, so a supervisor (up --processes, systemd) restarts it.
    let lost: Error | undefined;
    void swarm.transport.closed().then((error) => {
      if (error !== undefined && stopping === undefined) {
        lost = error;
        stopping = "transport";
      }
    });
    let progress: WorkloadProgress;
    try {
      // A start hook that never returns is bounded by --timeout and a signal, too.
      const deadline = started + options.timeoutMs;
      progress = (await settlesBy(swarm.start(), deadline, () => stopping))
        ? await waitForWorkload(swarm, options, counters, view, started, () => stopping)
        : await workloadProgress(swarm.store);
    } finally {
      view.end();
      await metrics?.close();
      await dashboard?.close();
    }
    if (lost !== undefined) {
      await swarm.close().catch(() => undefined);
      process.stderr.write(
        `conclave: the connection to the broker was lost for good (${lost.message}); restart this process (up --processes and service managers do)\n`,
      );
      return 1;
    }
    if (counters.storeFull !== undefined) {
      // Closing writes too (the journal's last commit): it may fail the same way.
      await swarm.close().catch(() => undefined);
      process.stderr.write(
        `conclave: stopped: ${counters.storeFull}; run the same command again once there is space: it resumes where this run stopped\n`,
      );
      return 1;
    }
    const sections = await summarySections(config, swarm.store, counters);
    if (sections.auditProblem) log.error({ event: "audit" }, sections.auditProblem);
    // Handlers still running get a while to finish; past it the run ends
    // without them, as a crash would: they were not committed, and run again
    // on the next start.
    if (!(await settlesBy(swarm.drain(), Date.now() + DRAIN_LIMIT_MS, () => undefined))) {
      process.stderr.write(
        `conclave: handlers still running ${DRAIN_LIMIT_MS / 1000} s after the run ended were left unfinished; their tasks run again on the next start\n`,
      );
    }
    // Measured again: the drain finished the tasks in flight.
    progress = (await progressAfterDrain(config.store)) ?? progress;

    const bySignal = stopping === "SIGINT" || stopping === "SIGTERM";
    const summary = buildSummary(config.swarm, progress, counters, sections, started, bySignal);
    if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      const holds = summaryHolds(summary, sections);
      process.stdout.write(humanSummary(summary, counters, useColor(process.stdout), holds));
    }
    // A run stopped by a signal is interrupted (130); one meant to run until
    // stopped (--forever, `conclave agent`) ends as it should, if it held.
    if (bySignal && !options.forever) return 130;
    if (bySignal) return runExitCode(summary, sections, options.failOnDeadLetter === true);
    // A run that never started its workload kept no promise worth an exit 0.
    if (progress.submitted === 0) {
      process.stderr.write(`conclave: ${nothingSubmitted(counters, options.timeoutMs)}\n`);
      return 1;
    }
    return runExitCode(summary, sections, options.failOnDeadLetter === true);
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
  }
}

/**
 * The workload as stored once the swarm has drained. The drain closed the
 * swarm's store, so it is read on a store opened for the purpose; undefined
 * when that cannot be done (an in-memory SQLite store is gone with the swarm).
 */
async function progressAfterDrain(url: string): Promise<WorkloadProgress | undefined> {
  const location = parseStoreUrl(url);
  if (location.kind === "sqlite" && location.path === ":memory:") return undefined;
  const store = await openStore(url, { create: false }).catch(() => undefined);
  if (store === undefined) return undefined;
  try {
    return await workloadProgress(store);
  } catch {
    return undefined;
  } finally {
    await store.close().catch(() => undefined);
  }
}

/** How long a run that ended waits for its handlers still running. */
const DRAIN_LIMIT_MS = 10_000;

/**
 * Whether `work` settles before `deadline` (ms since epoch) and before
 * `stopped` says why the run stops. `work` goes on either way.
 */
async function settlesBy(
  work: Promise<unknown>,
  deadline: number,
  stopped: () => string | undefined,
): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const givenUp = new Promise<false>((resolve) => {
    const look = () => {
      if (stopped() !== undefined || Date.now() >= deadline) resolve(false);
      else timer = setTimeout(look, 100);
    };
    look();
  });
  const done = work.then(() => true);
  // Settling after the run gave up on it is not an unhandled rejection.
  done.catch(() => undefined);
  try {
    return await Promise.race([done, givenUp]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * 0 when the run kept its promises (nothing lost or applied twice, the
 * ledger exact, the audit log verified) and, with `failOnDeadLetter`, no
 * root task was dead-lettered; else 1.
 */
export function runExitCode(
  summary: RunSummary,
  sections: SummarySections,
  failOnDeadLetter: boolean,
): number {
  if (!summaryHolds(summary, sections)) return 1;
  return failOnDeadLetter && summary.tasks.deadLettered > 0 ? 1 : 0;
}

/** Why a single-process run submitted nothing: an agent given up on, with its last error, or the timeout. */
export function nothingSubmitted(counters: RunCounters, timeoutMs: number): string {
  const [agent, error] = [...counters.gaveUp].at(-1) ?? [];
  if (agent === undefined) {
    return `no task was submitted within ${Math.round(timeoutMs / 1000)} s; check that the agent that submits the workload is in the swarm file and runs here (--agents)`;
  }
  const all = [...counters.gaveUp.keys()].join(", ");
  return `no task was submitted: ${counters.gaveUp.size === 1 ? "agent" : "agents"} ${all} crashed and gave up after ${counters.gaveUp.size === 1 ? "its" : "their"} restarts; the last error (${agent}): ${error}`;
}

async function waitForWorkload(
  swarm: Swarm,
  options: RunOptions,
  counters: RunCounters,
  view: ProgressView,
  started: number,
  stopping: () => string | undefined,
): Promise<WorkloadProgress> {
  const deadline = started + options.timeoutMs;
  let last: WorkloadProgress | undefined;
  for (;;) {
    let p: WorkloadProgress;
    try {
      p = await workloadProgress(swarm.store);
    } catch (error) {
      // The store unreachable for a moment (a Postgres restart, a reset
      // connection) must not end the run: the agents ride it out, and so
      // does this watch. Past the deadline, the error stands.
      if (Date.now() > deadline && !options.forever) {
        if (last === undefined) throw error;
        return last;
      }
      await sleep(500);
      continue;
    }
    last = p;
    view.update(p, counters, Date.now() - started);
    const settled = p.submitted > 0 && p.pending === 0;
    if (stopping()) return p;
    // A full disk: nothing more can be committed here until space is freed.
    if (counters.storeFull !== undefined) return p;
    if (!options.forever && (settled || Date.now() > deadline)) return p;
    // Nothing submitted and an agent given up on (the one that submits the
    // workload, as a rule): nothing will be submitted any more.
    if (!options.forever && p.submitted === 0 && counters.gaveUp.size > 0) return p;
    await sleep(100);
  }
}

/** Operational events go to the log (stderr); task traffic only at debug. */
function logEvent(log: pino.Logger, event: SwarmEvent): void {
  switch (event.type) {
    case "error":
      log.error({ event: event.type }, event.error);
      break;
    case "agent.crashed":
    case "agent.gave_up":
      log.error({ event: event.type, agent: event.agent }, event.error);
      break;
    case "message.rejected":
      log.warn({ event: event.type, subject: event.subject, code: event.code }, event.reason);
      break;
    case "clock.outlier":
      log.error(
        { event: event.type, offsetMs: event.offsetMs, peers: event.peers },
        `this host's clock is ${Math.round(Math.abs(event.offsetMs) / 1000)} s ${event.offsetMs > 0 ? "behind" : "ahead of"} every other node's (${event.peers} heard); its agents take no tasks until it agrees again: synchronise the clock (NTP)`,
      );
      break;
    case "clock.agreed":
      log.info(
        { event: event.type },
        "this host's clock agrees with the other nodes' again; its agents take tasks",
      );
      break;
    case "trust.retrying":
      // A start-up race the runtime retries by itself: worth a line only when debugging.
      log.debug({ event: event.type, agent: event.agent }, event.reason);
      break;
    case "task.dead_lettered":
      log.warn({ event: event.type, id: event.id, subject: event.subject }, event.reason);
      break;
    case "agent.joined":
    case "agent.suspect":
    case "agent.left":
      log.info({ event: event.type, agent: event.card.id });
      break;
    default:
      log.debug(event);
  }
}

function writeEvent(event: SwarmEvent): void {
  const compact =
    "card" in event ? { ...event, card: { id: event.card.id, role: event.card.role } } : event;
  const line = { ts: Date.now(), ...compact };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** The summary as a person reads it (stdout without `--json`). */
export function humanSummary(
  s: RunSummary,
  counters: RunCounters,
  color: boolean,
  holds: boolean,
): string {
  const paint = (code: number, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  // The headline says what the exit code says (summaryHolds): an unbalanced
  // ledger or an audit log that does not verify is a problem too.
  const ok = holds;
  const lines = [
    "",
    `${paint(1, `swarm ${s.swarm}`)} — ${ok ? paint(32, "nothing lost") : paint(31, "PROBLEMS")} in ${(s.durationMs / 1000).toFixed(1)}s`,
    `  tasks submitted     ${s.tasks.submitted}`,
    `  completed           ${s.tasks.completed}`,
    `  dead-lettered       ${s.tasks.deadLettered}`,
    `  lost                ${s.tasks.lost === 0 ? s.tasks.lost : paint(31, String(s.tasks.lost))}`,
    ...(s.tasks.pending === undefined
      ? []
      : [`  pending             ${s.tasks.pending} (stopped: run it again to resume them)`]),
    `  duplicate effects   ${s.tasks.duplicateEffects === 0 ? 0 : paint(31, String(s.tasks.duplicateEffects))}`,
    `  retries             ${s.retries}`,
  ];
  if (s.otherRunTasks !== undefined) {
    lines.push(
      `  other runs' tasks   ${s.otherRunTasks} parked unrun in ${s.swarm}-other-runs (leftovers of an earlier run on this broker)`,
    );
  }
  if (s.ledger) {
    const ok = s.ledger.sum === s.ledger.minted && s.ledger.negative === 0;
    lines.push(
      `  ledger              minted ${s.ledger.minted}, accounts sum ${s.ledger.sum} ${ok ? "(balanced)" : paint(31, "(UNBALANCED)")}, ${s.ledger.negative} negative`,
      `  halted agents       ${s.ledger.halted.length === 0 ? "none" : s.ledger.halted.join(", ")}`,
    );
  }
  if (s.llm) {
    const l = s.llm;
    lines.push(
      `  model calls         ${l.calls} charged (${l.replayed} replayed this run, not sent), ${l.inputTokens} in / ${l.outputTokens} out tokens, ${l.cost} credits`,
    );
  }
  if (s.consensus) {
    const c = s.consensus;
    lines.push(
      `  consensus           ${c.proposals} proposals: ${c.approved} approved, ${c.rejected} rejected; ${c.byzantineDetected} byzantine votes caught`,
    );
  }
  if (s.auctions) {
    const a = s.auctions;
    lines.push(
      `  auctions            ${a.held} held: ${a.awarded} awarded, ${a.unsold} unsold; ${a.rejectedBids} bids refused`,
    );
  }
  if (counters.completedBy.size > 0) {
    lines.push("  handled by");
    for (const [agent, n] of [...counters.completedBy].sort())
      lines.push(`    ${agent.padEnd(18)}${n}`);
  }
  if (counters.deadReasons.size > 0) {
    lines.push("  dead-letter reasons");
    for (const [reason, n] of counters.deadReasons) lines.push(`    ${n} × ${reason}`);
  }
  return `${lines.join("\n")}\n`;
}
