import type { SwarmConfig as SwarmFile } from "../config/schema.js";
import { ConfigError, toError } from "../errors/index.js";
import { readTlsFiles } from "../runtime/from-config.js";
import { migrations, quoteIdentifier } from "../store/migrations/index.js";
import type { StoreLocation } from "../store/open-store.js";
import { MIGRATION_TABLE } from "../store/schema.js";

/** One line of the diagnosis. */
export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** How long doctor waits for a store server to answer, ms. */
const STORE_TIMEOUT_MS = 10_000;

/**
 * The store's schema, read only: a passed check when it is this build's, or
 * older (its migrations are pending: named, and left for `up` to apply); a
 * failed one when it does not open or a newer conclave wrote it;
 * `undefined` when it holds no conclave tables (the first run creates them).
 */
export async function inspectStore(
  location: StoreLocation,
  shown: string,
): Promise<Check | undefined> {
  let applied: string[];
  try {
    applied =
      location.kind === "postgres"
        ? await postgresMigrations(location.url, location.schema ?? "public")
        : await sqliteMigrations(location.path);
  } catch (error) {
    return {
      name: "store",
      ok: false,
      detail: `cannot open ${shown}: ${toError(error).message}; check the URL or path, that the server is reachable and the database exists`,
    };
  }
  if (applied.length === 0) return undefined;
  const known = new Set(migrations.map((m) => m.name));
  const latest = migrations.at(-1)?.name ?? "none";
  const unknown = applied.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    return {
      name: "store",
      ok: false,
      detail: `${shown} was written by a newer conclave (schema ${unknown.join(", ")}; this build knows up to ${latest}): upgrade conclave to open it`,
    };
  }
  const pending = migrations.filter((m) => !applied.includes(m.name)).map((m) => m.name);
  if (pending.length > 0) {
    const at = [...applied].sort().at(-1);
    return {
      name: "store",
      ok: true,
      detail: `${shown} holds the store at schema ${at}, not migrated: ${pending.length} migration(s) pending (${pending.join(", ")}); the next conclave up applies them (doctor changes nothing)`,
    };
  }
  return {
    name: "store",
    ok: true,
    detail: `${shown} opens and holds the store (schema ${latest})`,
  };
}

/** The migrations a SQLite file records, read through a read-only connection. */
async function sqliteMigrations(path: string): Promise<string[]> {
  const { default: Database } = await import("better-sqlite3");
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    db.pragma(`busy_timeout = ${STORE_TIMEOUT_MS}`);
    const table = db
      .prepare("select name from sqlite_master where type = 'table' and name = ?")
      .get(MIGRATION_TABLE);
    if (table === undefined) return [];
    const rows = db.prepare(`select name from ${MIGRATION_TABLE}`).all() as { name: string }[];
    return rows.map((r) => r.name);
  } finally {
    db.close();
  }
}

/** The migrations a Postgres schema records, read in a read-only session. */
async function postgresMigrations(url: string, schema: string): Promise<string[]> {
  let pg: typeof import("pg")["default"];
  try {
    pg = (await import("pg")).default;
  } catch (cause) {
    throw new ConfigError("the Postgres store needs the pg package: npm install pg", [], { cause });
  }
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: STORE_TIMEOUT_MS,
    options: "-c default_transaction_read_only=on",
  });
  client.on("error", () => undefined);
  try {
    await client.connect();
    const table = `${quoteIdentifier(schema)}.${quoteIdentifier(MIGRATION_TABLE)}`;
    const found = await client.query<{ found: string | null }>(
      "select to_regclass($1)::text as found",
      [table],
    );
    if (found.rows[0]?.found == null) return [];
    const rows = await client.query<{ name: string }>(`select name from ${table}`);
    return rows.rows.map((r) => r.name);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A session opened for a check, closed after it. */
export interface Session {
  close(): Promise<void>;
}

/**
 * Opens an AMQP connection as `up` would (URL, credentials, TLS files),
 * declaring nothing: opening the transport itself declares the swarm's
 * exchange, which a diagnosis must not.
 */
export async function openAmqpSession(config: SwarmFile): Promise<Session> {
  const [{ openConnection, closeModel }, { resolveSettings }] = await Promise.all([
    import("../transport/amqp/connection.js"),
    import("../transport/amqp/config.js"),
  ]);
  const files = config.broker?.tls;
  if (files && config.transport.startsWith("amqp:")) {
    throw new ConfigError(
      "broker.tls needs a TLS connection, but the transport is a plain amqp:// URL; change it to amqps://",
    );
  }
  const tls = files === undefined ? undefined : await readTlsFiles(files);
  const settings = resolveSettings({
    url: config.transport,
    exchange: config.swarm,
    ...(tls === undefined ? {} : { tls }),
  });
  const model = await openConnection(settings, tls);
  model.on("error", () => undefined);
  return { close: () => closeModel(model) };
}
