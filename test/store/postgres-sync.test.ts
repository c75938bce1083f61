/**
 * `broker.syncEveryWrite` on a Postgres store: conclave cannot make the
 * server flush its WAL, but it can see whether the server does (`fsync`,
 * `synchronous_commit` as the store's connections have them) and report one
 * that acknowledges commits a power loss would take back. Against the
 * Postgres on 127.0.0.1:5432, in random schemas; the weak server is the same
 * one with `synchronous_commit = off` set through the URL's options.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, test } from "node:test";
import { dropPostgresSchema, openPostgresStore } from "../../src/store/postgres-store.js";
import { postgresMissing, postgresUrl } from "../integration/fixtures/processes.js";

const missing = await postgresMissing();

describe("a Postgres store asked to have every write on disk", { skip: missing }, () => {
  const schemas: string[] = [];
  after(async () => {
    for (const schema of schemas) {
      await dropPostgresSchema({ url: postgresUrl, schema }).catch(() => undefined);
    }
  });

  async function open(url: string, syncEveryWrite: boolean): Promise<string[]> {
    const schema = `sync_${randomBytes(4).toString("hex")}`;
    schemas.push(schema);
    const warnings: string[] = [];
    const store = await openPostgresStore({
      url,
      schema,
      syncEveryWrite,
      onWarning: (message) => warnings.push(message),
    });
    await store.close();
    return warnings;
  }

  const withOptions = (options: string) => {
    const url = new URL(postgresUrl);
    url.searchParams.set("options", options);
    return url.toString();
  };

  test("a server with synchronous_commit = off is reported, saying what to set", async () => {
    const warnings = await open(withOptions("-c synchronous_commit=off"), true);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? "", /broker\.syncEveryWrite/);
    assert.match(warnings[0] ?? "", /synchronous_commit = off/);
    assert.doesNotMatch(warnings[0] ?? "", /fsync = off/);
  });

  test("the server's defaults (fsync and synchronous_commit on) are not", async () => {
    assert.deepEqual(await open(postgresUrl, true), []);
  });

  test("without syncEveryWrite nothing is checked", async () => {
    assert.deepEqual(await open(withOptions("-c synchronous_commit=off"), false), []);
  });
});
