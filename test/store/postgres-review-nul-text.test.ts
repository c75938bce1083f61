/**
 * Postgres cannot store a NUL character in text. A value holding one (a
 * meta value, an effect's kind, an idempotency key taken from a broker's
 * message id) failed with the server's words only, "invalid byte sequence
 * for encoding UTF8: 0x00", which names neither the character nor what to
 * do. The error now says so.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { StoreError } from "../../src/errors/index.js";
import { dropPostgresSchema, openPostgresStore } from "../../src/store/postgres-store.js";
import { postgresUnreachable, postgresUrl } from "./ledger-backends.js";

const unreachable = await postgresUnreachable();
const skip = unreachable !== undefined && process.env["CI"] !== "true" ? unreachable : undefined;

test("a NUL character in a text value: the error names it and says what to do", {
  ...(skip === undefined ? {} : { skip }),
}, async () => {
  if (unreachable !== undefined) throw new Error(`${unreachable}; CI must provide it`);
  const schema = `conclave_nul_${randomBytes(6).toString("hex")}`;
  const store = await openPostgresStore({ url: postgresUrl, schema, poolSize: 2 });
  try {
    const named = (error: unknown) => {
      assert.ok(error instanceof StoreError, String(error));
      assert.match(error.message, /^writing meta failed on the Postgres store/);
      assert.match(error.message, /holds a NUL character \(\\u0000\), which Postgres cannot store/);
      assert.match(error.message, /remove it/);
      return true;
    };
    await assert.rejects(store.setMeta("note", "a\u0000b"), named);
    await assert.rejects(
      store.claimIdempotencyKey("amqp:\u0000id"),
      (error: unknown) => error instanceof StoreError && /NUL character/.test(error.message),
    );
    // The store is still usable, and nothing was written.
    assert.equal(await store.getMeta("note"), undefined);
    await store.setMeta("note", "ab");
    assert.equal(await store.getMeta("note"), "ab");
  } finally {
    await store.close();
    await dropPostgresSchema({ url: postgresUrl, schema });
  }
});
