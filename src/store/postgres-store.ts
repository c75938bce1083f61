/**
 * The Postgres adapter: the shared `KyselyStore` over Kysely's
 * `PostgresDialect` and a `pg` pool, for swarms whose nodes run as separate
 * processes on many machines. `pg` is imported on first open, so SQLite-only
 * users never load it.
 */
import { CompiledQuery, Kysely, PostgresDialect } from "kysely";
import type { Clock } from "../core/index.js";
import { StoreError, StoreNotFoundError } from "../errors/index.js";
import { KyselyStore, type KyselyStoreConfig } from "./kysely-store.js";
import { appliedMigrations, migrateToLatest, quoteIdentifier } from "./migrations/index.js";
import type { Database } from "./schema.js";
import { schemaNameProblem } from "./schema-name.js";

/** TLS settings for the connection, passed to node's `tls.connect`. */
export interface PostgresTlsOptions {
  /** Verify the server certificate against `ca` or the system roots (default true). */
  readonly rejectUnauthorized?: boolean;
  /** PEM of the CA that signed the server certificate. */
  readonly ca?: string;
  /** PEM client certificate and key, for certificate authentication. */
  readonly cert?: string;
  readonly key?: string;
  readonly servername?: string;
}

/** Options of {@link openPostgresStore}. */
export interface PostgresStoreConfig {
  /** `postgres://user:password@host:5432/database`. */
  readonly url: string;
  /**
   * The schema holding every table of the store (default `"public"`); created
   * if missing. Several swarms can share a database with one schema each.
   */
  readonly schema?: string;
  /**
   * Create the schema and its tables when missing; default true. `false`
   * (for readers): a schema that does not exist or holds no conclave tables
   * is a `StoreNotFoundError`, and nothing is created.
   */
  readonly create?: boolean;
  /** Connections in the pool (default 10). */
  readonly poolSize?: number;
  /** TLS: `true` for defaults, or options; default off (or as the URL's `sslmode` says). */
  readonly ssl?: boolean | PostgresTlsOptions;
  /** How long to wait for a connection, ms (default 10,000). */
  readonly connectTimeoutMs?: number;
  /** Default timestamps for registry saves and idempotency claims. Default: the system clock. */
  readonly clock?: Clock;
  /**
   * The swarm wants every acknowledged write on disk (`broker.syncEveryWrite`):
   * on opening, a server that commits without flushing its WAL (`fsync` or
   * `synchronous_commit` off) is reported, by default as a process warning.
   */
  readonly syncEveryWrite?: boolean;
  /** Where that report goes. Default: `process.emitWarning`. */
  readonly onWarning?: (message: string) => void;
}

/** `int8`: counts, sums, timestamps and sequences. Read as numbers (all far below 2^53). */
const INT8_OID = 20;

/**
 * Opens (and migrates) a store in a Postgres schema. Many processes may open
 * the same schema at once: migrations take an advisory lock, completions
 * are idempotent by task id through the primary key, audit appends take a
 * table lock, ledger operations lock their accounts' balance rows in
 * account order (and are idempotent by operation id through the primary key).
 *
 * @example
 * ```ts
 * const store = await openPostgresStore({ url: "postgres://conclave@db:5432/swarm", schema: "review" });
 * await store.completeTask({ taskId, agent: "dev-1", at: Date.now(), effects: [], outbox: [] });
 * await store.close();
 * ```
 */
export async function openPostgresStore(config: PostgresStoreConfig): Promise<PostgresStore> {
  const schema = checkSchemaName(config.schema ?? "public");
  const description = `the Postgres store at ${redact(config.url)} (schema ${schema})`;
  const pg = await loadPg();
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.poolSize ?? 10,
    connectionTimeoutMillis: config.connectTimeoutMs ?? 10_000,
    ...(config.ssl === undefined ? {} : { ssl: config.ssl }),
    // Per pool, not the process-wide parser: other pg users keep strings.
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === INT8_OID && format !== "binary"
          ? (value: string) => Number(value)
          : pg.types.getTypeParser(oid, format ?? "text")) as typeof pg.types.getTypeParser,
    },
  });
  // An idle connection that dies emits here; the next query reports it.
  pool.on("error", () => {});
  // A connection that dies while checked out (mid-transaction, between two
  // statements) emits 'error' on its client, which pg-pool leaves without a
  // listener then: unhandled, it ended the process. The query in flight
  // fails anyway (StoreError to the caller), and the dead client is dropped
  // when released, so the event itself needs no handling.
  pool.on("connect", (client) => {
    client.on("error", () => {});
    // Queued on the new connection before anything the pool hands it out
    // for. Not Kysely's onCreateConnection: when that query failed (the
    // connection cut while it was made), Kysely never gave the connection
    // back, and closing the store then waited for it forever. Here a
    // failure needs no handling: the connection is dead, and the query the
    // pool hands it out for fails and releases it.
    client.query(`set search_path to ${quoteIdentifier(schema)}`).catch(() => {});
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    if (config.create === false) {
      if ((await appliedMigrations(db, "postgres", schema)).length === 0) {
        throw new StoreNotFoundError(
          `${redact(config.url)} (schema ${schema})`,
          "the schema does not exist or holds no conclave tables",
        );
      }
    } else {
      await createSchema(db, schema);
    }
    await migrateToLatest(db, "postgres", description, schema);
    if (config.syncEveryWrite) {
      const problem = await commitSyncProblem(db, description);
      if (problem) (config.onWarning ?? ((m: string) => process.emitWarning(m)))(problem);
    }
  } catch (cause) {
    await db.destroy().catch(() => {});
    if (cause instanceof StoreError || cause instanceof StoreNotFoundError) throw cause;
    // A reader named a database that does not exist (3D000): nothing to read, nothing made.
    if (config.create === false && (cause as { code?: unknown }).code === "3D000") {
      throw new StoreNotFoundError(
        `${redact(config.url)} (schema ${schema})`,
        "the database does not exist",
        { cause },
      );
    }
    throw new StoreError(
      `cannot open ${description}: ${describe(cause)}; check the URL, that the server is reachable and that the user may create the schema`,
      { cause },
    );
  }
  return new PostgresStore(
    {
      db,
      dialect: "postgres",
      description,
      schema,
      ...(config.clock ? { clock: config.clock } : {}),
    },
    config,
    schema,
  );
}

