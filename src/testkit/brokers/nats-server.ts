/**
 * A small test kit that runs private `nats-server` processes (v2.9+, found on
 * PATH) on loopback ports, each with its own JetStream store directory.
 *
 * - `startNatsServer()`: one server. `restart()` kills the process with
 *   SIGKILL (as a crash would; SIGTERM on request) and starts a new one on
 *   the same port with the same store, so clients reconnect to it. Extra
 *   configuration (a `tls {}` block, say) goes in `config`.
 * - `startNatsCluster({ size: 3 })`: a JetStream cluster whose routes, client
 *   and monitoring ports are free loopback ports; `kill(i)` SIGKILLs one node,
 *   `restart(i)` starts it again on the same ports with the same store;
 *   `routeVia` puts a caller's port (a chaos proxy) on every route.
 */

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { killOnExit } from "./reaper.js";

/** How to start a private nats-server. */
export interface NatsServerOptions {
  /** Enable JetStream (`-js`). Default true. */
  readonly jetstream?: boolean;
  /** JetStream store directory. Default: a new temporary directory, removed by `stop()`. */
  readonly storeDir?: string;
  /** Client port on 127.0.0.1. Default: a random free port chosen by the server. */
  readonly port?: number;
  /** How long to wait for the server to accept connections. Default 10 s. */
  readonly startTimeoutMs?: number;
  /**
   * Extra nats-server configuration (e.g. a `tls { ... }` block), written to
   * a config file passed with `-c`. Command-line settings (address, port,
   * JetStream store) take precedence over it.
   */
  readonly config?: string;
}

/** A private nats-server on loopback: its URL, and stop, restart. */
export interface NatsServer {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** Stops the server (SIGTERM, then SIGKILL) and removes the store directory if the kit created it. */
  stop(): Promise<void>;
  /**
   * Stops the server and starts it again on the same port with the same
   * store. By default with SIGKILL, as a crash; `{ signal: "SIGTERM" }` for a
   * graceful restart, which lets the server flush its state first.
   */
  restart(options?: { signal?: "SIGKILL" | "SIGTERM" }): Promise<void>;
}

/** True when a `nats-server` binary is on PATH. */
export function natsServerAvailable(): boolean {
  const result = spawnSync("nats-server", ["--version"], { encoding: "utf8" });
  return result.status === 0;
}

/** The version of the nats-server on PATH, e.g. `2.9.10`; "unknown" when unreadable. */
export function natsServerVersion(): string {
  const out = spawnSync("nats-server", ["--version"], { encoding: "utf8" }).stdout ?? "";
  return /v?(\d+\.\d+\.\d+)/.exec(out)?.[1] ?? "unknown";
}

const LISTENING = /Listening for client connections on [^\s]*:(\d+)/;

interface Launched {
  readonly proc: ChildProcess;
  readonly port: number;
  /** The first 64 kB of the server's log. */
  log(): string;
}

