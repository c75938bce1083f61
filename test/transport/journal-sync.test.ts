/**
 * `broker.syncEveryWrite` on the embedded transport: the journal fsyncs each
 * commit before the enqueues it holds resolve (SQLite WAL with
 * `synchronous = FULL`), so an acknowledged enqueue survives a power loss;
 * without it (`NORMAL`) commits reach the operating system only, and the
 * WAL is fsynced at checkpoints. Counted for real: a child process opens the
 * transport from a swarm file and enqueues one message at a time under
 * strace, and the test counts fsync/fdatasync calls on the journal's files.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";

const straceMissing =
  spawnSync("strace", ["-V"], { encoding: "utf8" }).status === 0
    ? undefined
    : "strace is not on PATH (it counts the journal's fsyncs)";
const tsx = import.meta.resolve("tsx");
const writer = join(import.meta.dirname, "fixtures", "journal-writer.ts");
const ENQUEUES = 60;

/** Runs the writer under strace; returns how many fsyncs hit the journal's files. */
function journalSyncs(syncEveryWrite: boolean): number {
  const dir = mkdtempSync(join(tmpdir(), "conclave-journal-sync-"));
  try {
    const trace = join(dir, "strace.out");
    const run = spawnSync(
      "strace",
      [
        "-f",
        "-y",
        "-e",
        "trace=fsync,fdatasync",
        "-o",
        trace,
        process.execPath,
        "--import",
        tsx,
        writer,
        dir,
        String(syncEveryWrite),
        String(ENQUEUES),
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    assert.equal(run.status, 0, `the writer failed: ${run.stderr}`);
    assert.match(run.stdout, /done/);
    return readFileSync(trace, "utf8")
      .split("\n")
      .filter((line) => /\b(fsync|fdatasync)\(\d+<[^>]*journal\.db/.test(line)).length;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("the embedded journal's fsyncs", { skip: straceMissing }, () => {
  test("with broker.syncEveryWrite every awaited enqueue is fsynced before it resolves", () => {
    const syncs = journalSyncs(true);
    assert.ok(syncs >= ENQUEUES, `${syncs} fsyncs for ${ENQUEUES} separate enqueues`);
  });

  test("without it the journal does not fsync each commit", () => {
    const syncs = journalSyncs(false);
    assert.ok(syncs < ENQUEUES / 4, `${syncs} fsyncs for ${ENQUEUES} separate enqueues`);
  });
});
