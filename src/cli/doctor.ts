import { accessSync, constants, existsSync } from "node:fs";
import { createConnection } from "node:net";
import { dirname } from "node:path";
import { loadSwarmConfig } from "../config/load.js";
import { applyOverrides } from "../config/overrides.js";
import { redactUrl } from "../config/redact.js";
import type { SwarmConfig as SwarmFile } from "../config/schema.js";
import { StoreNotFoundError, toError } from "../errors/index.js";
import { openStore, parseStoreUrl, type StoreLocation } from "../store/open-store.js";

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** What `conclave doctor` checks against. */
export interface DoctorOptions {
  readonly swarm?: string;
  /** Checks this store instead of the swarm file's (as `up --store` would run on). */
  readonly store?: string;
  /** Checks this transport instead of the swarm file's (as `up --transport` would run on). */
  readonly transport?: string;
  readonly json: boolean;
}

/**
 * `conclave doctor`: can this machine run the swarm? Node and SQLite; with
 * a swarm file (or `--store` / `--transport` alone), whether its store opens
 * (Postgres: the database exists and the schema is usable, never created)
 * and its broker accepts a connection. Exit 0 when every check passes.
 */
export async function runDoctor(options: DoctorOptions): Promise<number> {
  const checks: Check[] = [checkNode(), await checkSqlite()];
  const overrides = {
    ...(options.store === undefined ? {} : { store: options.store }),
    ...(options.transport === undefined ? {} : { transport: options.transport }),
  };
  if (!options.swarm) {
    // Without a swarm file, check what the command line names.
    if (options.store !== undefined) checks.push(await checkStore(options.store));
    if (options.transport !== undefined) checks.push(await checkTransport(options.transport));
  }
  if (options.swarm) {
    let config: SwarmFile | undefined;
    try {
      config = applyOverrides(await loadSwarmConfig(options.swarm), overrides);
      checks.push({ name: "swarm file", ok: true, detail: `${options.swarm} is valid` });
    } catch (error) {
      checks.push({ name: "swarm file", ok: false, detail: toError(error).message });
    }
    if (config) {
      checks.push(await checkStore(config.store));
      checks.push(await checkTransport(config.transport));
    }
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ ok: checks.every((c) => c.ok), checks })}\n`);
  } else {
    for (const c of checks)
      process.stdout.write(`${c.ok ? "ok  " : "FAIL"}  ${c.name}: ${c.detail}\n`);
  }
  return checks.every((c) => c.ok) ? 0 : 1;
}

function checkNode(): Check {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  const ok = major > 20 || (major === 20 && minor >= 10);
  return {
    name: "node",
    ok,
    detail: ok
      ? `v${process.versions.node}`
      : `v${process.versions.node}; conclave needs Node 20.10 or newer`,
  };
}

async function checkSqlite(): Promise<Check> {
  try {
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(":memory:");
    const row = db.prepare("select sqlite_version() as v").get() as { v: string };
    db.close();
    return { name: "sqlite", ok: true, detail: `better-sqlite3 loaded, SQLite ${row.v}` };
  } catch (error) {
    return {
      name: "sqlite",
      ok: false,
      detail: `better-sqlite3 did not load (${toError(error).message}); run \`npm rebuild better-sqlite3\``,
    };
  }
}

/**
 * Whether the store can be opened, without creating or changing it: a SQLite
 * file is checked in place (or the folder it will be created in); a Postgres
 * store is opened without creating its schema.
 */
async function checkStore(store: string): Promise<Check> {
  const shown = redactUrl(store);
  let location: StoreLocation;
  try {
    location = parseStoreUrl(store);
  } catch (error) {
    return { name: "store", ok: false, detail: toError(error).message };
  }
  if (location.kind === "postgres") {
    try {
      await (await openStore(store, { create: false })).close();
      return { name: "store", ok: true, detail: `${shown} is reachable and holds the store` };
    } catch (error) {
      if (error instanceof StoreNotFoundError) {
        return {
          name: "store",
          ok: true,
          detail: `${shown} is reachable; the schema is created on the first run`,
        };
      }
      return { name: "store", ok: false, detail: toError(error).message };
    }
  }
  const path = location.path;
  if (path === ":memory:") return { name: "store", ok: true, detail: "in memory" };
  const existing = existsSync(path);
  // The nearest folder that exists is where the first run creates the rest.
  let dir = existing ? path : dirname(path);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    accessSync(dir, constants.W_OK);
    return {
      name: "store",
      ok: true,
      detail: existing
        ? `${path} exists and is writable`
        : `${path} is created on the first run (${dir} is writable)`,
    };
  } catch (error) {
    return {
      name: "store",
      ok: false,
      detail: `${dir} is not writable: ${toError(error).message}`,
    };
  }
}

async function checkTransport(transport: string): Promise<Check> {
  if (transport === "memory") return { name: "transport", ok: true, detail: "in-process (memory)" };
  const url = new URL(transport);
  const port = Number(url.port || (url.protocol.startsWith("amqp") ? 5672 : 4222));
  const host = url.hostname || "127.0.0.1";
  const shown = redactUrl(transport);
  const ok = await new Promise<boolean>((resolve) => {
    const socket = createConnection({ host, port, timeout: 2000 });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(false));
  });
  return {
    name: "transport",
    ok,
    detail: ok
      ? `${shown} is reachable`
      : `${shown} is not reachable on ${host}:${port}; is the broker running?`,
  };
}
