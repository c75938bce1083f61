import { rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { ConclaveError, ConfigError } from "../errors/index.js";
import { runDoctor } from "./doctor.js";
import { generateKeys } from "./keys.js";
import { runSwarmFile } from "./run.js";

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
      "run the review swarm (examples/review-swarm) in this process on the embedded default",
    )
    .option("--tasks <n>", "coding tasks the architect publishes", positiveInt, 200)
    .option("--json", "one JSON event per line on stdout; the last line is the summary", false)
    .option("--data-dir <dir>", "where the demo keeps its SQLite files", ".conclave/demo")
    .option("--resume", "continue the previous demo run instead of starting afresh", false)
    .addOption(
      new Option("--timeout <seconds>", "give up after this long")
        .argParser(positiveInt)
        .default(300),
    )
    .action(
      async (opts: {
        tasks: number;
        json: boolean;
        dataDir: string;
        resume: boolean;
        timeout: number;
      }) => {
        const dataDir = resolve(opts.dataDir);
        process.exitCode = await runSwarmFile(demoSwarm, {
          json: opts.json,
          logLevel: cli.opts<{ logLevel?: string }>().logLevel ?? "error",
          workload: { tasks: opts.tasks },
          timeoutMs: opts.timeout * 1000,
          forever: false,
          configure: (config) => {
            const store = join(dataDir, `${config.swarm}.db`);
            if (!opts.resume) {
              for (const file of [store, join(dataDir, `${config.swarm}.journal.db`)]) {
                for (const suffix of ["", "-wal", "-shm"]) rmSync(file + suffix, { force: true });
              }
            }
            return { ...config, dataDir, keysDir: join(dataDir, "keys"), store: `sqlite:${store}` };
          },
        });
      },
    );

  cli
    .command("up")
    .description("run a swarm file in this process until its workload settles (or forever)")
    .argument("<swarm.yaml>", "the swarm file")
    .option("--json", "one JSON event per line on stdout; the last line is the summary", false)
    .option("--agents <ids>", "only run these agents here (comma-separated)")
    .option("--tasks <n>", "override workload.tasks", positiveInt)
    .option("--forever", "keep running after the workload settles, until SIGINT/SIGTERM", false)
    .addOption(
      new Option("--timeout <seconds>", "give up waiting for the workload after this long")
        .argParser(positiveInt)
        .default(3600),
    )
    .action(
      async (
        file: string,
        opts: { json: boolean; agents?: string; tasks?: number; forever: boolean; timeout: number },
      ) => {
        process.exitCode = await runSwarmFile(resolve(file), {
          json: opts.json,
          logLevel: cli.opts<{ logLevel?: string }>().logLevel ?? "warn",
          timeoutMs: opts.timeout * 1000,
          forever: opts.forever,
          ...(opts.tasks ? { workload: { tasks: opts.tasks } } : {}),
          ...(opts.agents
            ? {
                agents: opts.agents
                  .split(",")
                  .map((s) => s.trim())
                  .filter(Boolean),
              }
            : {}),
        });
      },
    );

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
