import { rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import type { SwarmConfig as SwarmFile } from "../config/schema.js";
import { ConclaveError, ConfigError } from "../errors/index.js";
import { verifyAudit } from "./audit.js";
import { runDoctor } from "./doctor.js";
import { generateKeys } from "./keys.js";
import { fundAgent, type LedgerTarget, showLedger } from "./ledger.js";
import { runDistributed } from "./processes.js";
import { type RunOptions, runSwarmFile } from "./run.js";

/** Exit codes: 0 ok, 1 failure, 2 usage or configuration error. */
const EXIT = Object.freeze({ ok: 0, failure: 1, usage: 2 });

const here = dirname(fileURLToPath(import.meta.url));
/** The package root: the same depth from src/cli and dist/cli. */
const packageRoot = resolve(here, "..", "..");
const demoSwarm = join(packageRoot, "examples", "review-swarm", "swarm.yaml");

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError("expected a whole number of at least 1");
  return n;
}

interface UpOptions {
  json: boolean;
  agents?: string;
  tasks?: number;
  forever: boolean;
  timeout: number;
  transport?: string;
  store?: string;
  dataDir?: string;
}

interface DemoOptions {
  tasks: number;
  json: boolean;
  dataDir: string;
  resume: boolean;
  timeout: number;
  transport?: string;
  processes?: number;
}

function target(opts: { store?: string; swarm?: string }): LedgerTarget {
  return {
    ...(opts.store ? { store: opts.store } : {}),
    ...(opts.swarm ? { swarm: resolve(opts.swarm) } : {}),
  };
}

function upOptions(opts: UpOptions): Omit<RunOptions, "logLevel"> {
  const agents = opts.agents
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    json: opts.json,
    timeoutMs: opts.timeout * 1000,
    forever: opts.forever,
    ...(opts.tasks ? { workload: { tasks: opts.tasks } } : {}),
    ...(agents ? { agents } : {}),
    configure: (config) => overrides(config, opts),
  };
}

/** Applies --transport, --store and --data-dir to a loaded swarm file. */
function overrides(
  config: SwarmFile,
  opts: { transport?: string; store?: string; dataDir?: string },
): SwarmFile {
  const dataDir = opts.dataDir ? resolve(opts.dataDir) : undefined;
  return {
    ...config,
    ...(opts.transport ? { transport: opts.transport } : {}),
    ...(opts.store ? { store: opts.store } : {}),
    ...(dataDir ? { dataDir, keysDir: join(dataDir, "keys") } : {}),
  };
}

async function runDemo(opts: DemoOptions, logLevel: string): Promise<number> {
  const dataDir = resolve(opts.dataDir);
  const transport = opts.transport ?? "memory";
  const store = join(dataDir, "review-swarm.db");
  if (!opts.resume) {
    for (const file of [store, join(dataDir, "review-swarm.journal.db")]) {
      for (const suffix of ["", "-wal", "-shm"]) rmSync(file + suffix, { force: true });
    }
  }
  const common = { transport, store: `sqlite:${store}`, dataDir };
  if (opts.processes && opts.processes > 1) {
    return runDistributed(demoSwarm, {
      processes: opts.processes,
      json: opts.json,
      timeoutMs: opts.timeout * 1000,
      workload: { tasks: opts.tasks },
      childArgs: [
        "--transport",
        transport,
        "--store",
        common.store,
        "--data-dir",
        dataDir,
        "--timeout",
        String(opts.timeout),
      ],
      configure: (config) => overrides(config, common),
    });
  }
  return runSwarmFile(demoSwarm, {
    json: opts.json,
    logLevel,
    workload: { tasks: opts.tasks },
    timeoutMs: opts.timeout * 1000,
    forever: false,
    configure: (config) => overrides(config, common),
  });
}

