/**
 * A small test kit that runs a private `nats-server` (v2.9+, found on PATH)
 * on a loopback port with its own JetStream store directory. `restart()`
 * kills the process with SIGKILL (as a crash would; SIGTERM on request) and
 * starts a new one on the same port with the same store, so clients
 * reconnect to it.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface NatsServerOptions {
  /** Enable JetStream (`-js`). Default true. */
  readonly jetstream?: boolean;
  /** JetStream store directory. Default: a new temporary directory, removed by `stop()`. */
  readonly storeDir?: string;
  /** Client port on 127.0.0.1. Default: a random free port chosen by the server. */
  readonly port?: number;
  /** How long to wait for the server to accept connections. Default 10 s. */
  readonly startTimeoutMs?: number;
}

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

const LISTENING = /Listening for client connections on [^\s]*:(\d+)/;

/** Starts a private nats-server and resolves once it accepts TCP connections. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const ownsDir = options.storeDir === undefined;
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), "conclave-nats-"));
  const jetstream = options.jetstream ?? true;
  const timeoutMs = options.startTimeoutMs ?? 10_000;
  let child: ChildProcess | undefined;
  let port = options.port ?? -1;

  const launch = async (): Promise<void> => {
    const args = ["-a", "127.0.0.1", "-p", String(port)];
    if (jetstream) args.push("-js", "-sd", storeDir);
    const proc = spawn("nats-server", args, { stdio: ["ignore", "ignore", "pipe"] });
    child = proc;
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
    port = await listening.catch((error: unknown) => {
      proc.kill("SIGKILL");
      throw error;
    });
    // Keep draining stderr so the pipe never fills and blocks the server.
    proc.stderr?.resume();
    await waitForTcp(port, timeoutMs);
  };

  const kill = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill(signal);
    const forced = setTimeout(() => proc.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(forced);
  };

  // Never leave a server behind when the test process ends without stop().
  const reap = () => child?.kill("SIGKILL");
  process.once("exit", reap);

  try {
    await launch();
  } catch (error) {
    process.removeListener("exit", reap);
    if (ownsDir) rmSync(storeDir, { recursive: true, force: true });
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
      process.removeListener("exit", reap);
      await kill("SIGTERM");
      if (ownsDir) rmSync(storeDir, { recursive: true, force: true });
    },
    async restart(restartOptions) {
      await kill(restartOptions?.signal ?? "SIGKILL");
      await launch();
    },
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
