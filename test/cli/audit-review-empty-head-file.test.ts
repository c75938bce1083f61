/**
 * `conclave audit verify --head FILE` with a file that holds no head (`[]`)
 * is refused (exit 2): it checked the log against nothing and reported it
 * verified, as if the head the user kept outside the store agreed.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { openStore } from "../../src/store/open-store.js";
import { run } from "./run-cli.js";

const work = mkdtempSync(join(tmpdir(), "conclave-review-empty-head-"));
after(() => rmSync(work, { recursive: true, force: true }));

test("audit verify --head of a file holding [] is a usage error naming the file", async () => {
  const url = `sqlite:${join(work, "a.db")}`;
  await (await openStore(url)).close();
  const head = join(work, "head.json");
  writeFileSync(head, "[]\n");
  const r = await run(["audit", "verify", "--store", url, "--head", head], work);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.ok(r.stderr.includes(head), r.stderr);
  assert.match(r.stderr, /conclave audit head --json/);
  assert.equal(r.stdout, "");
});
