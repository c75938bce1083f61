import { randomBytes } from "node:crypto";
import { test } from "node:test";
import pg from "pg";
import { dropPostgresSchema, openPostgresStore } from "../../src/store/postgres-store.js";
import { checkConcurrentWriters } from "./multi-process.js";

const url = process.env["CONCLAVE_TEST_POSTGRES_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";

async function unreachable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    return undefined;
  } catch (error) {
    return `Postgres at ${url} is unreachable (${error instanceof Error ? error.message || error.name : String(error)})`;
  } finally {
    await client.end().catch(() => {});
  }
}

const reason = await unreachable();
if (reason !== undefined && process.env["CI"] !== "true") {
  console.log(`# skipping the postgres multi-process test: ${reason}`);
}

test("postgres: three processes create, migrate and write one new schema at once", {
  skip: reason !== undefined && process.env["CI"] !== "true" ? reason : false,
}, async () => {
  if (reason !== undefined) throw new Error(`${reason}; CI must provide it`);
  const schema = `conclave_test_${randomBytes(6).toString("hex")}`;
  try {
    await checkConcurrentWriters({
      backend: "postgres",
      target: url,
      schema,
      writers: 3,
      open: () => openPostgresStore({ url, schema }),
    });
  } finally {
    await dropPostgresSchema({ url, schema });
  }
});
