import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { openSqliteStore } from "../../src/store/sqlite-store.js";

// The schema the SQLite adapter wrote before the store moved to Kysely.
const LEGACY_SCHEMA = `
  create table conclave_migrations (version integer primary key);
  insert into conclave_migrations values (1);
  create table conclave_completed (
    task_id text primary key, agent text not null, at integer not null) without rowid;
  create table conclave_effects (
    kind text not null, key text not null, task_id text not null, agent text not null,
    at integer not null, data text);
  create index conclave_effects_kind_key on conclave_effects (kind, key);
  create table conclave_outbox (
    id text primary key, task_id text not null, mode text not null, subject text not null,
    data blob not null, seq integer not null);
  create index conclave_outbox_task on conclave_outbox (task_id);
  create table conclave_dead_letters (
    id text primary key, subject text not null, reason text not null, deliveries integer not null,
    at integer not null, corr text, type text, data text not null);
  create table conclave_meta (key text primary key, value text not null) without rowid;`;

test("sqlite: a store written before the Kysely schema is adopted with its data", async () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-store-legacy-"));
  const path = join(dir, "store.db");
  try {
    const legacy = new Database(path);
    legacy.pragma("journal_mode = WAL");
    legacy.exec(LEGACY_SCHEMA);
    legacy.prepare("insert into conclave_completed values ('old-task', 'dev-1', 1)").run();
    legacy
      .prepare(
        "insert into conclave_outbox values ('old-o', 'old-task', 'publish', 's.event.a', ?, 7)",
      )
      .run(Buffer.from("old"));
    legacy.prepare("insert into conclave_meta values ('run', 'r1')").run();
    legacy.close();

    const store = openSqliteStore({ path });
    try {
      const status = await store.schemaStatus();
      assert.deepEqual(
        status.applied.map((m) => m.name),
        status.known,
      );
      assert.equal(await store.isCompleted("old-task"), true);
      assert.equal(await store.getMeta("run"), "r1");
      await store.completeTask({
        taskId: "new-task",
        agent: "dev-1",
        at: 2,
        effects: [],
        outbox: [{ id: "new-o", mode: "publish", subject: "s.event.b", data: new Uint8Array([1]) }],
      });
      assert.deepEqual(
        (await store.pendingOutbox()).map((o) => o.id),
        ["old-o", "new-o"],
        "new entries are numbered after the legacy ones",
      );
      await store.appendAudit({ kind: "adopted", data: {} });
      assert.equal((await store.auditLog()).length, 1);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
