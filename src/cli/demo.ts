import { mkdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadSwarmConfig } from "../config/load.js";
import { applyOverrides, type SwarmOverrides } from "../config/overrides.js";
import type { SwarmConfig as SwarmFile } from "../config/schema.js";
import { ConfigError } from "../errors/index.js";
import { journalPath } from "../runtime/from-config.js";
import { parseStoreUrl } from "../store/open-store.js";
import { whileNoProcessRuns } from "./fresh.js";
import { writingTo } from "./output-path.js";
import { runDistributed } from "./processes.js";
import { runSwarmFile } from "./run.js";

const here = dirname(fileURLToPath(import.meta.url));
/** The package root: the same depth from src/cli and dist/cli. */
const packageRoot = resolve(here, "..", "..");

/** The swarm file `conclave demo` runs. */
export const DEMO_SWARM_FILE = join(packageRoot, "examples", "review-swarm", "swarm.yaml");
/** Where `conclave demo` keeps its state unless given `--data-dir`; relative to the working directory. */
export const DEMO_DATA_DIR = join(".conclave", "demo");

export interface DemoOptions {
  tasks: number;
  json: boolean;
  dataDir: string;
  resume: boolean;
  timeout: number;
  transport?: string;
  processes?: number;
}

/**
 * The demo's swarm file with its state moved to `dataDir` (default
 * {@link DEMO_DATA_DIR}): its store is `<dataDir>/review-swarm.db`.
 */
export async function demoConfig(overrides: SwarmOverrides = {}): Promise<SwarmFile> {
  return applyOverrides(await loadSwarmConfig(DEMO_SWARM_FILE), {
    dataDir: DEMO_DATA_DIR,
    ...overrides,
  });
}

/** `conclave demo`: the review swarm, afresh unless `--resume`, in this process or over `--processes`. */
export async function runDemo(opts: DemoOptions, logLevel: string): Promise<number> {
  const dataDir = resolve(opts.dataDir);
  const transport = opts.transport ?? "memory";
  const overrides = { transport, dataDir };
  const config = await demoConfig(overrides);
  // Refused before the previous run's state is deleted, not after.
  if (opts.processes && opts.processes > 1 && transport === "memory") {
    throw new ConfigError(
      "--processes needs a broker every process can reach: pass --transport nats://… or amqp://…",
    );
  }
  // A data folder that is a file or not writable is the user's to change (exit 2).
  await writingTo({ what: "the demo's state", path: dataDir, option: "--data-dir" }, () => {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if (opts.resume) return;
    const store = parseStoreUrl(config.store);
    const files = [journalPath(config), ...(store.kind === "sqlite" ? [store.path] : [])];
    // Not the state of a demo another process is running.
    return whileNoProcessRuns(config, () => {
      for (const file of files) {
        for (const suffix of ["", "-wal", "-shm"]) rmSync(file + suffix, { force: true });
      }
    });
  });
  const configure = (loaded: SwarmFile) => applyOverrides(loaded, overrides);
  if (opts.processes && opts.processes > 1) {
    return runDistributed(DEMO_SWARM_FILE, {
      processes: opts.processes,
      json: opts.json,
      timeoutMs: opts.timeout * 1000,
      workload: { tasks: opts.tasks },
      childArgs: [
        "--transport",
        transport,
        "--store",
        config.store,
        "--data-dir",
        dataDir,
        "--timeout",
        String(opts.timeout),
      ],
      configure,
      logLevel,
    });
  }
  return runSwarmFile(DEMO_SWARM_FILE, {
    json: opts.json,
    logLevel,
    workload: { tasks: opts.tasks },
    timeoutMs: opts.timeout * 1000,
    forever: false,
    configure,
  });
}
