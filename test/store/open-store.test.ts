import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import Database from "better-sqlite3";
import pg from "pg";
import { ConfigError, StoreNotFoundError } from "../../src/errors/index.js";
import { openStore, parseStoreUrl } from "../../src/store/open-store.js";
import { dropPostgresSchema } from "../../src/store/postgres-store.js";
import { postgresUnreachable, postgresUrl } from "./ledger-backends.js";

const work = mkdtempSync(join(tmpdir(), "conclave-open-store-"));
after(() => rmSync(work, { recursive: true, force: true }));

/** The ConfigError `fn` throws; fails if it throws nothing or something else. */
function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected a ConfigError");
}

describe("parseStoreUrl", () => {
  test("reads sqlite paths, the in-memory store and postgres URLs with their schema", () => {
    assert.deepEqual(parseStoreUrl("sqlite:./state/x.db"), {
      kind: "sqlite",
      path: "./state/x.db",
    });
    assert.deepEqual(parseStoreUrl("sqlite:/abs/x.db"), { kind: "sqlite", path: "/abs/x.db" });
    assert.deepEqual(parseStoreUrl("sqlite::memory:"), { kind: "sqlite", path: ":memory:" });
    assert.deepEqual(parseStoreUrl("postgres://u:p@db:5432/app?schema=review&sslmode=require"), {
      kind: "postgres",
      url: "postgres://u:p@db:5432/app?sslmode=require",
      schema: "review",
    });
    assert.deepEqual(parseStoreUrl("postgresql://db/app"), {
      kind: "postgres",
      url: "postgresql://db/app",
    });
  });

  test("a path without a scheme says to write sqlite:<path>", () => {
    for (const path of ["./x.db", "x.db", "/tmp/x.db"]) {
      const error = configErrorOf(() => parseStoreUrl(path));
      assert.match(error.message, new RegExp(`write sqlite:${path.replace(/\./g, "\\.")}`));
      assert.equal(error.code, "E_CONFIG");
    }
  });

  test("sqlite:// forms, an empty path and an empty schema say what to write", () => {
    assert.match(
      configErrorOf(() => parseStoreUrl("sqlite://./x.db")).message,
      /without "\/\/" \(e\.g\. sqlite:\.\/x\.db\)/,
    );
    assert.match(configErrorOf(() => parseStoreUrl("sqlite:")).message, /names no file/);
    assert.match(
      configErrorOf(() => parseStoreUrl("postgres://db/app?schema=")).message,
      /empty \?schema=/,
    );
  });

  test("another scheme is refused with the supported forms; a bad URL's password is not echoed", () => {
    const mysql = configErrorOf(() => parseStoreUrl("mysql://root:hunter2@db/app"));
    assert.match(mysql.message, /"mysql:" is not supported: write sqlite:<path>.*postgres:\/\//);
    assert.doesNotMatch(mysql.message, /hunter2/);
    const malformed = configErrorOf(() => parseStoreUrl("postgres://root:hunter2@db:port/app"));
    assert.match(malformed.message, /not well-formed/);
    assert.doesNotMatch(malformed.message, /hunter2/);
  });
});

describe("openStore: sqlite", () => {
  test("creates the file and its folders by default, and reads it back with create: false", async () => {
    const path = join(work, "nested", "deeper", "store.db");
    const store = await openStore(`sqlite:${path}`);
    await store.setMeta("written", "yes");
    await store.close();
    assert.ok(existsSync(path));
    const reader = await openStore(`sqlite:${path}`, { create: false });
    try {
      assert.equal(await reader.getMeta("written"), "yes");
    } finally {
      await reader.close();
    }
  });

  test("create: false on a missing file: StoreNotFoundError naming it, and nothing created", async () => {
    const path = join(work, "typo", "store.db");
    await assert.rejects(openStore(`sqlite:${path}`, { create: false }), (error: unknown) => {
      assert.ok(error instanceof StoreNotFoundError);
      assert.ok(error instanceof ConfigError, "a usage error: the CLI exits 2");
      assert.equal(error.code, "E_STORE_NOT_FOUND");
      assert.equal(error.store, `sqlite:${path}`);
      assert.match(error.message, new RegExp(`no conclave store at sqlite:${path}`));
      return true;
    });
    assert.equal(existsSync(path), false);
    assert.equal(existsSync(join(work, "typo")), false, "not even the folder");
  });

  test("create: false on a SQLite file that is not a store (a queue journal): refused, left as it was", async () => {
    const path = join(work, "journal.db");
    const db = new Database(path);
    db.exec("create table conclave_queue_messages (seq integer)");
    db.close();
    await assert.rejects(
      openStore(`sqlite:${path}`, { create: false }),
      (error: unknown) =>
        error instanceof StoreNotFoundError && /holds no conclave tables/.test(error.message),
    );
    const after = new Database(path, { readonly: true });
    try {
      const tables = after.prepare("select name from sqlite_master where type = 'table'").all() as {
        name: string;
      }[];
      assert.deepEqual(
        tables.map((t) => t.name),
        ["conclave_queue_messages"],
      );
      assert.equal(after.pragma("journal_mode", { simple: true }), "delete");
    } finally {
      after.close();
    }
  });

  test("an unreadable URL is a ConfigError before anything is touched", async () => {
    await assert.rejects(openStore("./x.db"), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /write sqlite:\.\/x\.db/);
      return true;
    });
  });
});

async function schemaExists(schema: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    const result = await client.query(
      "select 1 from information_schema.schemata where schema_name = $1",
      [schema],
    );
    return result.rowCount === 1;
  } finally {
    await client.end();
  }
}

const unreachable = await postgresUnreachable();
// Under CI a missing Postgres fails these tests; elsewhere they are skipped with the reason.
const skip = unreachable !== undefined && process.env["CI"] !== "true" ? unreachable : undefined;

function postgresTest(name: string, body: () => Promise<void>): void {
  test(name, skip ? { skip } : {}, async () => {
    if (unreachable !== undefined) throw new Error(`${unreachable}; CI must provide it`);
    await body();
  });
}

describe("openStore: postgres", () => {
  const schema = `conclave_open_${randomBytes(5).toString("hex")}`;
  const url = `${postgresUrl}?schema=${schema}`;
  after(() => (unreachable ? undefined : dropPostgresSchema({ url: postgresUrl, schema })));

  postgresTest(
    "create: false on a schema that does not exist: StoreNotFoundError, no schema created",
    async () => {
      await assert.rejects(openStore(url, { create: false }), (error: unknown) => {
        assert.ok(error instanceof StoreNotFoundError);
        assert.match(error.message, new RegExp(`schema ${schema}\\): the schema does not exist`));
        return true;
      });
      assert.equal(await schemaExists(schema), false);
    },
  );

  postgresTest("create: false on a schema without conclave tables: refused", async () => {
    const other = `${schema}_bare`;
    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    try {
      await client.query(`create schema ${other}`);
      await assert.rejects(
        openStore(`${postgresUrl}?schema=${other}`, { create: false }),
        StoreNotFoundError,
      );
    } finally {
      await client.query(`drop schema ${other} cascade`);
      await client.end();
    }
  });

  postgresTest(
    "creates the schema by default (pg loaded on demand), then opens it with create: false",
    async () => {
      const store = await openStore(url);
      await store.setMeta("written", "yes");
      await store.close();
      const reader = await openStore(url, { create: false });
      try {
        assert.equal(await reader.getMeta("written"), "yes");
      } finally {
        await reader.close();
      }
    },
  );
});
