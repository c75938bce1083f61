/**
 * `conclave tasks show <id>`: after a real run of the review swarm's
 * handlers, one root task's report names its outcome, the tasks it caused
 * (completed and dead-lettered), its effects and steps, and the ledger
 * operations charged to it; a descendant names its root; an unknown id exits
 * 1; a missing store exits 2 and is not created.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { TaskReport } from "../../src/runtime/task-report.js";
import { agents, jsonLines, run } from "./run-cli.js";

const dir = mkdtempSync(join(tmpdir(), "conclave-tasks-show-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, "swarm.yaml");

// The developers are metered (they pay for their simulated model call), so
// the code tasks have ledger operations; every second spec is impossible.
writeFileSync(
  file,
  `swarm: tasks-show
dataDir: ./data
module: ${agents}
defaults: { ackWaitMs: 2000, maxDeliver: 3, concurrency: 4, backoff: { baseMs: 10, maxMs: 50 }, heartbeatMs: 200 }
roles:
  architect: { tasks: [redo] }
  developer: { tasks: [code] }
  sentinel: { tasks: [scan] }
  auditor: { tasks: [audit] }
agents:
  - { id: architect, role: architect }
  - { id: dev-1, role: developer, budget: { initial: 100000 } }
  - { id: sentinel, role: sentinel }
  - { id: auditor, role: auditor }
prices:
  version: t-1
  creditsPerUsd: 1000000
  models:
    sim-small: { input: 0.05, output: 0.2 }
workload: { tasks: 4, impossibleEvery: 2, workMs: 1, budget: 100 }
`,
);

async function show(id: string): Promise<TaskReport> {
  const r = await run(["tasks", "show", id, "--swarm", file, "--json"], dir);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as TaskReport;
}

describe("conclave tasks show", () => {
  let completedRoot: string;
  let deadRoot: string;

  before(async () => {
    const up = await run(["up", file, "--json", "--timeout", "60"], dir);
    assert.equal(up.code, 0, up.stderr.slice(-1000));
    const results = jsonLines((await run(["results", "--swarm", file, "--json"], dir)).stdout);
    const finished = results.find((r) => r["status"] === "finished");
    const dead = results.find((r) => r["status"] === "dead_lettered");
    assert.ok(finished && dead, JSON.stringify(results));
    completedRoot = String(finished["root"]);
    deadRoot = String(dead["root"]);
  });

  test("a completed root: its result, the tasks it caused, effects and charges", async () => {
    const report = await show(completedRoot);
    assert.equal(report.taskId, completedRoot);
    assert.equal(report.isRoot, true);
    assert.equal(report.root, completedRoot);
    assert.equal(report.status, "completed");
    assert.equal(report.role, "developer");
    assert.equal(report.type, "code");
    // The developer wrote the code, the sentinel scanned it, the auditor audited it.
    assert.ok(report.descendants.length >= 2, JSON.stringify(report.descendants));
    assert.ok(report.descendants.every((d) => d.status === "completed"));
    assert.ok(
      report.effects.some((e) => e.kind === "code.written"),
      JSON.stringify(report.effects),
    );
    // dev-1 paid for its model call while handling this very task.
    assert.ok(
      report.ledger.some((op) => op.kind === "fee" && op.id.startsWith(`fee:${completedRoot}:`)),
      JSON.stringify(report.ledger),
    );
    assert.equal(report.attempts, 1);

    const child = report.descendants[0];
    assert.ok(child);
    const childReport = await show(child.taskId);
    assert.equal(childReport.isRoot, false);
    assert.equal(childReport.root, completedRoot);
    assert.equal(childReport.status, "completed");
    assert.deepEqual(childReport.descendants, []);
  });

  test("a dead-lettered root: the reason, its dead letter and its attempts", async () => {
    const report = await show(deadRoot);
    assert.equal(report.status, "dead_lettered");
    assert.match(report.reason ?? "", /contradictory requirements/);
    assert.equal(report.deadLetter?.id, deadRoot);
    assert.equal(report.attempts, 3, "maxDeliver: 3");
    // It paid on each of its attempts.
    const fees = report.ledger.filter((op) => op.id.startsWith(`fee:${deadRoot}:`));
    assert.equal(fees.length, 3, JSON.stringify(report.ledger));
  });

  test("the text report names the sections a reader looks for", async () => {
    const r = await run(["tasks", "show", completedRoot, "--swarm", file], dir);
    assert.equal(r.code, 0, r.stderr);
    for (const part of [
      `task ${completedRoot}  developer.code  completed`,
      "root: this task is a root",
      "descendants (",
      "effects (",
      "ledger (",
    ]) {
      assert.ok(r.stdout.includes(part), `${part}\n${r.stdout}`);
    }
  });

  test("an unknown id exits 1 and says so", async () => {
    const r = await run(["tasks", "show", "no-such-task", "--swarm", file], dir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no task no-such-task in this store/);
  });

  test("a missing store exits 2 and is not created", async () => {
    const path = join(dir, "typo", "x.db");
    const r = await run(["tasks", "show", "x", "--store", `sqlite:${path}`], dir);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(existsSync(path), false);
  });
});
