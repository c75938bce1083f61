/**
 * A key one process forgot (its agent was revoked) must not be written back
 * into the shared proved-signers file by another process that merely loaded
 * it at its start: that process never proved it, it only read it from the
 * file, and the file is what every process of the keysDir trusts next start.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ProvedSigners } from "../../src/runtime/proved-signers.js";

test("a key forgotten by one process is not written back by another that only loaded it", async () => {
  const work = mkdtempSync(join(tmpdir(), "conclave-proved-forgotten-"));
  try {
    const path = join(work, "keys", "proved-signers.s.json");
    const errors: string[] = [];
    const first = new ProvedSigners(path, "s", (e) => errors.push(e));
    first.remember("x", "key-x");
    await first.flush();

    const one = new ProvedSigners(path, "s", (e) => errors.push(e));
    const two = new ProvedSigners(path, "s", (e) => errors.push(e));
    await one.load();
    await two.load();
    two.forget("x"); // revoked, as two learnt first
    await two.flush();
    one.remember("y", "key-y"); // one proves another agent
    await one.flush();

    assert.deepEqual(Object.fromEntries(await new ProvedSigners(path, "s", () => {}).load()), {
      y: "key-y",
    });
    assert.deepEqual(errors, []);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
