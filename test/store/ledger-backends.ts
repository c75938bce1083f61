/**
 * The backends the ledger tests run on, each with a fresh database: a SQLite
 * file (prepared hot path, and Kysely only) and a random Postgres schema.
 * Postgres unreachable: the Postgres cases fail under CI=true, and are
 * skipped with the reason printed otherwise.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { Store } from "../../src/store/port.js";
import { dropPostgresSchema, openPostgresStore } from "../../src/store/postgres-store.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";

export const postgresUrl =
  process.env["CONCLAVE_TEST_POSTGRES_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";

/** Why Postgres cannot be used here, or undefined when it can. */
export async function postgresUnreachable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("select 1");
    return undefined;
  } catch (error) {
    const message = error instanceof Error ? error.message || error.name : String(error);
    return `Postgres at ${postgresUrl} is unreachable (${message})`;
  } finally {
    await client.end().catch(() => {});
  }
}

/** A fresh database of one backend. */
export interface LedgerDatabase {
  readonly backend: "sqlite" | "postgres";
  /** The SQLite file, or the Postgres URL. */
  readonly target: string;
  /** The Postgres schema; "-" for SQLite. */
  readonly schema: string;
  open(): Promise<Store>;
  destroy(): Promise<void>;
}

export interface LedgerBackend {
  readonly name: string;
  /** Set when the backend cannot run here: the test is skipped with this reason. */
  readonly skip?: string;
  /** Set when the backend cannot run and must (CI): the test fails with this. */
  readonly fail?: string;
  create(): Promise<LedgerDatabase>;
}

function sqlite(name: string, preparedHotPath: boolean): LedgerBackend {
  return {
    name,
    async create() {
      const dir = mkdtempSync(join(tmpdir(), "conclave-ledger-"));
      const path = join(dir, "store.db");
      return {
        backend: "sqlite",
        target: path,
        schema: "-",
        open: async () => {
          const store = openSqliteStore({ path, preparedHotPath });
          await store.ready();
          return store;
        },
        destroy: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  };
}

const reason = await postgresUnreachable();
if (reason !== undefined && process.env["CI"] !== "true") {
  console.log(`# skipping the postgres ledger tests: ${reason}`);
}

export const sqliteBackend = sqlite("sqlite", true);
export const sqliteKyselyBackend = sqlite("sqlite (Kysely only)", false);
export const postgresBackend: LedgerBackend = {
  name: "postgres",
  ...(reason === undefined
    ? {}
    : process.env["CI"] === "true"
      ? { fail: `${reason}; CI must provide it (set CONCLAVE_TEST_POSTGRES_URL)` }
      : { skip: reason }),
  async create() {
    const schema = `conclave_test_${randomBytes(6).toString("hex")}`;
    return {
      backend: "postgres",
      target: postgresUrl,
      schema,
      open: () => openPostgresStore({ url: postgresUrl, schema, poolSize: 4 }),
      destroy: () => dropPostgresSchema({ url: postgresUrl, schema }),
    };
  },
};

/** Test options for a backend: skipped with its reason, or run (and failing at once under CI). */
export function testOptions(backend: LedgerBackend): { skip: string | false } {
  return { skip: backend.skip ?? false };
}
