/**
 * A Postgres store URL whose schema Postgres would refuse, or which names
 * two schemas, is a ConfigError before any connection. Before, two
 * `?schema=` parameters silently opened the first one's store, and a name
 * starting with `pg_` or holding a NUL failed only on the server, as a
 * StoreError in the server's words ("unacceptable schema name", "invalid
 * byte sequence for encoding") telling to check the URL and the server.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { ConfigError, StoreError } from "../../src/errors/index.js";
import { openStore, parseStoreUrl } from "../../src/store/open-store.js";
import { openPostgresStore } from "../../src/store/postgres-store.js";
import { postgresMissing, postgresUrl } from "../integration/fixtures/processes.js";

// Nothing listens on port 1: a refusal here was made before connecting.
const nowhere = "postgres://conclave@127.0.0.1:1/swarm";
const missing = await postgresMissing();

describe("Postgres schema names in store URLs", () => {
  test("two ?schema= parameters are refused, naming both", () => {
    assert.throws(
      () => parseStoreUrl(`${nowhere}?schema=review&schema=other`),
      (error: unknown) =>
        error instanceof ConfigError &&
        /names 2 schemas \(\?schema=review&schema=other\): keep one \?schema= parameter/.test(
          error.message,
        ),
    );
  });

  test("a name Postgres reserves or cannot store is refused with what to choose", async () => {
    for (const [schema, why] of [
      ["pg_review", /starts with "pg_", which Postgres reserves.*choose another name/],
      ["a\u0000b", /NUL character.*choose a name without it/],
      ["x".repeat(64), /must be 1 to 63 bytes/],
    ] as const) {
      const url = `${nowhere}?schema=${encodeURIComponent(schema)}`;
      assert.throws(
        () => parseStoreUrl(url),
        (error: unknown) => error instanceof ConfigError && why.test(error.message),
        schema,
      );
      await assert.rejects(
        openStore(url, { create: false }),
        (error: unknown) => error instanceof ConfigError && why.test(error.message),
      );
      // The adapter itself refuses it too, before connecting.
      await assert.rejects(
        openPostgresStore({ url: nowhere, schema, connectTimeoutMs: 500 }),
        (error: unknown) =>
          error instanceof StoreError &&
          why.test(error.message) &&
          !/ECONNREFUSED/.test(error.message),
      );
    }
  });

  test("names with quotes, dots, spaces and accents open, reopen and drop", {
    skip: missing !== undefined && process.env["CI"] !== "true" ? missing : false,
  }, async () => {
    const tag = randomBytes(3).toString("hex");
    for (const schema of [`a"b;c ${tag}`, `Review.${tag}`, `ünï'${tag}`]) {
      const store = await openPostgresStore({ url: postgresUrl, schema, poolSize: 1 });
      try {
        await store.appendAudit({ kind: "test.entry", data: { schema } });
        const again = await openStore(`${postgresUrl}?schema=${encodeURIComponent(schema)}`, {
          create: false,
        });
        assert.deepEqual(
          (await again.auditLog()).map((e) => e.data),
          [{ schema }],
        );
        await again.close();
      } finally {
        await store.dropSchema();
      }
    }
  });
});