/**
 * What is wrong when the server acknowledges commits before its WAL is on
 * disk (the session's settings, as the store's connections have them);
 * undefined when `fsync` and `synchronous_commit` are on (or stronger).
 */
async function commitSyncProblem(db: Kysely<Database>, description: string) {
  const result = await db.executeQuery<{ fsync: string; commit: string }>(
    CompiledQuery.raw(
      "select current_setting('fsync') as fsync, current_setting('synchronous_commit') as commit",
    ),
  );
  const row = result.rows[0];
  if (!row) return undefined;
  const off = [
    ...(row.fsync === "off" ? ["fsync = off"] : []),
    ...(row.commit === "off" ? ["synchronous_commit = off"] : []),
  ];
  if (off.length === 0) return undefined;
  return `broker.syncEveryWrite asks for every acknowledged write on disk, but ${description} runs with ${off.join(" and ")}, so its last commits are lost on a power loss; set them back to on (postgresql.conf, ALTER SYSTEM, or the role's or URL's options)`;
}

/** A store in one Postgres schema. */
export class PostgresStore extends KyselyStore {
  readonly #config: PostgresStoreConfig;
  /** The schema holding the store's tables. */
  readonly schema: string;

  /** @internal Use `openPostgresStore`. */
  constructor(store: KyselyStoreConfig, config: PostgresStoreConfig, schema: string) {
    super(store);
    this.#config = config;
    this.schema = schema;
  }

  /**
   * Closes the store, then drops its schema and everything in it. For tests
   * and throwaway swarms; refuses the `public` schema.
   */
  async dropSchema(): Promise<void> {
    await this.close();
    await dropPostgresSchema({ ...this.#config, schema: this.schema });
  }
}

/**
 * Drops a store's schema and everything in it (`drop schema … cascade`),
 * without opening the store: cleanup for tests with random schemas. Refuses
 * the `public` schema; dropping a missing schema is not an error.
 */
export async function dropPostgresSchema(
  config: Pick<PostgresStoreConfig, "url" | "ssl" | "connectTimeoutMs"> & { schema: string },
): Promise<void> {
  const schema = checkSchemaName(config.schema);
  if (schema === "public") {
    throw new StoreError(
      "refusing to drop the public schema; drop the conclave_* tables by hand if you mean it",
    );
  }
  const pg = await loadPg();
  const client = new pg.Client({
    connectionString: config.url,
    connectionTimeoutMillis: config.connectTimeoutMs ?? 10_000,
    ...(config.ssl === undefined ? {} : { ssl: config.ssl }),
  });
  try {
    await client.connect();
    await client.query(`drop schema if exists ${quoteIdentifier(schema)} cascade`);
  } catch (cause) {
    throw new StoreError(`dropping schema ${schema} at ${redact(config.url)} failed`, { cause });
  } finally {
    await client.end().catch(() => {});
  }
}

async function createSchema(db: Kysely<Database>, schema: string): Promise<void> {
  try {
    await db.schema.createSchema(schema).ifNotExists().execute();
  } catch (error) {
    // Two openers racing on `create schema if not exists` can both try to
    // create it; the loser's unique violation means it exists now.
    const code =
      typeof error === "object" && error !== null && "code" in error ? String(error.code) : "";
    if (code !== "23505" && code !== "42P06") throw error;
  }
}

/** pg's API: a CommonJS module, so under ESM it is the default export. */
type Pg = typeof import("pg")["default"];

async function loadPg(): Promise<Pg> {
  try {
    return (await import("pg")).default;
  } catch (cause) {
    throw new StoreError("the Postgres store needs the pg package: npm install pg", { cause });
  }
}

function checkSchemaName(schema: string): string {
  const problem = schemaNameProblem(schema);
  if (problem !== undefined) throw new StoreError(problem);
  return schema;
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = "";
    return `${parsed.host}${parsed.pathname}`;
  } catch {
    return "the configured URL";
  }
}

function describe(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return error.errors.map(describe).join("; ");
  }
  return error instanceof Error ? error.message || error.name : String(error);
}
