/**
 * Runs a private RabbitMQ node for a test, beside (and never touching) any
 * RabbitMQ the machine already runs: its own node name
 * (`conclave-test-<random>@localhost`), its own Erlang cookie, free loopback
 * ports for AMQP, TLS (when asked) and Erlang distribution, its own data,
 * log and config files in a temporary directory, and no plugins. Only epmd
 * is shared. It starts in about 2-3 s.
 *
 * The start scripts are found in /usr/lib/rabbitmq/bin first: on Debian and
 * Ubuntu, /usr/sbin/rabbitmq-server is a wrapper that switches to the
 * `rabbitmq` user and runs the system node's setup, which a private node
 * must not do. Elsewhere (generic Unix tarball, Homebrew) the scripts on
 * PATH are used.
 *
 * @example
 * ```ts
 * const node = await startRabbitmqNode({ tls: true, config: "ssl_options.verify = verify_peer\n…" });
 * // node.amqpUrl: amqp://guest:guest@127.0.0.1:<port>; TLS: amqps://guest:guest@127.0.0.1:<node.tlsPort>
 * await node.restart(); // same data directory and ports: durable queues come back
 * await node.stop();
 * ```
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePorts } from "./nats-server.js";
import { killOnExit } from "./reaper.js";

/** How to start a private RabbitMQ node. */
export interface RabbitmqNodeOptions {
  /** Also listen for AMQP over TLS (`listeners.ssl.default`) on a free loopback port. */
  readonly tls?: boolean;
  /**
   * More rabbitmq.conf lines (the new `key = value` format), e.g. the
   * `ssl_options.*` settings of the TLS listener. The helper writes the
   * listeners itself.
   */
  readonly config?: string;
  /** The `guest` user's password (`default_pass`). Default `guest`. */
  readonly password?: string;
  /** How long to wait for the node to accept connections. Default 30 s. */
  readonly startTimeoutMs?: number;
  /** The Erlang node name. Default `conclave-test-<random>@localhost`. */
  readonly nodeName?: string;
  /** The Erlang cookie (the nodes of one cluster share theirs). Default: a random one. */
  readonly cookie?: string;
}

/** A private RabbitMQ node on loopback: its AMQP URL, and stop, halt, start. */
export interface RabbitmqNode {
  /** `conclave-test-<random>@localhost` */
  readonly nodeName: string;
  /** `amqp://guest:<password>@127.0.0.1:<port>`: plain AMQP as the `guest` user (who may log in from loopback only). */
  readonly amqpUrl: string;
  readonly amqpPort: number;
  /** The TLS listener's port; undefined unless `tls` was asked for. */
  readonly tlsPort: number | undefined;
  /** The end of the node's log (its output, where it logs). */
  logTail(lines?: number): string;
  /** The Erlang distribution port (other nodes of a cluster reach it there). */
  readonly distPort: number;
  /** Stops the node (`rabbitmqctl stop`, then SIGKILL) and deletes its directory. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * Ends the node and keeps its directory, so {@link start} brings it back
   * with its queues and messages: `graceful` is `rabbitmqctl stop`, `kill` is
   * SIGKILL to the VM (a crash: nothing flushed).
   */
  halt(how?: "graceful" | "kill"): Promise<void>;
  /** Starts a halted node again on the same directory and ports; resolves once it accepts connections. */
  start(): Promise<void>;
  /** {@link halt} then {@link start}. */
  restart(how?: "graceful" | "kill"): Promise<void>;
  /** Runs `rabbitmqctl -n <this node> …args` with this node's cookie. */
  ctl(
    args: readonly string[],
    timeoutMs?: number,
  ): Promise<{ code: number | null; output: string }>;
}

