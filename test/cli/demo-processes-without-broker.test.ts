/**
 * `conclave demo --processes N` without a broker is a usage error (exit 2),
 * refused before anything is touched: it used to delete the previous demo
 * run's store and journal first (the demo starts afresh), then refuse, so a
 * forgotten `--transport` cost the last run's state.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { run } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-demo-processes-"));
after(() => rmSync(work, { recursive: true, force: true }));

test("demo --processes 2 on the embedded transport exits 2 and keeps the last run's state", async () => {
  const state = join(work, ".conclave", "demo");
  mkdirSync(state, { recursive: true });
  const kept = ["review-swarm.db", "review-swarm.journal.db"].map((name) => join(state, name));
  for (const file of kept) writeFileSync(file, "the last run's state");

  const r = await run(["demo", "--processes", "2"], work);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--processes needs a broker/);
  for (const file of kept) assert.ok(existsSync(file), `${file} was deleted`);
});
