/**
 * `conclave keys gen --dir <a place it cannot write>` is a usage error
 * (exit 2) naming the place, the errno code and `--dir`, as every other
 * command that writes where the user says (test/cli/output-paths.test.ts):
 * it used to exit 1 with `cannot write key file …: EEXIST … [E_KEY]`, as if
 * conclave had failed. Nothing is written.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { run } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-keys-dir-"));
after(() => rmSync(work, { recursive: true, force: true }));

for (const [what, dir] of [
  ["a file", "a-file"],
  ["a folder under a file", join("a-file", "keys")],
] as const) {
  test(`keys gen --dir ${what}: exit 2 naming the place and --dir`, async () => {
    writeFileSync(join(work, "a-file"), "not a folder\n");
    const r = await run(["keys", "gen", "dev-1", "dev-2", "--dir", dir], work);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /cannot write the key files to .*a-file.*: (ENOTDIR|EEXIST); pick another folder/,
    );
    assert.ok(r.stderr.includes("(--dir) or fix its permissions"), r.stderr);
    assert.equal(r.stdout, "", "no key printed");
    assert.equal(existsSync(join(work, "dev-1.key")), false);
  });
}
