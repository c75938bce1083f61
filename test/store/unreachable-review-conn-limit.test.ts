/**
 * A Postgres server that refuses a new connection because too many are
 * open ("sorry, too many clients already", or the role's connection
 * limit: SQLSTATE 53300) cannot be reached for now, as when it restarts:
 * the same call succeeds once connections free up. It was reported as the
 * store answering with an error, so a task whose commit needed a new
 * connection spent a delivery (and went to the dead letters after
 * `maxDeliver`), where a store outage waits. Easy to reach: ten processes
 * of a swarm with a pool of ten each use up Postgres's default 100.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import pg from "pg";
import { StoreError } from "../../src/errors/index.js";
import { openPostgresStore } from "../../src/store/postgres-store.js";
import { isStoreUnreachable } from "../../src/store/unreachable.js";
import { postgresUnreachable, postgresUrl } from "./ledger-backends.js";

const unreachable = await postgresUnreachable();
const skip = unreachable !== undefined && process.env["CI"] !== "true" ? unreachable : undefined;

test("a connection refused for too many connections is an unreachable store", {
  ...(skip === undefined ? {} : { skip }),
}, async () => {
  if (unreachable !== undefined) throw new Error(`${unreachable}; CI must provide it`);
  const suffix = randomBytes(5).toString("hex");
  const role = `conclave_limited_${suffix}`;
  const schema = `conclave_limit_${suffix}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  const database = (await admin.query<{ db: string }>("select current_database() as db")).rows[0]
    ?.db as string;
  try {
    await admin.query(`create role "${role}" login connection limit 1`);
    await admin.query(`grant create on database "${database}" to "${role}"`);
    const url = new URL(postgresUrl);
    url.username = role;
    url.password = "";
    const store = await openPostgresStore({ url: url.toString(), schema, poolSize: 4 });
    try {
      // The pool holds the role's one connection; reads made together need more.
      const outcomes = await Promise.allSettled(
        Array.from({ length: 4 }, () => store.getMeta("nothing")),
      );
      const refused = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason] : []));
      assert.ok(refused.length > 0, "a second connection is refused");
      for (const error of refused) {
        assert.ok(error instanceof StoreError, String(error));
        assert.match(error.message, /too many connections/);
        assert.equal(isStoreUnreachable(error), true, error.message);
      }
      // Once connections free up, the same call succeeds.
      assert.equal(await store.getMeta("nothing"), undefined);
    } finally {
      await store.close();
    }
  } finally {
    await admin.query(`drop schema if exists "${schema}" cascade`);
    await admin.query(`revoke create on database "${database}" from "${role}"`).catch(() => {});
    await admin.query(`drop role if exists "${role}"`);
    await admin.end();
  }
});
