/**
 * The commands that run a swarm: `demo`, `init`, `up`, `agent`, `mcp`, and
 * `gateway a2a` (registered on its own, where `--help` has always listed it).
 */
import { resolve } from "node:path";
import { type Command, Option } from "commander";
import { loadSwarmConfig } from "../config/load.js";
import { applyOverrides } from "../config/overrides.js";
import { ConfigError } from "../errors/index.js";
import { agentList, DASHBOARD_PORT, port, positiveInt, transportUrl } from "./cli-options.js";
import { DEMO_DATA_DIR, type DemoOptions, runDemo } from "./demo.js";
import { freshStart } from "./fresh.js";
import { initProject, TEMPLATES } from "./init.js";
import { runDistributed } from "./processes.js";
import { type RunOptions, runSwarmFile } from "./run.js";

interface UpOptions {
  json: boolean;
  agents?: string[];
  tasks?: number;
  forever: boolean;
  timeout: number;
  transport?: string;
  store?: string;
  dataDir?: string;
  metrics?: number;
  metricsHost?: string;
  processes?: number;
  failOnDeadLetter?: boolean;
  dashboard?: number | true;
  dashboardHost?: string;
}

function upOptions(opts: UpOptions): Omit<RunOptions, "logLevel"> {
  const { agents } = opts;
  // A host without its server would be ignored without a word.
  if (opts.metricsHost !== undefined && opts.metrics === undefined) {
    throw new ConfigError("--metrics-host binds the metrics endpoint: add --metrics <port>");
  }
  if (opts.dashboardHost !== undefined && opts.dashboard === undefined) {
    throw new ConfigError("--dashboard-host binds the dashboard: add --dashboard [port]");
  }
  return {
    json: opts.json,
    timeoutMs: opts.timeout * 1000,
    forever: opts.forever,
    ...(opts.failOnDeadLetter ? { failOnDeadLetter: true } : {}),
    ...(opts.tasks ? { workload: { tasks: opts.tasks } } : {}),
    ...(agents ? { agents } : {}),
    ...(opts.metrics === undefined
      ? {}
      : {
          metrics: {
            port: opts.metrics,
            ...(opts.metricsHost === undefined ? {} : { host: opts.metricsHost }),
          },
        }),
    ...(opts.dashboard === undefined
      ? {}
      : {
          dashboard: {
            port: opts.dashboard === true ? DASHBOARD_PORT : opts.dashboard,
            ...(opts.dashboardHost === undefined ? {} : { host: opts.dashboardHost }),
          },
        }),
    configure: (config) =>
      applyOverrides(config, {
        ...(opts.transport ? { transport: opts.transport } : {}),
        ...(opts.store ? { store: opts.store } : {}),
        ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
      }),
  };
}

/**
 * With `--processes`, this process only supervises children that run the
 * agents: the options that shape the process hosting the agents would be
 * dropped without a word, so each is a usage error saying what to do instead.
 */
function refuseWithProcesses(opts: UpOptions): void {
  const refused: [boolean, string][] = [
    [
      opts.dashboard !== undefined,
      "--dashboard cannot be combined with --processes: the agents run in the child processes; watch them with `conclave dashboard --swarm FILE` (it reads the broker and the store)",
    ],
    [
      opts.metrics !== undefined,
      "--metrics cannot be combined with --processes: the agents run in the child processes; run them as `conclave agent --swarm FILE --id … --metrics PORT` to scrape each",
    ],
    [
      opts.agents !== undefined,
      "--agents cannot be combined with --processes, which deals every agent of the file; run a subset with `conclave agent --swarm FILE --id a,b`",
    ],
    [
      opts.forever,
      "--forever cannot be combined with --processes, which ends when the workload settles; keep agents running with `conclave agent --swarm FILE --id …`",
    ],
  ];
  const first = refused.find(([given]) => given);
  if (first !== undefined) throw new ConfigError(first[1]);
}