interface Scripts {
  readonly server: string;
  readonly ctl: string;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The directories that may hold `rabbitmq-server` and `rabbitmqctl`, most specific first. */
function candidateDirs(): string[] {
  const dirs = ["/usr/lib/rabbitmq/bin"];
  const home = process.env["RABBITMQ_HOME"];
  if (home) dirs.push(join(home, "sbin"));
  dirs.push(...(process.env["PATH"] ?? "").split(delimiter).filter(Boolean));
  return dirs;
}

function findScripts(): Scripts | undefined {
  if (!candidateDirs().some((dir) => executable(join(dir, "erl")))) return undefined;
  for (const dir of candidateDirs()) {
    const server = join(dir, "rabbitmq-server");
    const ctl = join(dir, "rabbitmqctl");
    if (executable(server) && executable(ctl)) return { server, ctl };
  }
  return undefined;
}

/** True when `rabbitmq-server`, `rabbitmqctl` and Erlang's `erl` are installed. */
export function rabbitmqServerAvailable(): boolean {
  return findScripts() !== undefined;
}

/** Signals the node's whole process group (the start script, the Erlang VM and its helpers). */
function killGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  if (proc.pid === undefined) return;
  try {
    process.kill(-proc.pid, signal);
  } catch {
    // Already gone.
  }
}

const exitedAlready = (proc: ChildProcess) => proc.exitCode !== null || proc.signalCode !== null;

/** Resolves true once `proc` has exited, false after `ms`. */
function exitWithin(proc: ChildProcess, ms: number): Promise<boolean> {
  if (exitedAlready(proc)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      proc.off("exit", onExit);
      resolve(false);
    }, ms);
    const onExit = () => {
      clearTimeout(timer);
      resolve(true);
    };
    proc.once("exit", onExit);
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: "127.0.0.1", port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

function tail(text: string, lines: number): string {
  return text
    .split("\n")
    .slice(-lines - 1)
    .join("\n");
}

/**
 * Starts a private RabbitMQ node and resolves once its listeners accept
 * connections. Rejects (after stopping it and deleting its files) when the
 * node exits or is not ready within `startTimeoutMs`, with the end of its
 * log.
 */
