/**
 * `conclave dead-letters list` shows every dead letter, however many the
 * store holds: it read only the oldest 100,000, so past that the newest
 * ones (those a user looks for) were left out without a word, `--reason`
 * found nothing, and the count on stderr was wrong.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { openStore } from "../../src/store/open-store.js";
import { jsonLines, run } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-review-dl-page-"));
after(() => rmSync(work, { recursive: true, force: true }));

test("dead-letters list finds the newest dead letter after 100,000 older ones", async () => {
  const path = join(work, "many.db");
  const url = `sqlite:${path}`;
  await (await openStore(url)).close();
  // Written in one transaction: through the store, 100,001 commits would take minutes.
  const db = new Database(path);
  try {
    const insert = db.prepare(
      "insert into conclave_dead_letters (id, subject, reason, deliveries, at, type, data) values (?, 'many.task.worker.t', ?, 1, ?, 't', '')",
    );
    db.transaction(() => {
      for (let i = 0; i < 100_000; i++) {
        insert.run(`old-${String(i).padStart(6, "0")}`, "an old task died", 1_000 + i);
      }
      insert.run("newest", "the newest task died", 10_000_000);
    })();
  } finally {
    db.close();
  }

  const r = await run(
    ["dead-letters", "list", "--store", url, "--reason", "newest", "--json"],
    work,
  );
  assert.equal(r.code, 0, r.stderr);
  const lines = jsonLines(r.stdout) as { id: string; reason: string }[];
  assert.deepEqual(
    lines.map((l) => l.id),
    ["newest"],
  );

  const all = await run(["dead-letters", "list", "--store", url], work);
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stderr, /^100001 dead letters$/m);
});
