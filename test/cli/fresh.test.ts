/**
 * `conclave up --fresh`: the previous run's SQLite store and queue journal
 * are deleted (keys kept) so the workload runs again from nothing; without
 * `--yes` and without a terminal to ask on, it refuses; a Postgres store is
 * never dropped from here.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { reviewSwarmYaml, run, summaryOf } from "./run-cli.js";

const dir = mkdtempSync(join(tmpdir(), "conclave-fresh-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const workload = { tasks: 6, impossibleEvery: 0, workMs: 1, budget: 100 };

test("--fresh --yes runs the workload again from nothing, keeping the keys", async () => {
  const file = join(dir, "swarm.yaml");
  writeFileSync(file, reviewSwarmYaml({ name: "fresh", head: "dataDir: ./state\n", workload }));
  const first = await run(["up", file, "--json", "--timeout", "60"], dir);
  assert.equal(first.code, 0, first.stderr.slice(-500));
  assert.equal(summaryOf(first.stdout).tasks.completed, 6);
  const keys = readdirSync(join(dir, "state", "keys")).sort();

  const refused = await run(["up", file, "--json", "--fresh"], dir);
  assert.equal(refused.code, 2, "no terminal to ask on, no --yes");
  assert.match(refused.stderr, /add --yes/);
  assert.ok(existsSync(join(dir, "state", "fresh.db")), "nothing deleted");

  const again = await run(["up", file, "--json", "--fresh", "--yes", "--timeout", "60"], dir);
  assert.equal(again.code, 0, again.stderr.slice(-500));
  assert.match(again.stderr, /fresh start: deleted/);
  const tasks = summaryOf(again.stdout).tasks;
  assert.equal(tasks.submitted, 6, "the plan ran again: a fresh store has no record of it");
  assert.equal(tasks.completed, 6);
  assert.deepEqual(readdirSync(join(dir, "state", "keys")).sort(), keys, "the keys were kept");
});

test("--fresh never drops a Postgres store", async () => {
  const file = join(dir, "pg.yaml");
  writeFileSync(
    file,
    reviewSwarmYaml({
      name: "fresh-pg",
      head: "store: postgres://postgres@127.0.0.1:5432/test?schema=never_dropped\n",
      workload,
    }),
  );
  const refused = await run(["up", file, "--fresh", "--yes"], dir);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /deletes SQLite stores only/);
});
