import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { join, resolve } from "node:path";

/** The repository root. */
export const root = resolve(import.meta.dirname, "..", "..");
const bin = join(root, "src", "cli", "bin.ts");
// Resolved here so the child finds tsx whatever its working directory.
const tsx = import.meta.resolve("tsx");
/** The review swarm's handlers, for swarm files written by tests. */
export const agents = join(root, "examples", "review-swarm", "agents.mjs");

/** What {@link reviewSwarmYaml} writes besides the review swarm's roles and agents. */
export interface ReviewSwarmOptions {
  readonly name: string;
  /** Lines after the name (e.g. `dataDir: …` or `store: …`), each ending in a newline. */
  readonly head?: string;
  /** More agent lines, e.g. `{ id: dev-3, role: developer }`. */
  readonly moreAgents?: readonly string[];
  readonly workload: Readonly<Record<string, number>>;
}

/** A swarm file running the review swarm's handlers with quick timings, for CLI tests. */
export function reviewSwarmYaml(options: ReviewSwarmOptions): string {
  const more = (options.moreAgents ?? []).map((agent) => `  - ${agent}\n`).join("");
  return `swarm: ${options.name}
${options.head ?? ""}module: ${agents}
defaults: { ackWaitMs: 2000, maxDeliver: 4, concurrency: 4, backoff: { baseMs: 10, maxMs: 100 }, heartbeatMs: 200 }
roles:
  architect: {}
  developer: { tasks: [code] }
  sentinel: { tasks: [scan] }
  auditor: { tasks: [audit] }
agents:
  - { id: architect, role: architect }
  - { id: dev-1, role: developer }
  - { id: dev-2, role: developer }
  - { id: sentinel, role: sentinel }
  - { id: auditor, role: auditor }
${more}workload: ${JSON.stringify(options.workload)}
`;
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts `conclave <args>` in `cwd`, as a user would from a shell, with `env` added. */
export function start(
  args: string[],
  cwd: string,
  env: Readonly<Record<string, string>> = {},
): ChildProcess {
  return spawn(process.execPath, ["--import", tsx, bin, ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Waits for a started command, collecting its output. */
export function finish(child: ChildProcess): Promise<Run> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((done) => {
    child.on("close", (code, signal) => done({ code, signal, stdout, stderr }));
  });
}

/** Runs `conclave <args>` in `cwd` to the end. */
export const run = (args: string[], cwd: string) => finish(start(args, cwd));

export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

export interface Summary {
  type: string;
  tasks: {
    submitted: number;
    completed: number;
    deadLettered: number;
    lost: number;
    duplicateEffects: number;
  };
}

/** The summary line `up --json` and `demo --json` end with. */
export function summaryOf(stdout: string): Summary {
  const last = jsonLines(stdout).at(-1) as unknown as Summary;
  assert.equal(last.type, "summary", "the last line is the summary");
  return last;
}
