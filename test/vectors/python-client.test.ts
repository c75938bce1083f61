/**
 * The test vectors, reproduced by a client in another language written from
 * docs/PROTOCOL.md alone: test/vectors/python/check_vectors.py (Python 3,
 * standard library only, its own Ed25519). It also runs the Python snippets
 * the document prints. Any vector it cannot reproduce fails this test, with
 * the checker's own line naming the check; skipped only without python3.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const checker = fileURLToPath(new URL("./python/check_vectors.py", import.meta.url));
const python = spawnSync("python3", ["--version"], { encoding: "utf8" });
const missing =
  python.error === undefined && python.status === 0
    ? false
    : "python3 is not installed: the independent Python check of the test vectors did not run";

test("a Python client written from docs/PROTOCOL.md reproduces every test vector", {
  skip: missing,
  timeout: 120_000,
}, () => {
  const run = spawnSync("python3", [checker], { encoding: "utf8", timeout: 110_000 });
  assert.equal(run.error, undefined, `could not run ${checker}: ${run.error?.message}`);
  assert.equal(
    run.status,
    0,
    `check_vectors.py failed (exit ${run.status}):\n${run.stdout}${run.stderr}`,
  );
  assert.match(run.stdout, /^\d+ checks passed, 0 failed$/m);
});
