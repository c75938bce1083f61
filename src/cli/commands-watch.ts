/**
 * The commands that watch or steer a running swarm through its broker:
 * `events`, `broker-config`, `top`, `dashboard`, `approve`, `dead-letters`.
 */
import { userInfo } from "node:os";
import { resolve } from "node:path";
import { type Command, Option } from "commander";
import { approveProposal } from "./approve.js";
import {
  type BrokerNode,
  parseNode,
  writeBrokerConfig,
  writeRabbitmqConfig,
} from "./broker-config.js";
import {
  DASHBOARD_PORT,
  eventTypePattern,
  port,
  positiveInt,
  type StoreTargetOptions,
  storeTarget,
  transportUrl,
  withStoreTarget,
} from "./cli-options.js";
import { watchSwarm } from "./dashboard.js";
import { listDeadLetters, redriveDeadLetters, showDeadLetter } from "./dead-letters.js";
import { showEvents } from "./events.js";
import { showTop } from "./top.js";

/** Adds the commands that watch or steer a running swarm to `cli`. */
export function watchCommands(cli: Command): void {
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
      eventTypePattern,
    )
    .option("--follow", "keep printing until interrupted", false)
    .addOption(
      new Option("--seconds <n>", "without --follow, listen this long (default 10)")
        .argParser(positiveInt)
        .conflicts("follow"),
    )
    .option("--limit <n>", "stop after this many events", positiveInt)
    .option("--json", "one JSON object per event", false)
    .action(
      async (opts: {
        swarm: string;
        transport?: string;
        type?: string;
        follow: boolean;
        seconds?: number;
        limit?: number;
        json: boolean;
      }) => {
        process.exitCode = await showEvents(resolve(opts.swarm), {
          follow: opts.follow,
          forMs: (opts.seconds ?? 10) * 1000,
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
    .option("--transport <url>", "override the file's transport", transportUrl)
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
          by: opts.by ?? whoRedrives(),
          ...(opts.reason ? { reason: opts.reason } : {}),
          ...(opts.transport ? { transport: opts.transport } : {}),
          ...(opts.store ? { store: opts.store } : {}),
        });
      },
    );
}

/**
 * Who redrives, for the audit entry, when `--by` is not given: the OS user's
 * name, or (a container running as an id with no passwd entry, where
 * `userInfo` throws) `uid <n>`.
 */
function whoRedrives(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? "unknown"}`;
  }
}