/** Spawns nats-server with `args`; resolves once it is ready and accepts TCP connections. */
async function launchNats(args: readonly string[], timeoutMs: number): Promise<Launched> {
  const proc = spawn("nats-server", [...args], { stdio: ["ignore", "ignore", "pipe"] });
  killOnExit(proc);
  let log = "";
  const listening = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`nats-server did not start within ${timeoutMs} ms:\n${log}`)),
      timeoutMs,
    );
    proc.stderr?.setEncoding("utf8");
    proc.stderr?.on("data", (chunk: string) => {
      if (log.length < 64_000) log += chunk;
      const match = LISTENING.exec(log);
      if (match && /Server is ready/.test(log)) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    proc.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    proc.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited (${code ?? signal}) before it was ready:\n${log}`));
    });
  });
  let port: number;
  try {
    port = await listening;
    // Keep draining stderr so the pipe never fills and blocks the server.
    proc.stderr?.resume();
    await waitForTcp(port, timeoutMs);
  } catch (error) {
    proc.kill("SIGKILL");
    throw error;
  }
  return { proc, port, log: () => log };
}

/** Sends `signal` (SIGKILL after 5 s) and resolves once the process has exited. */
async function stopProcess(proc: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  proc.kill(signal);
  const forced = setTimeout(() => proc.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(forced);
}

/** Starts a private nats-server and resolves once it accepts TCP connections. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const ownsDir = options.storeDir === undefined;
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), "conclave-nats-"));
  const jetstream = options.jetstream ?? true;
  const timeoutMs = options.startTimeoutMs ?? 10_000;
  let configDir: string | undefined;
  let configFile: string | undefined;
  if (options.config !== undefined) {
    configDir = mkdtempSync(join(tmpdir(), "conclave-nats-conf-"));
    configFile = join(configDir, "nats-server.conf");
    writeFileSync(configFile, options.config);
  }
  let child: ChildProcess | undefined;
  let port = options.port ?? -1;

  const launch = async (): Promise<void> => {
    const args = ["-a", "127.0.0.1", "-p", String(port)];
    if (configFile) args.unshift("-c", configFile);
    if (jetstream) args.push("-js", "-sd", storeDir);
    const launched = await launchNats(args, timeoutMs);
    child = launched.proc;
    port = launched.port;
  };
  const removeDirs = () => {
    if (ownsDir) rmSync(storeDir, { recursive: true, force: true });
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  };

  try {
    await launch();
  } catch (error) {
    removeDirs();
    throw error;
  }
  return {
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    storeDir,
    async stop() {
      const proc = child;
      child = undefined;
      await stopProcess(proc, "SIGTERM");
      removeDirs();
    },
    async restart(restartOptions) {
      const proc = child;
      child = undefined;
      await stopProcess(proc, restartOptions?.signal ?? "SIGKILL");
      await launch();
    },
  };
}

// ---- clusters ---------------------------------------------------------------

/** How to start a private JetStream cluster. */
export interface NatsClusterOptions {
  /** Number of servers. Default 3. */
  readonly size?: number;
  /** Cluster name. Default: a random one. */
  readonly name?: string;
  /** How long each server may take to start. Default 15 s. */
  readonly startTimeoutMs?: number;
  /** How long to wait for JetStream to report healthy on every node. Default 30 s. */
  readonly healthyTimeoutMs?: number;
  /**
   * Routes through ports the caller controls (the chaos harness's proxies):
   * called once per ordered pair of nodes (indexes `from` != `to`) with
   * `to`'s route port, it returns a port that forwards there, which `from`
   * dials (of the two routes of a pair the servers keep one). Every node
   * advertises an unreachable route address, so no route bypasses them.
   */
  readonly routeVia?: (from: number, to: number, clusterPort: number) => Promise<number>;
}

/** One server of a private cluster. */
export interface NatsClusterNode {
  /** `n1`, `n2`, ...: the server name (what JetStream reports as a stream's leader). */
  readonly name: string;
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly clusterPort: number;
  readonly monitorPort: number;
  readonly storeDir: string;
  /** True while the process runs. */
  readonly running: boolean;
  /** The start of the current (or last) process's log. */
  log(): string;
}

/** A private JetStream cluster on loopback: its servers and their URLs. */
export interface NatsCluster {
  readonly name: string;
  readonly nodes: readonly NatsClusterNode[];
  /** Every node's client URL. */
  readonly urls: readonly string[];
  /** Index of the node called `name` (`n1` → 0); -1 when there is none. */
  indexOf(name: string): number;
  /** Kills node `i` with SIGKILL (a crash) and resolves once it has exited. */
  kill(i: number): Promise<void>;
  /** Starts node `i` again (killing it first if it runs) on the same ports with the same store. */
  restart(i: number): Promise<void>;
  /** Sends `signal` to node `i`'s process (SIGSTOP, SIGCONT) if it runs. */
  signal(i: number, signal: NodeJS.Signals): void;
  /**
   * Resolves once every running node (or node `i`) reports JetStream
   * healthy on its monitoring endpoint (`/healthz`: in contact with the
   * meta leader, its streams and consumers current).
   */
  waitHealthy(i?: number, timeoutMs?: number): Promise<void>;
  /** Stops every node (SIGTERM, then SIGKILL) and removes their store directories. */
  stop(): Promise<void>;
}

/** Reserves `count` distinct free TCP ports on 127.0.0.1 (held together, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
      });
      const address = server.address();
      if (!address || typeof address === "string") throw new Error("no port assigned");
      ports.push(address.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/**
 * Starts a JetStream cluster of `size` nats-server processes on loopback
 * ports (client, route and monitoring ports all free ones), each with its
 * own store directory, and resolves once JetStream is healthy on all.
 */
export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsCluster> {
  const size = options.size ?? 3;
  const clusterName = options.name ?? `conclave-${randomBytes(4).toString("hex")}`;
  const timeoutMs = options.startTimeoutMs ?? 15_000;
  const root = mkdtempSync(join(tmpdir(), "conclave-nats-cluster-"));
  const ports = await freePorts(size * 3);
  interface Slot {
    name: string;
    port: number;
    clusterPort: number;
    monitorPort: number;
    storeDir: string;
    configFile: string;
    proc: ChildProcess | undefined;
    lastLog: () => string;
  }
  const slots: Slot[] = Array.from({ length: size }, (_, i) => ({
    name: `n${i + 1}`,
    port: ports[i * 3] as number,
    clusterPort: ports[i * 3 + 1] as number,
    monitorPort: ports[i * 3 + 2] as number,
    storeDir: join(root, `n${i + 1}`, "store"),
    configFile: join(root, `n${i + 1}.conf`),
    proc: undefined,
    lastLog: () => "",
  }));
  const slotAt = (i: number): Slot => {
    const s = slots[i];
    if (!s) throw new Error(`the cluster has no node ${i} (size ${size})`);
    return s;
  };
  const direct = slots.map((s) => `nats-route://127.0.0.1:${s.clusterPort}`);
  const via = options.routeVia;
  const routesOf: string[][] = slots.map(() => (via ? [] : direct));
  if (via) {
    for (let from = 0; from < size; from++)
      for (let to = 0; to < size; to++) {
        if (to === from) continue;
        const port = await via(from, to, slotAt(to).clusterPort);
        routesOf[from]?.push(`nats-route://127.0.0.1:${port}`);
      }
  }
  for (const [i, s] of slots.entries()) {
    const routes = routesOf[i] ?? [];
    // Port 1 refuses at once: a route learnt by gossip is tried once and dropped.
    const advertise = via ? "\n  advertise: 127.0.0.1:1" : "";
    writeFileSync(
      s.configFile,
      `server_name: ${s.name}
listen: 127.0.0.1:${s.port}
http: 127.0.0.1:${s.monitorPort}
jetstream {
  store_dir: "${s.storeDir}"
  max_memory_store: 256MB
  max_file_store: 4GB
}
cluster {
  name: ${clusterName}
  listen: 127.0.0.1:${s.clusterPort}${advertise}
  routes: [${routes.join(", ")}]
}
`,
    );
  }

  const launch = async (s: Slot): Promise<void> => {
    const launched = await launchNats(["-c", s.configFile], timeoutMs);
    s.proc = launched.proc;
    s.lastLog = launched.log;
  };
  const running = (s: Slot) =>
    s.proc !== undefined && s.proc.exitCode === null && s.proc.signalCode === null;

  const waitHealthy = async (only?: number, waitMs = options.healthyTimeoutMs ?? 30_000) => {
    const targets = only === undefined ? slots.filter(running) : [slotAt(only)];
    const end = Date.now() + waitMs;
    for (const s of targets) {
      let last = "";
      for (;;) {
        try {
          const res = await fetch(`http://127.0.0.1:${s.monitorPort}/healthz`, {
            signal: AbortSignal.timeout(2_000),
          });
          last = await res.text();
          if (res.ok) break;
        } catch (error) {
          last = error instanceof Error ? error.message : String(error);
        }
        if (Date.now() > end) {
          throw new Error(`nats-server ${s.name} is not healthy after ${waitMs} ms: ${last}`);
        }
        await sleep(100);
      }
    }
  };

  const stop = async () => {
    await Promise.all(
      slots.map(async (s) => {
        const proc = s.proc;
        s.proc = undefined;
        await stopProcess(proc, "SIGTERM");
      }),
    );
    rmSync(root, { recursive: true, force: true });
  };

  /**
   * Resolves once the cluster can place a stream with a replica on every
   * server (created and deleted again); healthy servers are not enough:
   * nats-server 2.10 sometimes answers "no suitable peers for placement"
   * for longer than a test waits, right after every server said healthy.
   */
  const waitPlaceable = async (waitMs: number) => {
    const { connect } = await import("@nats-io/transport-node");
    const { jetstreamManager, StorageType } = await import("@nats-io/jetstream");
    const nc = await connect({ servers: slots.map((s) => `nats://127.0.0.1:${s.port}`) });
    const name = `conclave-probe-${randomBytes(4).toString("hex")}`;
    const end = Date.now() + waitMs;
    let last = "";
    try {
      const jsm = await jetstreamManager(nc, { timeout: 2_000 });
      for (;;) {
        try {
          await jsm.streams.add({
            name,
            subjects: [`${name}.>`],
            num_replicas: size,
            storage: StorageType.Memory,
          });
          await jsm.streams.delete(name);
          return;
        } catch (error) {
          last = error instanceof Error ? error.message : String(error);
        }
        if (Date.now() > end) {
          throw new Error(`the cluster cannot place a stream on ${size} servers: ${last}`);
        }
        await sleep(250);
      }
    } finally {
      await nc.close();
    }
  };

  // A cluster that does not form (see waitPlaceable) is started again once, from empty stores.
  for (let attempt = 1; ; attempt++) {
    try {
      await Promise.all(slots.map(launch));
      await waitHealthy();
      await waitPlaceable(attempt === 1 ? 15_000 : 30_000);
      break;
    } catch (error) {
      if (attempt >= 2) {
        await stop();
        throw error;
      }
      await Promise.all(
        slots.map(async (s) => {
          const proc = s.proc;
          s.proc = undefined;
          await stopProcess(proc, "SIGKILL");
          rmSync(s.storeDir, { recursive: true, force: true });
        }),
      );
    }
  }

  return {
    name: clusterName,
    nodes: slots.map((s) => ({
      name: s.name,
      url: `nats://127.0.0.1:${s.port}`,
      port: s.port,
      clusterPort: s.clusterPort,
      monitorPort: s.monitorPort,
      storeDir: s.storeDir,
      get running() {
        return running(s);
      },
      log: () => s.lastLog(),
    })),
    urls: slots.map((s) => `nats://127.0.0.1:${s.port}`),
    indexOf: (name) => slots.findIndex((s) => s.name === name),
    async kill(i) {
      const s = slotAt(i);
      const proc = s.proc;
      s.proc = undefined;
      await stopProcess(proc, "SIGKILL");
    },
    async restart(i) {
      const s = slotAt(i);
      const proc = s.proc;
      s.proc = undefined;
      await stopProcess(proc, "SIGKILL");
      await launch(s);
    },
    signal(i, signal) {
      const s = slotAt(i);
      if (running(s)) s.proc?.kill(signal);
    },
    waitHealthy,
    stop,
  };
}

async function waitForTcp(port: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect({ host: "127.0.0.1", port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end)
      throw new Error(`nats-server on port ${port} does not accept connections`);
    await sleep(25);
  }
}
