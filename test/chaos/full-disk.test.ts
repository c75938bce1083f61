/**
 * Finding 6 of docs/CHAOS.md: the embedded transport on a disk that fills.
 * The data folder is a size-limited tmpfs (root only: the tests are skipped
 * otherwise, saying why).
 *
 * - The disk fills while the architect commits its plan: the commit fails
 *   with `StoreFullError` (it used to surface as "cannot rollback - no
 *   transaction is active", SQLite's own rollback hiding the cause), the
 *   architect crashes and is given up on, and `up` used to show `0/0
 *   settled` until `--timeout` and then exit 0. Now it stops at once and
 *   exits 1 with the reason. With space back, the same command runs the
 *   workload.
 * - The disk fills mid-run (a filler file takes what is left): commits fail
 *   with `StoreFullError`, `up` stops and exits 1 with the reason instead
 *   of waiting; with the filler deleted, the same command resumes: every
 *   task acknowledged in the first run is there, none lost, none applied
 *   twice.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, describe, test } from "node:test";
import { finish, reviewSwarmYaml, start, summaryOf } from "../cli/run-cli.js";
import { cannotMount, fillDisk, mount, remount, unmount } from "./tmpfs.js";

const skip = cannotMount();

describe("the embedded transport on a full disk", {
  ...(skip === undefined ? {} : { skip }),
}, () => {
  const work = mkdtempSync(join(tmpdir(), "conclave-full-disk-"));
  const mounted: string[] = [];
  after(() => {
    for (const dir of mounted) unmount(dir);
    rmSync(work, { recursive: true, force: true });
  });
  const setUp = (name: string, size: string, workload: Record<string, number>) => {
    const disk = join(work, name);
    mkdirSync(disk);
    mount(disk, size);
    mounted.push(disk);
    const file = join(work, `${name}.yaml`);
    writeFileSync(
      file,
      reviewSwarmYaml({ name, head: `dataDir: ${join(disk, "data")}\n`, workload }),
    );
    return { disk, file };
  };

  test("full before the plan commits: exits 1 at once with the reason; with space back, the workload runs", {
    timeout: 240_000,
  }, async () => {
    const { disk, file } = setUp("full-at-start", "1m", { tasks: 1200 });
    const t0 = Date.now();
    const full = await finish(start(["up", file, "--json", "--timeout", "45"], work));
    const tookMs = Date.now() - t0;
    assert.equal(
      full.code,
      1,
      `exit code after ${tookMs} ms; stderr:\n${full.stderr.slice(-1500)}`,
    );
    assert.match(full.stderr, /no task was submitted: agent architect crashed and gave up/);
    assert.match(full.stderr, /the disk under the SQLite store at .* is full/);
    assert.ok(tookMs < 40_000, `stopped without waiting for the timeout (${tookMs} ms)`);

    remount(disk, "64m");
    const again = await finish(start(["up", file, "--json", "--timeout", "150"], work));
    assert.equal(again.code, 0, `stderr:\n${again.stderr.slice(-1500)}`);
    const summary = summaryOf(again.stdout);
    assert.equal(summary.tasks.submitted, 1200);
    assert.equal(summary.tasks.lost, 0);
    assert.equal(summary.tasks.duplicateEffects, 0);
  });

  test("full mid-run: exits 1 with the reason; with the filler deleted, the same command resumes and loses nothing", {
    timeout: 180_000,
  }, async () => {
    const { disk, file } = setUp("full-mid-run", "16m", { tasks: 400, workMs: 30 });
    const filler = join(disk, "filler");
    const child = start(["up", file, "--json", "--timeout", "90"], work);
    const completed = new Set<string>();
    let filled = false;
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      if (!line.includes('"task.completed"')) return;
      completed.add((JSON.parse(line) as { id: string }).id);
      if (!filled && completed.size >= 20) {
        filled = true;
        fillDisk(filler);
      }
    });
    const full = await finish(child);
    assert.ok(filled, `the disk was filled mid-run (completed ${completed.size})`);
    assert.equal(full.code, 1, `stderr:\n${full.stderr.slice(-1500)}`);
    assert.match(full.stderr, /conclave: stopped: .*the disk under .* is full/);

    rmSync(filler);
    const again = await finish(start(["up", file, "--json", "--timeout", "120"], work));
    assert.equal(again.code, 0, `stderr:\n${again.stderr.slice(-1500)}`);
    const summary = summaryOf(again.stdout);
    assert.equal(summary.tasks.submitted, 400, "the plan committed before the disk filled is kept");
    assert.equal(summary.tasks.lost, 0);
    assert.equal(summary.tasks.duplicateEffects, 0);
    assert.ok(
      summary.tasks.completed + summary.tasks.deadLettered === 400,
      JSON.stringify(summary.tasks),
    );
  });
});
