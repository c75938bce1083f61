import { accessSync, constants, existsSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { loadSwarmConfig, parseSwarmConfig } from "../config/load.js";
import { applyOverrides } from "../config/overrides.js";
import { redactUrl } from "../config/redact.js";
import type { SwarmConfig as SwarmFile } from "../config/schema.js";
import { ConclaveError, toError } from "../errors/index.js";
import { openTransport } from "../runtime/from-config.js";
import { parseStoreUrl, type StoreLocation } from "../store/open-store.js";
import { type Check, inspectStore, openAmqpSession } from "./doctor-readonly.js";

export type { Check } from "./doctor-readonly.js";

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
 * a swarm file (or `--store` / `--transport` alone), whether the files it
 * names exist, its store opens (SQLite: an existing file is a database, a
 * new one has a writable folder; Postgres: the database exists and the
 * schema is usable) and its broker accepts a session with its credentials,
 * as `up` opens them. Changes nothing: no store is created or migrated, no
 * exchange declared. Exit 0 when every check passes.
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
    if (options.transport !== undefined) {
      checks.push(await checkTransport(transportOnly(options.transport)));
    }
  }
  if (options.swarm) {
    let config: SwarmFile | undefined;
    try {
      config = applyOverrides(await loadSwarmConfig(options.swarm), overrides);
      const missing = missingFile(config, options.swarm);
      checks.push(
        missing === undefined
          ? { name: "swarm file", ok: true, detail: `${options.swarm} is valid` }
          : { name: "swarm file", ok: false, detail: missing },
      );
    } catch (error) {
      checks.push({ name: "swarm file", ok: false, detail: toError(error).message });
    }
    if (config) {
      checks.push(await checkStore(config.store));
      checks.push(await checkTransport(config));
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
 * Whether the store can be opened, without creating it: an existing SQLite
 * file is read as a store (a file that is no SQLite database fails, as it
 * would for `up`); for a new one, the nearest existing ancestor must be a
 * writable folder. A Postgres store is read without creating its schema.
 * An existing store of an older version is reported as not migrated, and
 * left as it is (`up` migrates it).
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
    return (
      (await inspectStore(location, shown)) ?? {
        name: "store",
        ok: true,
        detail: `${shown} is reachable; the schema is created on the first run`,
      }
    );
  }
  const path = location.path;
  if (path === ":memory:") return { name: "store", ok: true, detail: "in memory" };
  if (existsSync(path)) {
    if (statSync(path).isDirectory()) {
      return { name: "store", ok: false, detail: `${path} is a folder, not a SQLite file` };
    }
    const notWritable = writable(path);
    if (notWritable) return notWritable;
    return (
      (await inspectStore(location, path)) ?? {
        name: "store",
        ok: true,
        detail: `${path} is a SQLite database; conclave's tables are created on the first run`,
      }
    );
  }
  // The nearest folder that exists is where the first run creates the rest.
  let dir = dirname(path);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  if (!statSync(dir).isDirectory()) {
    return {
      name: "store",
      ok: false,
      detail: `${path} cannot be created: ${dir} is a file, not a folder`,
    };
  }
  return (
    writable(dir) ?? {
      name: "store",
      ok: true,
      detail: `${path} is created on the first run (${dir} is writable)`,
    }
  );
}

/** A failed check when `path` is not writable by this process. */
function writable(path: string): Check | undefined {
  try {
    accessSync(path, constants.W_OK);
    return undefined;
  } catch (error) {
    return {
      name: "store",
      ok: false,
      detail: `${path} is not writable: ${toError(error).message}`,
    };
  }
}

/** How long doctor waits for the broker to accept a session. */
const TRANSPORT_TIMEOUT_MS = 5000;

/**
 * Opens the transport the way `up` does (credentials, TLS, protocol), then
 * closes it: a broker that refuses the login, or a port where another
 * protocol answers, fails as it would for `up`.
 */
async function checkTransport(config: SwarmFile): Promise<Check> {
  const transport = config.transport;
  if (transport === "memory") return { name: "transport", ok: true, detail: "in-process (memory)" };
  const shown = redactUrl(transport);
  const amqp = transport.startsWith("amqp");
  let where = shown;
  try {
    const url = new URL(transport);
    where = `${url.hostname || "127.0.0.1"}:${url.port || (amqp ? 5672 : 4222)}`;
  } catch {
    // openTransport says what is wrong with the URL.
  }
  // Opening the AMQP transport declares the swarm's exchange: doctor only logs in.
  const opening = amqp ? openAmqpSession(config) : openTransport(config);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), TRANSPORT_TIMEOUT_MS);
  });
  try {
    const opened = await Promise.race([opening, late]);
    if (opened === "late") {
      // Closed whenever it does open; the check has already failed.
      opening.then((t) => t.close()).catch(() => undefined);
      return {
        name: "transport",
        ok: false,
        detail: `${shown} did not open a session within ${TRANSPORT_TIMEOUT_MS / 1000} s; is a ${amqp ? "RabbitMQ" : "NATS"} broker running on ${where}?`,
      };
    }
    await opened.close();
    return { name: "transport", ok: true, detail: `${shown} accepts a session` };
  } catch (error) {
    // The typed errors of the transports say where and what to check.
    const detail =
      error instanceof ConclaveError
        ? error.message
        : `${shown} on ${where}: ${toError(error).message}`;
    return { name: "transport", ok: false, detail };
  } finally {
    clearTimeout(timer);
  }
}

/** The transport `--transport` names alone, as a swarm without a file would open it. */
function transportOnly(transport: string): SwarmFile {
  const base = parseSwarmConfig(
    "swarm: conclave-doctor\nroles: { doctor: {} }\nagents: [{ id: doctor, role: doctor }]\n",
    { env: {} },
  );
  return applyOverrides(base, { transport });
}

/**
 * The files a swarm file names that `up` reads (the handler module, voter
 * policies, credentials): a failed check for the first that is missing.
 */
function missingFile(config: SwarmFile, source: string): string | undefined {
  const named: [string, string | undefined][] = [
    ["module", config.module],
    ...config.agents.flatMap((a): [string, string | undefined][] => [
      [`agent ${a.id} policy`, a.policy],
      [`agent ${a.id} credential`, a.credential],
    ]),
  ];
  for (const [what, file] of named) {
    if (file !== undefined && !existsSync(file)) {
      return `${source}: the ${what} ${file} does not exist`;
    }
  }
  return undefined;
}
