/**
 * State files are private: a new store and a new queue journal are created
 * with mode 0600 in a folder of mode 0700 (SQLite's -wal and -shm files take
 * the main file's mode), and a key folder others may write to is refused.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { KeyError } from "../../src/errors/index.js";
import { loadOrCreateAgentKey } from "../../src/identity/index.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";

const root = mkdtempSync(join(tmpdir(), "conclave-private-"));
after(() => rmSync(root, { recursive: true, force: true }));
const mode = (path: string) => statSync(path).mode & 0o777;

test("a new store and a new journal are 0600 files in 0700 folders", {
  skip: process.platform === "win32",
}, async () => {
  const storePath = join(root, "state", "swarm.db");
  const store = openSqliteStore({ path: storePath });
  await store.setMeta("k", "v");
  assert.equal(mode(join(root, "state")), 0o700);
  assert.equal(mode(storePath), 0o600);
  assert.equal(mode(`${storePath}-wal`), 0o600, "SQLite's write-ahead log follows the file");
  await store.close();

  const journalPath = join(root, "journal", "swarm.journal.db");
  const transport = createMemoryTransport({ journalPath });
  await transport.close();
  assert.equal(mode(join(root, "journal")), 0o700);
  assert.equal(mode(journalPath), 0o600);
});

test("a key folder writable by others is refused, naming the fix", {
  skip: process.platform === "win32",
}, async () => {
  const dir = join(root, "keys");
  mkdirSync(dir, { mode: 0o700 });
  await loadOrCreateAgentKey(dir, "dev-1");
  chmodSync(dir, 0o777);
  await assert.rejects(
    loadOrCreateAgentKey(dir, "dev-1"),
    (e: unknown) =>
      e instanceof KeyError && /writable by group or others .*chmod 700/.test(e.message),
  );
  chmodSync(dir, 0o755);
  assert.ok(
    await loadOrCreateAgentKey(dir, "dev-1"),
    "readable by others is fine: the key files are 0600",
  );
});
