/**
 * While a CLI command runs, Node process warnings (an adapter's background
 * failure) are JSON log lines, not Node's free text; afterwards Node's own
 * printing is back.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { Writable } from "node:stream";
import { test } from "node:test";
import { logProcessWarnings } from "../../src/cli/warnings.js";

test("a process warning becomes one structured warn line, and the restore puts Node's printing back", async () => {
  const before = process.listeners("warning");
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).trim().split("\n"));
      done();
    },
  });
  const restore = logProcessWarnings(() => "warn", sink);
  try {
    assert.deepEqual(process.listeners("warning").length, 1, "only the log's listener remains");
    const seen = once(process, "warning");
    process.emitWarning("pruning old enqueue keys failed: boom", { code: "CONCLAVE_TEST" });
    await seen;
    assert.equal(lines.length, 1, lines.join("\n"));
    const line = JSON.parse(lines[0] ?? "{}") as Record<string, unknown>;
    assert.equal(line["level"], 40);
    assert.equal(line["event"], "warning");
    assert.equal(line["code"], "CONCLAVE_TEST");
    assert.equal(line["msg"], "pruning old enqueue keys failed: boom");
  } finally {
    restore();
  }
  assert.deepEqual(process.listeners("warning"), before);
});

test("below the log level, a warning prints nothing", async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const restore = logProcessWarnings(() => "error", sink);
  try {
    const seen = once(process, "warning");
    process.emitWarning("quiet");
    await seen;
  } finally {
    restore();
  }
  assert.deepEqual(lines, []);
});
