/**
 * Finding 10 of docs/CHAOS.md (`pg-cut`): a Postgres connection reset
 * while the store had the connection checked out (mid-transaction) ended
 * the process with an unhandled 'error' event ("write ECONNRESET"). Now the
 * call fails with `StoreError` and the store carries on with a new
 * connection once Postgres is reachable again.
 *
 * The fault proxy stands between the store and the local Postgres; the cut
 * happens inside an audit append's transaction (its hash is computed under
 * the append lock, between two statements).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { StoreError } from "../../src/errors/index.js";
import { dropPostgresSchema, openPostgresStore } from "../../src/store/postgres-store.js";
import { postgresMissing, postgresUrl } from "../integration/fixtures/processes.js";
import { startChaosProxy } from "./proxy.js";

const url = postgresUrl;
const skip = await postgresMissing();

test("a connection reset mid-transaction fails the call, not the process; the store then works again", {
  ...(skip === undefined ? {} : { skip }),
}, async () => {
  const target = new URL(url);
  const proxy = await startChaosProxy(Number(target.port || 5432));
  const schema = `conclave_test_${randomBytes(6).toString("hex")}`;
  const viaProxy = new URL(url);
  viaProxy.port = String(proxy.port);
  const store = await openPostgresStore({ url: viaProxy.toString(), schema, poolSize: 2 });
  try {
    await store.appendAudit({ kind: "before", data: {} });
    await assert.rejects(
      store.appendAudit({
        kind: "cut",
        data: {},
        hash: () => {
          proxy.cut();
          return "0".repeat(64);
        },
      }),
      StoreError,
    );
    proxy.heal();
    await store.appendAudit({ kind: "after", data: {} });
    const kinds = (await store.auditLog()).map((r) => r.kind);
    assert.deepEqual(kinds, ["before", "after"], "the cut append left nothing");
  } finally {
    await store.close();
    await proxy.close();
    await dropPostgresSchema({ url, schema });
  }
});