/** Adds the commands that run a swarm (or write one) to `cli`. */
export function runCommands(cli: Command): void {
  cli
    .command("demo")
    .description(
      "run the review swarm (examples/review-swarm): in this process on the embedded default, or over --processes on a broker",
    )
    .option("--tasks <n>", "coding tasks the architect publishes", positiveInt, 200)
    .option("--json", "one JSON event per line on stdout; the last line is the summary", false)
    .option(
      "--data-dir <dir>",
      "where the demo keeps its store, queue journal and keys (ledger show and audit verify read it from the default)",
      DEMO_DATA_DIR,
    )
    .option("--resume", "continue the previous demo run instead of starting afresh", false)
    .option(
      "--transport <url>",
      "memory (default), nats://host:port or amqp://user:pass@host:port",
      transportUrl,
    )
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
    .command("init")
    .description(
      "write a new swarm project: swarm.yaml, a typed agent module, a voter policy, a test, package.json and a README",
    )
    .argument("[dir]", "the folder to write into (made if missing; must be empty)", ".")
    .addOption(
      new Option(
        "--template <name>",
        "what the swarm does: blank (no model, no network), review (a review pipeline with a vote, no network), research (LLM agents on any OpenAI-compatible endpoint)",
      )
        .choices(TEMPLATES)
        .default("blank"),
    )
    .option(
      "--force",
      "write into a folder that is not empty, overwriting the template's files",
      false,
    )
    .action(async (dir: string, opts: { template: string; force: boolean }) => {
      process.exitCode = await initProject(dir, opts);
    });

  cli
    .command("up")
    .description("run a swarm file in this process until its workload settles (or forever)")
    .argument("<swarm.yaml>", "the swarm file")
    .option("--json", "one JSON event per line on stdout; the last line is the summary", false)
    .option("--agents <ids>", "only run these agents here (comma-separated)", agentList)
    .option("--tasks <n>", "override workload.tasks", positiveInt)
    .option("--forever", "keep running after the workload settles, until SIGINT/SIGTERM", false)
    .option("--transport <url>", "override the file's transport", transportUrl)
    .option("--store <url>", "override the file's store (sqlite:<path> or postgres://…)")
    .option(
      "--data-dir <dir>",
      "override the file's dataDir: the embedded journal, and the store and keys unless the file places them elsewhere",
    )
    .addOption(
      new Option("--timeout <seconds>", "give up waiting for the workload after this long")
        .argParser(positiveInt)
        .default(3600),
    )
    .option(
      "--metrics <port>",
      "serve Prometheus metrics at http://HOST:PORT/metrics (0: a free port, printed)",
      port,
    )
    .option("--metrics-host <host>", "the address the metrics endpoint binds (default 127.0.0.1)")
    .option(
      "--dashboard [port]",
      `serve the live dashboard while the swarm runs (default port ${DASHBOARD_PORT}; the link with its token is printed)`,
      port,
    )
    .option("--dashboard-host <host>", "the address the dashboard binds (default 127.0.0.1)")
    .option(
      "--processes <n>",
      "spread the agents over this many supervised OS processes (needs a broker: --transport or the file's)",
      positiveInt,
    )
    .option("--fail-on-dead-letter", "exit 1 when any root task was dead-lettered", false)
    .option(
      "--fresh",
      "start the run anew: delete the previous run's SQLite store and queue journal (keys are kept)",
      false,
    )
    .option("--yes", "with --fresh: do not ask", false)
    .action(async (file: string, opts: UpOptions & { fresh: boolean; yes: boolean }) => {
      if (opts.processes !== undefined && opts.processes > 1) refuseWithProcesses(opts);
      if (opts.fresh) {
        const config = upOptions(opts).configure?.(await loadSwarmConfig(resolve(file)));
        if (config && !(await freshStart(config, opts.yes))) {
          process.stderr.write("nothing deleted; not started\n");
          process.exitCode = 1;
          return;
        }
      }
      if (opts.processes !== undefined && opts.processes > 1) {
        const run = upOptions(opts);
        const { logLevel } = cli.opts<{ logLevel?: string }>();
        process.exitCode = await runDistributed(resolve(file), {
          processes: opts.processes,
          json: opts.json,
          timeoutMs: run.timeoutMs,
          ...(run.workload ? { workload: run.workload } : {}),
          childArgs: [
            ...(opts.transport ? ["--transport", opts.transport] : []),
            ...(opts.store ? ["--store", opts.store] : []),
            ...(opts.dataDir ? ["--data-dir", resolve(opts.dataDir)] : []),
            "--timeout",
            String(opts.timeout),
          ],
          ...(run.configure ? { configure: run.configure } : {}),
          ...(opts.failOnDeadLetter ? { failOnDeadLetter: true } : {}),
          ...(logLevel === undefined ? {} : { logLevel }),
        });
        return;
      }
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
    .requiredOption("--id <ids>", "agent id(s) to run here (comma-separated)", agentList)
    .option("--json", "one JSON event per line on stdout", false)
    .option("--transport <url>", "override the file's transport", transportUrl)
    .option("--store <url>", "override the file's store")
    .option(
      "--data-dir <dir>",
      "override the file's dataDir (the store and keys follow unless the file places them)",
    )
    .option(
      "--metrics <port>",
      "serve Prometheus metrics at http://HOST:PORT/metrics (0: a free port, printed)",
      port,
    )
    .option("--metrics-host <host>", "the address the metrics endpoint binds (default 127.0.0.1)")
    .action(
      async (opts: {
        swarm: string;
        id: string[];
        json: boolean;
        transport?: string;
        store?: string;
        dataDir?: string;
        metrics?: number;
        metricsHost?: string;
      }) => {
        process.exitCode = await runSwarmFile(resolve(opts.swarm), {
          ...upOptions({ ...opts, agents: opts.id, forever: true, timeout: 3600 }),
          logLevel: cli.opts<{ logLevel?: string }>().logLevel ?? "warn",
        });
      },
    );

  cli
    .command("mcp")
    .description(
      "serve the tasks the swarm file's gateway offers as MCP tools (stdio, or streamable HTTP with --http), running the swarm in this process",
    )
    .requiredOption("--swarm <file>", "the swarm file (needs a gateway: section)")
    .option("--http", "serve MCP streamable HTTP at http://HOST:PORT/mcp instead of stdio", false)
    .option(
      "--port <port>",
      "with --http: the port (default gateway.port; 0: a free port, printed)",
      port,
    )
    .option("--host <host>", "with --http: the address to bind (default gateway.host, 127.0.0.1)")
    .option(
      "--agents <ids>",
      "only run these agents here, and gateway.as (comma-separated)",
      agentList,
    )
    .action(
      async (opts: {
        swarm: string;
        http: boolean;
        port?: number;
        host?: string;
        agents?: string[];
      }) => {
        const { serveMcp } = await import("./mcp.js");
        const { agents } = opts;
        process.exitCode = await serveMcp(resolve(opts.swarm), {
          http: opts.http,
          ...(opts.port === undefined ? {} : { port: opts.port }),
          ...(opts.host === undefined ? {} : { host: opts.host }),
          ...(agents === undefined ? {} : { agents }),
          logLevel: cli.opts<{ logLevel?: string }>().logLevel ?? "warn",
        });
      },
    );
}

/** Adds `gateway a2a`, which serves a swarm to callers outside it, to `cli`. */
export function gatewayCommand(cli: Command): void {
  const gateway = cli
    .command("gateway")
    .description("serve a swarm to callers outside it (the swarm file's gateway: section)");
  gateway
    .command("a2a")
    .description(
      "serve the swarm over A2A: its agent card at /.well-known/agent-card.json and A2A JSON-RPC at /a2a, until interrupted",
    )
    .requiredOption("--swarm <file>", "the swarm file (with a gateway: section)")
    .option("--port <n>", "override gateway.port (0: a free port, printed)", port)
    .option("--host <host>", "override gateway.host (default 127.0.0.1)")
    .option(
      "--agents <ids>",
      "agents to host here besides gateway.as (comma-separated; default: all on the embedded transport, none on a broker)",
      agentList,
    )
    .option("--transport <url>", "override the file's transport", transportUrl)
    .option("--store <url>", "override the file's store")
    .option("--data-dir <dir>", "override the file's dataDir")
    .option("--json", "print the gateway's address as one JSON line", false)
    .action(
      async (opts: {
        swarm: string;
        port?: number;
        host?: string;
        agents?: string[];
        transport?: string;
        store?: string;
        dataDir?: string;
        json: boolean;
      }) => {
        // Loaded on use: only this command needs the A2A SDK.
        const { runA2AGateway } = await import("./gateway.js");
        const { agents } = opts;
        process.exitCode = await runA2AGateway(resolve(opts.swarm), {
          json: opts.json,
          ...(opts.port === undefined ? {} : { port: opts.port }),
          ...(opts.host ? { host: opts.host } : {}),
          ...(agents ? { agents } : {}),
          ...(opts.transport ? { transport: opts.transport } : {}),
          ...(opts.store ? { store: opts.store } : {}),
          ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
        });
      },
    );
}
