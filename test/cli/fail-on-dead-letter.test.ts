/**
 * `conclave up --fail-on-dead-letter`: a run whose root tasks were
 * dead-lettered exits 1 (for CI pipelines), while the same run without the
 * flag reports them and exits 0.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { reviewSwarmYaml, run, summaryOf } from "./run-cli.js";

const dir = mkdtempSync(join(tmpdir(), "conclave-fail-on-dl-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("dead-lettered root tasks fail the run only with --fail-on-dead-letter", async () => {
  // Every fourth spec is impossible: those tasks are dead-lettered.
  const workload = { tasks: 8, impossibleEvery: 4, workMs: 1, budget: 100 };
  for (const [name, flags, code] of [
    ["plain", [], 0],
    ["strict", ["--fail-on-dead-letter"], 1],
  ] as const) {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(
      file,
      reviewSwarmYaml({ name: `dl-${name}`, head: `dataDir: ./${name}\n`, workload }),
    );
    const result = await run(["up", file, "--json", "--timeout", "60", ...flags], dir);
    const summary = summaryOf(result.stdout);
    assert.equal(summary.tasks.lost, 0);
    assert.ok(summary.tasks.deadLettered >= 2, JSON.stringify(summary.tasks));
    assert.equal(result.code, code, `${name}: ${result.stderr.slice(-500)}`);
  }
});
