/**
 * The pieces every chaos scenario shares: conclave processes it can pause,
 * kill and restart; a fault plan drawn from a seed before anything runs (so a
 * seed replays the same faults at the same offsets); and the history of what
 * was done when, printed with the verdict.
 */
import type { ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { seededRandom } from "../../src/core/random.js";
import { start } from "../cli/run-cli.js";
import type { ChaosProxy } from "./proxy.js";

/** A `conclave …` process of a scenario, restartable with the same arguments. */
export class SwarmProcess {
  readonly label: string;
  readonly #args: string[];
  readonly #cwd: string;
  #child: ChildProcess;
  #exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #stdout = "";
  #stderr = "";
  /** Every `conclave` start of this process so far. */
  starts = 0;
  /** Exits nobody asked for (crashes), each restarted when supervised. */
  readonly crashes: { readonly at: number; readonly code: number | null; readonly why: string }[] =
    [];
  /** Set while we kill or stop it on purpose: that exit is not a crash. */
  #expected = false;
  #supervised = false;

  /** `logPrefix` names its CHAOS_LOGS files (the scenario). */
  constructor(
    label: string,
    args: string[],
    cwd: string,
    readonly logPrefix = "",
    /** Added to the environment of every start (e.g. `CONCLAVE_CLOCK_OFFSET_MS`). */
    readonly env: Readonly<Record<string, string>> = {},
  ) {
    this.label = label;
    this.#args = args;
    this.#cwd = cwd;
    [this.#child, this.#exit] = this.#spawn();
  }

  /**
   * Restarts it 300 ms after an exit nobody asked for, as `conclave up
   * --processes` supervises its children, until {@link unsupervise}.
   */
  supervise(): void {
    this.#supervised = true;
  }
  unsupervise(): void {
    this.#supervised = false;
  }

  #watch(exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>): void {
    void exit.then(async ({ code }) => {
      // The producer ends by itself once the workload settled, with its summary.
      if (this.#expected || !this.#supervised || this.#stdout.includes('"type":"summary"')) return;
      const why =
        this.#stderr
          .split("\n")
          // "conclave: <message> [E_CODE]" is how the CLI ends on a ConclaveError.
          .find((l) => /Error:|lost the connection|^conclave: /.test(l))
          ?.slice(0, 300) ?? "";
      this.crashes.push({ at: Date.now(), code, why });
      await sleep(300);
      if (!this.#expected && this.#supervised && !this.running) {
        [this.#child, this.#exit] = this.#spawn();
      }
    });
  }

  #spawn(): [ChildProcess, Promise<{ code: number | null; signal: NodeJS.Signals | null }>] {
    this.starts++;
    const child = start(this.#args, this.#cwd, this.env);
    // CHAOS_LOGS=<dir> keeps every process's output, one file per start.
    const logs = process.env["CHAOS_LOGS"];
    if (logs) {
      mkdirSync(logs, { recursive: true });
      const out = createWriteStream(
        join(logs, `${this.logPrefix}${this.label}.${this.starts}.log`),
      );
      child.stdout?.pipe(out);
      child.stderr?.pipe(out);
    }
    child.stdout?.on("data", (d: Buffer) => {
      this.#stdout = (this.#stdout + d.toString()).slice(-200_000);
    });
    child.stderr?.on("data", (d: Buffer) => {
      this.#stderr = (this.#stderr + d.toString()).slice(-20_000);
    });
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once("close", (code, signal) => resolve({ code, signal })),
    );
    this.#expected = false;
    this.#stderr = "";
    this.#stdout = "";
    this.#watch(exit);
    return [child, exit];
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }
  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }
  get exited() {
    return this.#exit;
  }
  get stdout(): string {
    return this.#stdout;
  }
  get stderr(): string {
    return this.#stderr;
  }
  signal(signal: NodeJS.Signals): void {
    if (this.running) this.#child.kill(signal);
  }
  /** SIGKILL (no drain, no goodbye), and wait for the exit. */
  async kill(): Promise<void> {
    this.#expected = true;
    this.signal("SIGCONT");
    this.signal("SIGKILL");
    await this.#exit;
  }
  /** Starts it again with the same arguments (after {@link kill}). */
  restart(): void {
    if (this.running) throw new Error(`${this.label} still runs`);
    [this.#child, this.#exit] = this.#spawn();
  }
  /** SIGTERM (a drain), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    this.#expected = true;
    if (!this.running) return;
    this.signal("SIGCONT");
    this.signal("SIGTERM");
    const forced = setTimeout(() => this.signal("SIGKILL"), graceMs);
    await this.#exit;
    clearTimeout(forced);
  }
}

export type FaultKind = "cut" | "blackhole" | "delay" | "pause" | "kill" | "stop";

/** One fault of a plan: `kind` on `target` at `atMs` after the workload started, for `forMs`. */
export interface PlannedFault {
  readonly atMs: number;
  readonly kind: FaultKind;
  readonly target: string;
  readonly forMs: number;
  /** For `delay`: how late each chunk is forwarded. */
  readonly delayMs?: number;
  /** For `stop`: how the service stops (e.g. `fast`, `immediate`, `graceful`, `kill`). */
  readonly mode?: string;
  /** For a fault of several steps (two servers killed one after the other): the time between steps. */
  readonly stepMs?: number;
}

/** What was done, when (ms after the workload started), as the history prints it. */
export interface FaultRecord extends PlannedFault {
  /** When it healed (SIGCONT, restart, proxy healed), ms after the workload started. */
  readonly healedAtMs: number;
}

/** The seeded generator every scenario draws its plan from. */
export const rngFor = seededRandom;

/** A uniform integer in [low, high] from `rng`. */
export function between(rng: { next(): number }, low: number, high: number): number {
  return low + Math.floor(rng.next() * (high - low + 1));
}

/** One of `items`, drawn from `rng`. */
export const pick = <T>(rng: { next(): number }, items: readonly T[]): T =>
  items[Math.floor(rng.next() * items.length)] as T;

/** `count` faults one after the other, each after a quiet gap drawn from `gapMs`. */
export function sequence(
  seed: number,
  count: number,
  draw: (rng: { next(): number }) => Omit<PlannedFault, "atMs">,
  gapMs: readonly [number, number],
): PlannedFault[] {
  const rng = rngFor(seed);
  const plan: PlannedFault[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    at += between(rng, gapMs[0], gapMs[1]);
    const fault = { atMs: at, ...draw(rng) };
    plan.push(fault);
    at += fault.forMs;
  }
  return plan;
}

/** What a fault can act on: a process, and the proxy between it and the broker. */
export interface Target {
  readonly process: SwarmProcess;
  readonly proxy: ChaosProxy;
}

/** A target that applies and heals faults itself (the servers of a broker cluster). */
export interface CustomTarget {
  apply(fault: PlannedFault): Promise<void>;
  heal(fault: PlannedFault): Promise<void>;
}

/**
 * A server a scenario stops and starts again (`stop` faults): the broker
 * node, the store's database server.
 */
export interface Service {
  stop(mode?: string): Promise<void>;
  /** Resolves once it accepts connections again. */
  start(): Promise<void>;
}

/**
 * Applies `plan` in order, each fault healed before the next starts;
 * stops early when `done()` holds. Returns the history, and tracks when the
 * last fault healed (undefined while one is in force) for the stuck check.
 */
export class FaultRunner {
  readonly history: FaultRecord[] = [];
  #active = false;
  #healedAt: number;
  readonly #started: number;

  constructor(
    readonly plan: readonly PlannedFault[],
    readonly targets: ReadonlyMap<string, Target | Service | CustomTarget>,
    readonly log: (line: string) => void,
  ) {
    this.#started = Date.now();
    this.#healedAt = this.#started;
  }

  /** When the last fault healed; undefined while one is in force. */
  healedAt = (): number | undefined => (this.#active ? undefined : this.#healedAt);

  async run(done: () => boolean): Promise<void> {
    for (const fault of this.plan) {
      const wait = this.#started + fault.atMs - Date.now();
      if (wait > 0) await sleep(wait);
      if (done()) return;
      const target = this.targets.get(fault.target);
      if (!target) throw new Error(`no target ${fault.target}`);
      const at = Date.now() - this.#started;
      this.#active = true;
      this.log(`  t=${at}ms (${Date.now()}) ${fault.kind} ${fault.target} for ${fault.forMs}ms`);
      await ("apply" in target ? target.apply(fault) : apply(fault, target));
      await sleep(fault.forMs);
      await ("heal" in target ? target.heal(fault) : heal(fault, target));
      this.#active = false;
      this.#healedAt = Date.now();
      const healedAtMs = this.#healedAt - this.#started;
      this.history.push({ ...fault, atMs: at, healedAtMs });
      this.log(`  t=${healedAtMs}ms healed ${fault.target}`);
    }
  }
}

const isService = (target: Target | Service): target is Service => "start" in target;

/** `target` as what `fault` acts on; throws when the plan names the wrong kind of target. */
function asTarget(fault: PlannedFault, target: Target | Service): Target {
  if (isService(target))
    throw new Error(`${fault.kind} needs a process target, not ${fault.target}`);
  return target;
}

async function apply(fault: PlannedFault, target: Target | Service): Promise<void> {
  if (fault.kind === "stop") {
    if (!isService(target)) throw new Error(`stop needs a service target, not ${fault.target}`);
    return target.stop(fault.mode);
  }
  return applyToProcess(fault, asTarget(fault, target));
}

async function applyToProcess(fault: PlannedFault, target: Target): Promise<void> {
  switch (fault.kind) {
    case "cut":
      return target.proxy.cut();
    case "blackhole":
      return target.proxy.blackhole();
    case "delay":
      return target.proxy.delay(fault.delayMs ?? 200);
    case "pause":
      return target.process.signal("SIGSTOP");
    case "kill":
      return target.process.kill();
  }
}

async function heal(fault: PlannedFault, target: Target | Service): Promise<void> {
  if (isService(target)) return target.start();
  return healProcess(fault, asTarget(fault, target));
}

async function healProcess(fault: PlannedFault, target: Target): Promise<void> {
  switch (fault.kind) {
    case "cut":
    case "blackhole":
    case "delay":
      return target.proxy.heal();
    case "pause":
      return target.process.signal("SIGCONT");
    case "kill":
      return target.process.restart();
  }
}
