import { userInfo } from "node:os";
import { resolve } from "node:path";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { loadSwarmConfig } from "../config/load.js";
import { applyOverrides } from "../config/overrides.js";
import { transportProblem } from "../config/schema.js";
import { ConclaveError, ConfigError } from "../errors/index.js";
import { agentIdPattern } from "../wire/envelope.js";
import { admitAgent, revokeAgent } from "./admission.js";
import { approveProposal } from "./approve.js";
import { verifyAudit } from "./audit.js";
import {
  type BrokerNode,
  parseNode,
  writeBrokerConfig,
  writeRabbitmqConfig,
} from "./broker-config.js";
import { watchSwarm } from "./dashboard.js";
import { listDeadLetters, redriveDeadLetters, showDeadLetter } from "./dead-letters.js";
import { DEMO_DATA_DIR, type DemoOptions, runDemo } from "./demo.js";
import { runDoctor } from "./doctor.js";
import { showEvents } from "./events.js";
import { freshStart } from "./fresh.js";
import { initProject, TEMPLATES } from "./init.js";
import { generateKeys } from "./keys.js";
import { fundAgent, showLedger } from "./ledger.js";
import { runDistributed } from "./processes.js";
import { showResults } from "./results.js";
import { showRoi } from "./roi.js";
import { type RunOptions, runSwarmFile } from "./run.js";
import { LOCAL_SWARM_FILE, type StoreTarget } from "./store-target.js";
import { showTask } from "./tasks.js";
import { showTop } from "./top.js";
import { logProcessWarnings } from "./warnings.js";

/** Exit codes: 0 ok, 1 failure, 2 usage or configuration error. */
const EXIT = Object.freeze({ ok: 0, failure: 1, usage: 2 });

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError("expected a port number from 0 to 65535");
  return n;
}

/** `--transport`: checked as the swarm file's transport is, so a typo is a usage error naming the flag. */
function transportUrl(value: string): string {
  const problem = transportProblem(value);
  if (problem !== undefined) throw new InvalidArgumentError(problem);
  return value;
}

/** `keys gen`'s ids: a malformed agent id is a usage error (exit 2), not a failure. */
function agentIds(value: string, previous: string[] = []): string[] {
  if (!agentIdPattern.test(value))
    throw new InvalidArgumentError(
      `"${value.slice(0, 140)}" is not an agent id: use 1-128 characters of A-Z a-z 0-9 _ -`,
    );
  return [...previous, value];
}

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
  metrics?: number;
  metricsHost?: string;
  processes?: number;
  failOnDeadLetter?: boolean;
  dashboard?: number | true;
  dashboardHost?: string;
}

/** The dashboard's port when `--dashboard` is given without one. */
const DASHBOARD_PORT = 8471;

