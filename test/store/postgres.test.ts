import { randomBytes } from "node:crypto";
import { test } from "node:test";
import pg from "pg";
import { dropPostgresSchema, openPostgresStore } from "../../src/store/postgres-store.js";
import { runStoreConformance } from "../../src/testkit/conformance/store.js";

const url = process.env["CONCLAVE_TEST_POSTGRES_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";

/** Why Postgres cannot be used here, or undefined when it can. */
async function unreachable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("select 1");
    return undefined;
  } catch (error) {
    const message = error instanceof Error ? error.message || error.name : String(error);
    return `Postgres at ${url} is unreachable (${message})`;
  } finally {
    await client.end().catch(() => {});
  }
}

const reason = await unreachable();
if (reason !== undefined && process.env["CI"] === "true") {
  test("postgres store", () => {
    throw new Error(`${reason}; CI must provide it (set CONCLAVE_TEST_POSTGRES_URL)`);
  });
} else {
  if (reason !== undefined) console.log(`# skipping the postgres store tests: ${reason}`);
  runStoreConformance({
    name: "postgres",
    ...(reason === undefined ? {} : { skip: reason }),
    async create() {
      const schema = `conclave_test_${randomBytes(6).toString("hex")}`;
      const open = () => openPostgresStore({ url, schema, poolSize: 4 });
      return {
        store: await open(),
        reopen: open,
        destroy: () => dropPostgresSchema({ url, schema }),
        async simulateNewerSchema() {
          const name = "999-from-a-newer-conclave";
          const client = new pg.Client({ connectionString: url });
          await client.connect();
          const table = `"${schema}".conclave_migration`;
          await client.query(`insert into ${table} (name, timestamp) values ($1, $2)`, [
            name,
            new Date().toISOString(),
          ]);
          return async () => {
            await client.query(`delete from ${table} where name = $1`, [name]);
            await client.end();
          };
        },
      };
    },
  });
}