function program(): Command {
  const cli = new Command("conclave")
    .description("Swarms of agents that coordinate over an event bus.")
    .version("0.1.0")

    .option(
      "--log-level <level>",
      "log level on stderr: fatal, error, warn, info, debug, silent (default: warn; error for the demo, whose dead letters are expected)",
    )
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  cli
    .command("demo")
    .description(
      "run the review swarm (examples/review-swarm): in this process on the embedded default, or over --processes on a broker",
    )
    .option("--tasks <n>", "coding tasks the architect publishes", positiveInt, 200)
    .option("--json", "one JSON event per line on stdout; the last line is the summary", false)
    .option("--data-dir <dir>", "where the demo keeps its SQLite files", ".conclave/demo")
    .option("--resume", "continue the previous demo run instead of starting afresh", false)
    .option("--transport <url>", "memory (default), nats://host:port or amqp://user:pass@host:port")
    .option(
      "--processes <n>",
      "spread the agents over this many OS processes (needs a broker)",
      positiveInt,
    )
    .addOption(
      new Option("--timeout <seconds>", "give up after this long")
        .argParser(positiveInt)
        .default(300),
    )
    .action(async (opts: DemoOptions) => {
      process.exitCode = await runDemo(opts, cli.opts<{ logLevel?: string }>().logLevel ?? "error");
    });

  cli
    .command("up")
    .description("run a swarm file in this process until its workload settles (or forever)")
    .argument("<swarm.yaml>", "the swarm file")
    .option("--json", "one JSON event per line on stdout; the last line is the summary", false)
    .option("--agents <ids>", "only run these agents here (comma-separated)")
    .option("--tasks <n>", "override workload.tasks", positiveInt)
    .option("--forever", "keep running after the workload settles, until SIGINT/SIGTERM", false)
    .option("--transport <url>", "override the file's transport")
    .option("--store <url>", "override the file's store (sqlite:<path> or postgres://…)")
    .option(
      "--data-dir <dir>",
      "override the file's dataDir (keys and the embedded journal live there)",
    )
    .addOption(
      new Option("--timeout <seconds>", "give up waiting for the workload after this long")
        .argParser(positiveInt)
        .default(3600),
    )
    .action(async (file: string, opts: UpOptions) => {
      process.exitCode = await runSwarmFile(resolve(file), {
        ...upOptions(opts),
        logLevel: cli.opts<{ logLevel?: string }>().logLevel ?? "warn",
      });
    });

  cli
    .command("agent")
    .description(
      "run one or more agents of a swarm file as this process, joining the swarm over its broker",
    )
    .requiredOption("--swarm <file>", "the swarm file")
    .requiredOption("--id <ids>", "agent id(s) to run here (comma-separated)")
    .option("--json", "one JSON event per line on stdout", false)
    .option("--transport <url>", "override the file's transport")
    .option("--store <url>", "override the file's store")
    .option("--data-dir <dir>", "override the file's dataDir")
    .action(
      async (opts: {
        swarm: string;
        id: string;
        json: boolean;
        transport?: string;
        store?: string;
        dataDir?: string;
      }) => {
        process.exitCode = await runSwarmFile(resolve(opts.swarm), {
          ...upOptions({ ...opts, agents: opts.id, forever: true, timeout: 3600 }),
          logLevel: cli.opts<{ logLevel?: string }>().logLevel ?? "warn",
        });
      },
    );

  const ledger = cli.command("ledger").description("the swarm's credit ledger");
  ledger
    .command("show")
    .description(
      "accounts, escrow, spend per agent and per model; exit 1 if the ledger is inconsistent",
    )
    .option("--store <url>", "the store (sqlite:<path> or postgres://…)")
    .option("--swarm <file>", "take the store from this swarm file")
    .option("--json", "print the report as JSON (with minted and sum)", false)
    .action(async (opts: { store?: string; swarm?: string; json: boolean }) => {
      process.exitCode = await showLedger(target(opts), opts.json);
    });
  ledger
    .command("fund")
    .description("mint credits to an agent; a halted agent resumes")
    .argument("<agent>", "agent id")
    .argument("<amount>", "whole credits")
    .option("--store <url>", "the store (sqlite:<path> or postgres://…)")
    .option("--swarm <file>", "take the store from this swarm file")
    .option("--json", "print the result as JSON", false)
    .action(
      async (
        agent: string,
        amount: string,
        opts: { store?: string; swarm?: string; json: boolean },
      ) => {
        process.exitCode = await fundAgent(target(opts), agent, amount, opts.json);
      },
    );

  const audit = cli.command("audit").description("the audit log of consensus decisions");
  audit
    .command("verify")
    .description(
      "recompute every decision offline (signatures, tallies, seals, links); exit 1 naming the first bad entry",
    )
    .option("--store <url>", "the store (sqlite:<path> or postgres://…)")
    .option("--swarm <file>", "take the store from this swarm file, and check its privileged rules")
    .option("--json", "print the verdict as JSON", false)
    .action(async (opts: { store?: string; swarm?: string; json: boolean }) => {
      process.exitCode = await verifyAudit(target(opts), opts.json);
    });

  const keys = cli.command("keys").description("manage agent key pairs");
  keys
    .command("gen")
    .description("generate Ed25519 key pairs for agents (files with mode 0600)")
    .argument("<agent-ids...>", "agent ids")
    .option("--dir <dir>", "key folder", ".conclave/keys")
    .option("--force", "overwrite existing keys", false)
    .option("--json", "print the public keys as JSON", false)
    .action(async (ids: string[], opts: { dir: string; force: boolean; json: boolean }) => {
      process.exitCode = await generateKeys(ids, {
        dir: resolve(opts.dir),
        force: opts.force,
        json: opts.json,
      });
    });

  cli
    .command("doctor")
    .description("check this machine can run a swarm: Node version, store path, transport")
    .option("--swarm <file>", "the swarm file to check against")
    .option("--json", "print the checks as JSON", false)
    .action(async (opts: { swarm?: string; json: boolean }) => {
      process.exitCode = await runDoctor({
        ...(opts.swarm ? { swarm: resolve(opts.swarm) } : {}),
        json: opts.json,
      });
    });

  return cli;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    await program().parseAsync([...argv], { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`conclave: ${error.message}\n`);
      return EXIT.usage;
    }
    if (error instanceof ConclaveError) {
      process.stderr.write(`conclave: ${error.message} [${error.code}]\n`);
      return EXIT.failure;
    }
    process.stderr.write(
      `conclave: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return EXIT.failure;
  }
}