function upOptions(opts: UpOptions): Omit<RunOptions, "logLevel"> {
  const agents = opts.agents
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
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

interface AdmitCliOptions {
  swarm: string;
  role: string;
  key: string;
  operatorKey: string;
  ttl: string;
  weight?: number;
  owner?: string;
  out?: string;
}

interface StoreTargetOptions {
  store?: string;
  swarm?: string;
  dataDir?: string;
}

function storeTarget(opts: StoreTargetOptions): StoreTarget {
  return {
    ...(opts.store ? { store: opts.store } : {}),
    ...(opts.swarm ? { swarm: resolve(opts.swarm) } : {}),
    ...(opts.dataDir ? { dataDir: resolve(opts.dataDir) } : {}),
  };
}

const DEFAULT_STORE_RULE = `
Which store: --store if given; else the store of --swarm; else, with neither,
the store of ./${LOCAL_SWARM_FILE} if this folder has one, or else the store of the
last \`conclave demo\` run here (${DEMO_DATA_DIR}/review-swarm.db). A store not named
by --store is reported on stderr ("reading store …"). --data-dir moves a swarm
file's default store as \`up --data-dir\` does.`;

/** The options that name a ledger or audit command's store, and the rule for the default. */
function withStoreTarget(
  command: Command,
  swarmHelp = "take the store from this swarm file",
): Command {
  return command
    .option("--store <url>", "the store (sqlite:<path> or postgres://…)")
    .option("--swarm <file>", swarmHelp)
    .option(
      "--data-dir <dir>",
      "the data folder the swarm ran with (up --data-dir), where its default store is",
    )
    .addHelpText("after", DEFAULT_STORE_RULE);
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
    .option("--agents <ids>", "only run these agents here (comma-separated)")
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
    .requiredOption("--id <ids>", "agent id(s) to run here (comma-separated)")
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
        id: string;
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
    .option("--agents <ids>", "only run these agents here (comma-separated)")
    .action(
      async (opts: {
        swarm: string;
        http: boolean;
        port?: number;
        host?: string;
        agents?: string;
      }) => {
        const { serveMcp } = await import("./mcp.js");
        const agents = opts.agents
          ?.split(",")
          .map((s) => s.trim())
          .filter(Boolean);
        process.exitCode = await serveMcp(resolve(opts.swarm), {
          http: opts.http,
          ...(opts.port === undefined ? {} : { port: opts.port }),
          ...(opts.host === undefined ? {} : { host: opts.host }),
          ...(agents === undefined ? {} : { agents }),
          logLevel: cli.opts<{ logLevel?: string }>().logLevel ?? "warn",
        });
      },
    );

  cli
    .command("events")
    .description(
      "print the swarm's events as they happen on its broker (agents joining, llm.call, ensemble.decided, auctions…)",
    )
    .requiredOption("--swarm <file>", "the swarm file")
    .option(
      "--transport <url>",
      "override the file's transport (events need a broker)",
      transportUrl,
    )
    .option(
      "--type <pattern>",
      "only these event types, e.g. llm.call or agent.* ('*' one word, '>' the rest)",
    )
    .option("--follow", "keep printing until interrupted", false)
    .option("--seconds <n>", "without --follow, listen this long", positiveInt, 10)
    .option("--limit <n>", "stop after this many events", positiveInt)
    .option("--json", "one JSON object per event", false)
    .action(
      async (opts: {
        swarm: string;
        transport?: string;
        type?: string;
        follow: boolean;
        seconds: number;
        limit?: number;
        json: boolean;
      }) => {
        process.exitCode = await showEvents(resolve(opts.swarm), {
          follow: opts.follow,
          forMs: opts.seconds * 1000,
          json: opts.json,
          ...(opts.transport ? { transport: opts.transport } : {}),
          ...(opts.type ? { type: opts.type } : {}),
          ...(opts.limit ? { limit: opts.limit } : {}),
        });
      },
    );

  const brokerConfig = cli
    .command("broker-config")
    .description("per-node broker credentials and permissions: the broker as the first wall");
  brokerConfig
    .command("nats")
    .description(
      "write a nats-server authorization block: one user per node, allowed only this swarm's subjects and streams; revocations for the operator's user only",
    )
    .requiredOption("--swarm <file>", "the swarm file")
    .option("--out <dir>", "where to write nats-auth.conf and nodes.json", "broker")
    .option(
      "--node <name=agents>",
      "a node and the agents its process runs, e.g. worker-a=dev-1,dev-2 (repeat; default: one node per agent)",
      (value: string, previous: BrokerNode[] = []) => [...previous, parseNode(value)],
    )
    .action(async (opts: { swarm: string; out: string; node?: BrokerNode[] }) => {
      process.exitCode = await writeBrokerConfig(resolve(opts.swarm), {
        out: opts.out,
        ...(opts.node ? { nodes: opts.node } : {}),
      });
    });

  brokerConfig
    .command("rabbitmq")
    .description(
      "write a rabbitmqctl script: one user per node in the swarm's own virtual host, allowed only its exchanges, queues and subjects; revocations for the operator's user only",
    )
    .requiredOption("--swarm <file>", "the swarm file")
    .option("--out <dir>", "where to write rabbitmq-users.sh and nodes.json", "broker")
    .option("--vhost <name>", "the virtual host (default: the swarm's name)")
    .option(
      "--node <name=agents>",
      "a node and the agents its process runs (repeat; default: one node per agent)",
      (value: string, previous: BrokerNode[] = []) => [...previous, parseNode(value)],
    )
    .action(async (opts: { swarm: string; out: string; vhost?: string; node?: BrokerNode[] }) => {
      process.exitCode = await writeRabbitmqConfig(resolve(opts.swarm), {
        out: opts.out,
        ...(opts.vhost ? { vhost: opts.vhost } : {}),
        ...(opts.node ? { nodes: opts.node } : {}),
      });
    });

  cli
    .command("top")
    .description(
      "a live table of a swarm on a broker, in the terminal: totals and every agent's liveness, status, balance and reputation",
    )
    .requiredOption("--swarm <file>", "the swarm file")
    .option("--interval <seconds>", "seconds between redraws", positiveInt, 1)
    .option("--once", "print one snapshot (after listening for one interval) and exit", false)
    .option("--json", "one JSON snapshot per interval", false)
    .option("--transport <url>", "override the file's transport")
    .option("--store <url>", "override the file's store")
    .action(
      async (opts: {
        swarm: string;
        interval: number;
        once: boolean;
        json: boolean;
        transport?: string;
        store?: string;
      }) => {
        process.exitCode = await showTop(resolve(opts.swarm), {
          intervalSeconds: opts.interval,
          once: opts.once,
          json: opts.json,
          ...(opts.transport ? { transport: opts.transport } : {}),
          ...(opts.store ? { store: opts.store } : {}),
        });
      },
    );

  cli
    .command("dashboard")
    .description(
      "serve the live dashboard of a swarm that runs on a broker (reads its store, hears its agents); the link with its token is printed",
    )
    .requiredOption("--swarm <file>", "the swarm file")
    .option("--port <port>", "the port to serve on", port, DASHBOARD_PORT)
    .option("--host <host>", "the address to bind (default 127.0.0.1)")
    .option("--transport <url>", "override the file's transport", transportUrl)
    .option("--store <url>", "override the file's store")
    .action(
      async (opts: {
        swarm: string;
        port: number;
        host?: string;
        transport?: string;
        store?: string;
      }) => {
        process.exitCode = await watchSwarm(resolve(opts.swarm), {
          port: opts.port,
          ...(opts.host ? { host: opts.host } : {}),
          ...(opts.transport ? { transport: opts.transport } : {}),
          ...(opts.store ? { store: opts.store } : {}),
        });
      },
    );

  cli
    .command("approve")
    .description(
      "vote, as a person, on a privileged action that waits for you (a { human } voter of it): signed with your key file, sent on the swarm's broker",
    )
    .argument(
      "<proposal>",
      "the proposal's id (shown on the dashboard and in the consensus.waiting event)",
    )
    .requiredOption("--swarm <file>", "the swarm file")
    .requiredOption(
      "--key <file>",
      "your key file (conclave keys gen <name> writes <dir>/<name>.key)",
    )
    .option("--reject", "vote reject instead of approve", false)
    .option("--reason <text>", "why, recorded with the vote")
    .option("--transport <url>", "override the file's transport", transportUrl)
    .option("--store <url>", "override the file's store")
    .option("--json", "print the vote as JSON", false)
    .action(
      async (
        proposal: string,
        opts: {
          swarm: string;
          key: string;
          reject: boolean;
          reason?: string;
          transport?: string;
          store?: string;
          json: boolean;
        },
      ) => {
        process.exitCode = await approveProposal(resolve(opts.swarm), proposal, {
          key: resolve(opts.key),
          reject: opts.reject,
          json: opts.json,
          ...(opts.reason ? { reason: opts.reason } : {}),
          ...(opts.transport ? { transport: opts.transport } : {}),
          ...(opts.store ? { store: opts.store } : {}),
        });
      },
    );

  const deadLetters = cli
    .command("dead-letters")
    .description("tasks that will never complete on their own: why, and sending them again");
  withStoreTarget(
    deadLetters.command("list").description("every dead letter, oldest first, with its reason"),
  )
    .option("--reason <text>", "only those whose reason contains this text")
    .option("--json", "one JSON object per dead letter", false)
    .action(async (opts: StoreTargetOptions & { reason?: string; json: boolean }) => {
      process.exitCode = await listDeadLetters(storeTarget(opts), {
        json: opts.json,
        ...(opts.reason ? { reason: opts.reason } : {}),
      });
    });
  withStoreTarget(
    deadLetters
      .command("show")
      .description("one dead letter: its reason, deliveries and the task it carried")
      .argument("<id>", "the dead letter's id (its task's id)"),
  )
    .option("--json", "print it as one line of JSON", false)
    .action(async (id: string, opts: StoreTargetOptions & { json: boolean }) => {
      process.exitCode = await showDeadLetter(storeTarget(opts), id, opts.json);
    });
  deadLetters
    .command("redrive")
    .description(
      "send dead letters' tasks to their queues again, unchanged, once the cause is fixed (audited; on a broker)",
    )
    .argument("[ids...]", "the dead letters to redrive")
    .requiredOption("--swarm <file>", "the swarm file")
    .option("--all", "every dead letter (with --reason: those matching)", false)
    .option("--reason <text>", "with --all: only those whose reason contains this text")
    .option(
      "--unpaid",
      "also run tasks whose escrow was refunded when they died (without pay)",
      false,
    )
    .option("--by <name>", "who redrives, for the audit log (default: your user name)")
    .option("--transport <url>", "override the file's transport", transportUrl)
    .option("--store <url>", "override the file's store")
    .option("--json", "one JSON object per dead letter", false)
    .action(
      async (
        ids: string[],
        opts: {
          swarm: string;
          all: boolean;
          reason?: string;
          unpaid: boolean;
          by?: string;
          transport?: string;
          store?: string;
          json: boolean;
        },
      ) => {
        process.exitCode = await redriveDeadLetters(resolve(opts.swarm), {
          ids,
          all: opts.all,
          unpaid: opts.unpaid,
          json: opts.json,
          by: opts.by ?? userInfo().username,
          ...(opts.reason ? { reason: opts.reason } : {}),
          ...(opts.transport ? { transport: opts.transport } : {}),
          ...(opts.store ? { store: opts.store } : {}),
        });
      },
    );

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
        agents?: string;
        transport?: string;
        store?: string;
        dataDir?: string;
        json: boolean;
      }) => {
        // Loaded on use: only this command needs the A2A SDK.
        const { runA2AGateway } = await import("./gateway.js");
        const agents = opts.agents
          ?.split(",")
          .map((s) => s.trim())
          .filter(Boolean);
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

  const ledger = cli.command("ledger").description("the swarm's credit ledger");
  withStoreTarget(
    ledger
      .command("show")
      .description(
        "accounts, escrow, spend per agent, role and model, model calls and cost per completed task; exit 1 if the ledger is inconsistent; never creates a store",
      ),
  )
    .option("--json", "print the report as JSON (with minted and sum)", false)
    .option("--all", "list escrow accounts that hold nothing too (settled delegations)", false)
    .action(async (opts: StoreTargetOptions & { json: boolean; all: boolean }) => {
      process.exitCode = await showLedger(storeTarget(opts), opts.json, opts.all);
    });
  withStoreTarget(
    ledger
      .command("fund")
      .description(
        "mint credits to an agent; a halted agent resumes (creates the store if it does not exist yet)",
      )
      .argument("<agent>", "agent id")
      .argument("<amount>", "whole credits"),
  )
    .option("--json", "print the result as JSON", false)
    .action(async (agent: string, amount: string, opts: StoreTargetOptions & { json: boolean }) => {
      process.exitCode = await fundAgent(storeTarget(opts), agent, amount, opts.json);
    });

  const audit = cli.command("audit").description("the audit log of consensus decisions");
  withStoreTarget(
    audit
      .command("verify")
      .description(
        "recompute every decision offline (signatures, tallies, seals, links); exit 1 naming the first bad entry; never creates a store",
      ),
    "take the store from this swarm file, and check its privileged rules",
  )
    .option("--json", "print the verdict as JSON", false)
    .action(async (opts: StoreTargetOptions & { json: boolean }) => {
      process.exitCode = await verifyAudit(storeTarget(opts), opts.json);
    });

  withStoreTarget(
    cli
      .command("results")
      .description(
        "what each root task was finished with (ctx.finish), or why it was dead-lettered, or that it is pending; never creates a store",
      ),
  )
    .option("--root <id>", "only this root task (exit 1 if the store has no such root)")
    .option("--json", "one JSON object per root task", false)
    .action(async (opts: StoreTargetOptions & { root?: string; json: boolean }) => {
      process.exitCode = await showResults(storeTarget(opts), {
        json: opts.json,
        ...(opts.root === undefined ? {} : { root: opts.root }),
      });
    });

  const tasks = cli.command("tasks").description("the swarm's tasks, as its store recorded them");
  withStoreTarget(
    tasks
      .command("show")
      .description(
        "one task: its outcome and result, its root and (for a root) every task it caused, steps, effects, dead letter, attempts and the ledger operations charged to it; exit 1 if the store has no such task; never creates a store",
      )
      .argument("<id>", "the task id (a root id from conclave results, or any task's)"),
  )
    .option("--json", "print the task as one JSON object", false)
    .action(async (id: string, opts: StoreTargetOptions & { json: boolean }) => {
      process.exitCode = await showTask(storeTarget(opts), id, opts.json);
    });

  const report = cli.command("report").description("reports measured from a swarm's store");
  withStoreTarget(
    report
      .command("roi")
      .description(
        "per ensemble task type and per model: accuracy against ground truth, calls and credits per task; never creates a store",
      ),
  )
    .option("--json", "print the report as JSON", false)
    .action(async (opts: StoreTargetOptions & { json: boolean }) => {
      process.exitCode = await showRoi(storeTarget(opts), opts.json);
    });

  const keys = cli.command("keys").description("manage agent key pairs");
  keys
    .command("gen")
    .description("generate Ed25519 key pairs for agents (files with mode 0600)")
    .argument("<agent-ids...>", "agent ids", agentIds)
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
    .command("admit")
    .description(
      "issue a membership credential for an agent, signed with the operator's key (admission: credential)",
    )
    .argument("<agent>", "agent id")
    .requiredOption("--swarm <file>", "the swarm file")
    .requiredOption("--role <role>", "the role the credential grants")
    .requiredOption("--key <publicKey>", "the agent's base64url public key (conclave keys gen)")
    .requiredOption("--operator-key <file>", "the operator's key file")
    .option("--ttl <duration>", "how long it is valid: 30d, 12h, 45m…", "30d")
    .option("--weight <n>", "vote weight granted", (v) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("expected a number > 0");
      return n;
    })
    .option("--owner <owner>", "who operates the agent")
    .option("--out <file>", "write the credential here (mode 0600) instead of stdout")
    .action(async (agent: string, opts: AdmitCliOptions) => {
      process.exitCode = await admitAgent(agent, {
        swarm: resolve(opts.swarm),
        role: opts.role,
        key: opts.key,
        operatorKey: resolve(opts.operatorKey),
        ttl: opts.ttl,
        ...(opts.weight === undefined ? {} : { weight: opts.weight }),
        ...(opts.owner === undefined ? {} : { owner: opts.owner }),
        ...(opts.out === undefined ? {} : { out: resolve(opts.out) }),
      });
    });

  cli
    .command("revoke")
    .description(
      "revoke an agent with the operator's key: every node refuses it from now on, its host stops it; recorded in the audit log",
    )
    .argument("<agent>", "agent id")
    .requiredOption("--swarm <file>", "the swarm file (its transport, store and operator key)")
    .requiredOption("--operator-key <file>", "the operator's key file")
    .option("--reason <text>", "why, for the audit log")
    .option("--json", "print the result as JSON", false)
    .action(
      async (
        agent: string,
        opts: { swarm: string; operatorKey: string; reason?: string; json: boolean },
      ) => {
        process.exitCode = await revokeAgent(agent, {
          swarm: resolve(opts.swarm),
          operatorKey: resolve(opts.operatorKey),
          json: opts.json,
          ...(opts.reason ? { reason: opts.reason } : {}),
        });
      },
    );

  cli
    .command("doctor")
    .description(
      "check this machine can run a swarm: Node version, SQLite, the swarm file, its store (opened, never created) and its broker",
    )
    .option("--swarm <file>", "the swarm file to check against")
    .option(
      "--store <url>",
      "check this store instead of the file's (Postgres: the database exists and its schema is usable; nothing is created)",
    )
    .option("--transport <url>", "check this broker instead of the file's", transportUrl)
    .option("--json", "print the checks as JSON", false)
    .action(async (opts: { swarm?: string; store?: string; transport?: string; json: boolean }) => {
      process.exitCode = await runDoctor({
        ...(opts.swarm ? { swarm: resolve(opts.swarm) } : {}),
        ...(opts.store ? { store: opts.store } : {}),
        ...(opts.transport ? { transport: opts.transport } : {}),
        json: opts.json,
      });
    });

  return cli;
}

export async function main(argv: readonly string[]): Promise<number> {
  const cli = program();
  const restoreWarnings = logProcessWarnings(
    () => cli.opts<{ logLevel?: string }>().logLevel ?? "warn",
  );
  try {
    await cli.parseAsync([...argv], { from: "user" });
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
  } finally {
    restoreWarnings();
  }
}