export async function startRabbitmqNode(options: RabbitmqNodeOptions = {}): Promise<RabbitmqNode> {
  const scripts = findScripts();
  if (!scripts) throw new Error("rabbitmq-server, rabbitmqctl or erl is not installed");
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  const password = options.password ?? "guest";
  if (!/^[\w.~-]+$/.test(password))
    throw new Error("password: letters, digits, '_', '.', '~' or '-' only");
  const nodeName = options.nodeName ?? `conclave-test-${randomBytes(4).toString("hex")}@localhost`;
  const [amqpPort, distPort, tlsPort] = (await freePorts(options.tls ? 3 : 2)) as [
    number,
    number,
    number | undefined,
  ];

  const dir = mkdtempSync(join(tmpdir(), "conclave-rabbitmq-"));
  const logDir = join(dir, "log");
  mkdirSync(logDir);
  mkdirSync(join(dir, "mnesia"));
  const configFile = join(dir, "rabbitmq.conf");
  writeFileSync(
    configFile,
    [
      `listeners.tcp.default = 127.0.0.1:${amqpPort}`,
      ...(tlsPort === undefined ? [] : [`listeners.ssl.default = 127.0.0.1:${tlsPort}`]),
      `default_pass = ${password}`,
      options.config ?? "",
    ].join("\n"),
  );
  // Erlang term file: no plugins at all.
  writeFileSync(join(dir, "enabled_plugins"), "[].\n");
  // Empty: keeps the system's /etc/rabbitmq/rabbitmq-env.conf (which names the system node) out.
  writeFileSync(join(dir, "rabbitmq-env.conf"), "");
  // Our own cookie in our own HOME: rabbitmqctl with this HOME can reach this node and no other.
  writeFileSync(join(dir, ".erlang.cookie"), options.cookie ?? randomBytes(20).toString("hex"), {
    mode: 0o400,
  });

  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("RABBITMQ_")) env[key] = value;
  }
  Object.assign(env, {
    HOME: dir,
    RABBITMQ_CONF_ENV_FILE: join(dir, "rabbitmq-env.conf"),
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, "mnesia"),
    RABBITMQ_LOG_BASE: logDir,
    // The log goes to the node's output, which this module keeps (see logTail).
    RABBITMQ_LOGS: "-",
    RABBITMQ_CONFIG_FILE: configFile,
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, "enabled_plugins"),
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: "-kernel inet_dist_use_interface {127,0,0,1}",
    // Only used if this node has to start epmd itself.
    ERL_EPMD_ADDRESS: env["ERL_EPMD_ADDRESS"] ?? "127.0.0.1",
  });

  // The last 32 kB the node printed, over all its starts.
  let output = "";
  const keep = (chunk: string) => {
    output = (output + chunk).slice(-32_000);
  };
  const logTail = (lines = 40) => tail(output, lines);
  const ports = tlsPort === undefined ? [amqpPort] : [amqpPort, tlsPort];

  /** Runs `rabbitmqctl -n <node> …args` as this node's owner; resolves with its exit code and output. */
  const ctl = (args: readonly string[], ms = 30_000) =>
    new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(scripts.ctl, ["-n", nodeName, ...args], {
        cwd: dir,
        env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let text = "";
      child.stdout?.setEncoding("utf8").on("data", (d: string) => {
        text += d;
      });
      child.stderr?.setEncoding("utf8").on("data", (d: string) => {
        text += d;
      });
      const timer = setTimeout(() => child.kill("SIGKILL"), ms);
      child.once("error", (error) => {
        clearTimeout(timer);
        resolve({ code: -1, output: error.message });
      });
      child.once("close", (code) => {
        clearTimeout(timer);
        resolve({ code, output: text });
      });
    });

  let proc: ChildProcess;
  let spawnError: Error | undefined;
  /** Starts the VM on this node's directory and ports (a first start or a restart). */
  const launch = () => {
    spawnError = undefined;
    // Its own process group, so stop() can reach the VM behind the start script.
    proc = spawn(scripts.server, [], {
      cwd: dir,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    // Its whole process group: the start script and the Erlang VM behind it.
    killOnExit(proc, (p) => killGroup(p, "SIGKILL"));
    proc.stdout?.setEncoding("utf8").on("data", keep);
    proc.stderr?.setEncoding("utf8").on("data", keep);
    proc.once("error", (error) => {
      spawnError = error;
    });
  };
  /** Resolves once the listeners accept connections, or rejects with why not. */
  const ready = async (): Promise<void> => {
    const started = Date.now();
    for (;;) {
      const why = spawnError
        ? `could not be started (${spawnError.message})`
        : exitedAlready(proc)
          ? `exited (${proc.exitCode ?? proc.signalCode}) before it was ready`
          : Date.now() - started > timeoutMs
            ? `did not accept connections on 127.0.0.1:${ports.join(" and ")} within ${timeoutMs} ms`
            : undefined;
      if (why)
        throw new Error(
          `RabbitMQ node ${nodeName} ${why}; the end of its log:\n${tail(output, 60) || "(nothing)"}`,
        );
      if (!exitedAlready(proc) && (await Promise.all(ports.map(accepts))).every(Boolean)) return;
      await sleep(100);
    }
  };
  /** Ends the VM: `rabbitmqctl stop` (SIGKILL after 25 s), or SIGKILL at once. Keeps the directory. */
  const halt = async (how: "graceful" | "kill") => {
    if (proc.pid === undefined || exitedAlready(proc)) return;
    if (how === "graceful") {
      await ctl(["stop"], 15_000);
      if (await exitWithin(proc, 10_000)) return;
    }
    // The start script still runs, so the group is still this node's.
    killGroup(proc, "SIGKILL");
    await exitWithin(proc, 5_000);
  };

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      await halt("graceful");
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  launch();
  try {
    await ready();
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    nodeName,
    amqpUrl: `amqp://guest:${password}@127.0.0.1:${amqpPort}`,
    amqpPort,
    tlsPort,
    distPort,
    logTail,
    stop,
    async halt(how = "graceful") {
      await halt(how);
    },
    async start() {
      if (!exitedAlready(proc)) return;
      launch();
      await ready();
    },
    async restart(how = "graceful") {
      await halt(how);
      launch();
      await ready();
    },
    ctl,
  };
}
