/**
 * `conclave doctor` diagnoses and changes nothing. Before, it opened an
 * existing store the way `up` does, which migrated a store of an older
 * schema (and switched its journal to WAL), and it opened an AMQP transport,
 * which declared the swarm's exchange on the broker. Now an older store is
 * reported as not migrated and left as it was, and the broker only sees a
 * login.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import { Kysely, Migrator, SqliteDialect } from "kysely";
import { migrationProvider, migrations } from "../../src/store/migrations/index.js";
import { MIGRATION_LOCK_TABLE, MIGRATION_TABLE } from "../../src/store/schema.js";
import { reviewSwarmYaml, run } from "./run-cli.js";

interface Report {
  ok: boolean;
  checks: { name: string; ok: boolean; detail: string }[];
}

let work: string;
before(() => {
  work = mkdtempSync(join(tmpdir(), "conclave-doctor-ro-"));
});
after(() => rmSync(work, { recursive: true, force: true }));

async function doctor(args: string[]) {
  const r = await run(["doctor", ...args, "--json"], work);
  const report = JSON.parse(r.stdout) as Report;
  return {
    code: r.code,
    report,
    check: (name: string) => report.checks.find((c) => c.name === name),
  };
}

/** A SQLite store as an older conclave left it: migrated up to `last`, journal mode untouched. */
async function olderStore(path: string, last: string): Promise<void> {
  const db = new Kysely({ dialect: new SqliteDialect({ database: new Database(path) }) });
  try {
    const migrator = new Migrator({
      db,
      provider: migrationProvider("sqlite"),
      migrationTableName: MIGRATION_TABLE,
      migrationLockTableName: MIGRATION_LOCK_TABLE,
    });
    const { error } = await migrator.migrateTo(last);
    if (error) throw error;
  } finally {
    await db.destroy();
  }
}

function readStore(path: string): { applied: string[]; journal: unknown } {
  const db = new Database(path, { readonly: true });
  try {
    const applied = (db.prepare(`select name from ${MIGRATION_TABLE}`).all() as { name: string }[])
      .map((r) => r.name)
      .sort();
    return { applied, journal: db.pragma("journal_mode", { simple: true }) };
  } finally {
    db.close();
  }
}

describe("conclave doctor changes nothing", () => {
  test("a store of an older schema is reported as not migrated, and left as it was", async () => {
    const path = join(work, "older.db");
    const previous = migrations.at(-2)?.name as string;
    const latest = migrations.at(-1)?.name as string;
    await olderStore(path, previous);
    const before = readStore(path);
    assert.equal(before.applied.at(-1), previous);

    const r = await doctor(["--store", `sqlite:${path}`]);
    assert.equal(r.code, 0, JSON.stringify(r.report));
    const detail = r.check("store")?.detail ?? "";
    assert.match(detail, new RegExp(`at schema ${previous}, not migrated`));
    assert.match(detail, new RegExp(`1 migration\\(s\\) pending \\(${latest}\\)`));
    assert.match(detail, /the next conclave up applies them/);
    assert.deepEqual(readStore(path), before, "neither migrated nor switched to WAL");
  });

  test("a store of this build's schema still passes", async () => {
    const path = join(work, "current.db");
    await olderStore(path, migrations.at(-1)?.name as string);
    const r = await doctor(["--store", `sqlite:${path}`]);
    assert.equal(r.code, 0, JSON.stringify(r.report));
    assert.match(r.check("store")?.detail ?? "", /opens and holds the store/);
  });

  test("a store a newer conclave wrote fails, and is left as it was", async () => {
    const path = join(work, "newer.db");
    await olderStore(path, migrations.at(-1)?.name as string);
    const db = new Database(path);
    db.prepare(`insert into ${MIGRATION_TABLE} (name, timestamp) values (?, ?)`).run(
      "999-future",
      new Date(0).toISOString(),
    );
    db.close();
    const before = readStore(path);
    const r = await doctor(["--store", `sqlite:${path}`]);
    assert.equal(r.code, 1, JSON.stringify(r.report));
    assert.match(r.check("store")?.detail ?? "", /written by a newer conclave \(schema 999-future/);
    assert.deepEqual(readStore(path), before);
  });

  test("an AMQP broker sees a login, and no exchange is declared", async (t) => {
    const url = process.env["CONCLAVE_TEST_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672";
    const amqp = await import("amqplib");
    let connection: Awaited<ReturnType<typeof amqp.connect>>;
    try {
      connection = await amqp.connect(url);
    } catch (error) {
      t.skip(`RabbitMQ at ${url} is unreachable: ${String(error)}`);
      return;
    }
    const exchangeExists = async (name: string) => {
      const channel = await connection.createChannel();
      channel.on("error", () => undefined);
      try {
        await channel.checkExchange(name);
        await channel.close();
        return true;
      } catch {
        return false;
      }
    };
    try {
      const swarm = `doctor-ro-${Date.now().toString(36)}`;
      const file = join(work, `${swarm}.yaml`);
      writeFileSync(
        file,
        reviewSwarmYaml({ name: swarm, head: `transport: ${url}\n`, workload: { tasks: 1 } }),
      );
      const r = await doctor(["--swarm", file]);
      assert.equal(r.check("transport")?.ok, true, JSON.stringify(r.report));
      assert.match(r.check("transport")?.detail ?? "", /accepts a session/);
      assert.equal(await exchangeExists(swarm), false, `doctor declared exchange "${swarm}"`);
    } finally {
      await connection.close();
    }
  });
});
