/**
 * New stores migrate while other schemas of the same database are being
 * dropped (other swarms' stores removed, as tests and throwaway swarms do):
 * Kysely's Migrator lists the tables of every schema first, and a schema
 * dropped during that listing used to fail the migration of an unrelated
 * store with `schema "<the other one>" does not exist`.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { dropPostgresSchema, openPostgresStore } from "../../src/store/postgres-store.js";
import { postgresMissing, postgresUrl } from "../integration/fixtures/processes.js";

const missing = await postgresMissing();
const schemaName = () => `conclave_race_${randomBytes(6).toString("hex")}`;

test("stores opened while other schemas are dropped all migrate", {
  skip: missing !== undefined && process.env["CI"] !== "true" ? missing : false,
}, async () => {
  assert.equal(missing, undefined, missing);
  for (let round = 0; round < 3; round++) {
    // Schemas to drop while the others migrate.
    const doomed = Array.from({ length: 6 }, schemaName);
    for (const schema of doomed) {
      const store = await openPostgresStore({ url: postgresUrl, schema, poolSize: 1 });
      await store.close();
    }
    const fresh = Array.from({ length: 6 }, schemaName);
    const [opened] = await Promise.all([
      Promise.all(
        fresh.map((schema) => openPostgresStore({ url: postgresUrl, schema, poolSize: 2 })),
      ),
      Promise.all(doomed.map((schema) => dropPostgresSchema({ url: postgresUrl, schema }))),
    ]);
    for (const store of opened) await store.dropSchema();
  }
});
