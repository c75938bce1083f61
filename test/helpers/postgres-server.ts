/**
 * Runs a private Postgres server for a test that must stop and start the
 * server itself (the machine's shared Postgres must never be restarted): its
 * own cluster (`initdb`) in a temporary directory, a free loopback port, its
 * Unix socket in that directory, `trust` authentication for the `postgres`
 * user. Initialising takes 1-3 s, a start or a restart about 1 s.
 *
 * The binaries are found in /usr/lib/postgresql/<version>/bin (Debian,
 * Ubuntu) or on PATH. Postgres refuses to run as root, so when this process
 * is root the cluster belongs to the `postgres` user and every command runs
 * through `runuser -u postgres --`.
 *
 * @example
 * ```ts
 * const server = await startPostgresServer();
 * // server.url: postgres://postgres@127.0.0.1:<port>/postgres
 * await server.restart("immediate"); // a crash: WAL replay on the next start
 * await server.destroy();
 * ```
 */
import { execFile, execFileSync } from "node:child_process";
import {
  accessSync,
  chmodSync,
  chownSync,
  constants,
  mkdtempSync,
  readdirSync,
  rmSync,
} from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { freePorts } from "../../src/testkit/brokers/nats-server.js";

const run = promisify(execFile);

/** How `pg_ctl stop` ends the server: `smart` waits for clients, `fast` ends their sessions (57P01), `immediate` is a crash. */
export type PostgresStopMode = "smart" | "fast" | "immediate";

export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string;
  readonly port: number;
  /** `pg_ctl stop -m <mode>` (default `fast`); the data directory stays. */
  stop(mode?: PostgresStopMode): Promise<void>;
  /** `pg_ctl start` on the same directory and port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** {@link stop} then {@link start}. */
  restart(mode?: PostgresStopMode): Promise<void>;
  /** Stops it (`immediate`) and deletes its directory. Safe to call twice. */
  destroy(): Promise<void>;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The directory holding initdb, pg_ctl and postgres, newest version first; undefined if none. */
function findBinDir(): string | undefined {
  const dirs: string[] = [];
  try {
    const versions = readdirSync("/usr/lib/postgresql").sort(
      (a, b) => Number.parseFloat(b) - Number.parseFloat(a),
    );
    dirs.push(...versions.map((v) => join("/usr/lib/postgresql", v, "bin")));
  } catch {
    // Not Debian's layout.
  }
  dirs.push(...(process.env["PATH"] ?? "").split(delimiter).filter(Boolean));
  return dirs.find((dir) =>
    ["initdb", "pg_ctl", "postgres"].every((b) => executable(join(dir, b))),
  );
}

const isRoot = () => userInfo().uid === 0;

/** `pg_ctl stop -m immediate` for each server still up, run when this process exits. */
const live = new Map<string, readonly string[]>();
let reaperInstalled = false;
function stopOnExit(data: string, command: readonly string[]): void {
  live.set(data, command);
  if (reaperInstalled) return;
  reaperInstalled = true;
  process.once("exit", () => {
    for (const [file, ...args] of live.values()) {
      try {
        execFileSync(file as string, args, { stdio: "ignore", timeout: 10_000 });
      } catch {
        // Already down.
      }
    }
  });
}

/** Why a private Postgres server cannot be started here, or undefined when it can. */
export function postgresServerMissing(): string | undefined {
  if (!findBinDir())
    return "initdb, pg_ctl or postgres not found (/usr/lib/postgresql/*/bin or PATH)";
  if (isRoot() && !executable("/usr/sbin/runuser") && !executable("/sbin/runuser"))
    return "running as root without runuser, and Postgres refuses to run as root";
  return undefined;
}

/** Initialises a private cluster and starts it; see the module comment. */
export async function startPostgresServer(): Promise<PostgresServer> {
  const bin = findBinDir();
  const missing = postgresServerMissing();
  if (!bin || missing) throw new Error(missing ?? "no Postgres binaries");
  const [port] = (await freePorts(1)) as [number];
  const dir = mkdtempSync(join(tmpdir(), "conclave-postgres-"));
  const data = join(dir, "data");
  const logFile = join(dir, "server.log");
  let owner: { uid: number; gid: number } | undefined;
  if (isRoot()) {
    const { stdout } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    owner = { uid: Number(stdout.trim()), gid: Number(gid.trim()) };
    chownSync(dir, owner.uid, owner.gid);
    chmodSync(dir, 0o700);
  }
  /** Runs one of the server's binaries, as `postgres` when we are root. */
  const exec = (tool: string, args: readonly string[], timeout = 60_000) =>
    owner
      ? run("runuser", ["-u", "postgres", "--", join(bin, tool), ...args], { timeout })
      : run(join(bin, tool), [...args], { timeout });

  await exec("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"]);
  const options = [
    `-p ${port}`,
    "-c listen_addresses=127.0.0.1",
    `-c unix_socket_directories=${dir}`,
    // A process crash (stop -m immediate) loses nothing without fsync; only the machine's would.
    "-c fsync=off",
    "-c max_connections=100",
  ].join(" ");
  const pgCtl = join(bin, "pg_ctl");
  const immediateStop = ["stop", "-D", data, "-m", "immediate", "-w"];
  stopOnExit(
    data,
    owner
      ? ["runuser", "-u", "postgres", "--", pgCtl, ...immediateStop]
      : [pgCtl, ...immediateStop],
  );
  let up = false;
  const start = async () => {
    await exec("pg_ctl", ["start", "-D", data, "-l", logFile, "-w", "-t", "60", "-o", options]);
    up = true;
  };
  const stop = async (mode: PostgresStopMode = "fast") => {
    if (!up) return;
    await exec("pg_ctl", ["stop", "-D", data, "-m", mode, "-w", "-t", "60"]);
    up = false;
  };
  let destroyed: Promise<void> | undefined;
  const destroy = () => {
    destroyed ??= (async () => {
      await stop("immediate").catch(() => undefined);
      live.delete(data);
      rmSync(dir, { recursive: true, force: true });
    })();
    return destroyed;
  };
  try {
    await start();
  } catch (error) {
    await destroy();
    throw error;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop,
    start,
    async restart(mode) {
      await stop(mode);
      await start();
    },
    destroy,
  };
}
