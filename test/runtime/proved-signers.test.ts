/**
 * The file of keys a node's handshakes proved (src/runtime/proved-signers.ts):
 * kept across restarts, shared by the processes of one keysDir without
 * losing each other's keys, scoped to its swarm, and a bad file is reported
 * and replaced rather than trusted or fatal.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { ProvedSigners } from "../../src/runtime/proved-signers.js";

describe("proved signers", () => {
  const work = mkdtempSync(join(tmpdir(), "conclave-proved-signers-"));
  after(() => rmSync(work, { recursive: true, force: true }));

  test("two processes sharing the file keep each other's keys; a forgotten one goes", async () => {
    const path = join(work, "shared", "proved-signers.s.json");
    const errors: string[] = [];
    const one = new ProvedSigners(path, "s", (e) => errors.push(e));
    const two = new ProvedSigners(path, "s", (e) => errors.push(e));
    assert.deepEqual([...one.load()], [], "no file yet: nothing, and no error");
    two.load();
    one.remember("a", "key-a");
    two.remember("b", "key-b");
    await one.flush();
    await two.flush();
    one.remember("c", "key-c");
    await one.flush();
    const restarted = new ProvedSigners(path, "s", (e) => errors.push(e));
    assert.deepEqual(
      Object.fromEntries(restarted.load()),
      { a: "key-a", b: "key-b", c: "key-c" },
      "each write merges what the file holds",
    );
    restarted.forget("b");
    await restarted.flush();
    assert.deepEqual(Object.fromEntries(new ProvedSigners(path, "s", () => {}).load()), {
      a: "key-a",
      c: "key-c",
    });
    assert.deepEqual(errors, []);
  });

  test("another swarm's file is not read; a bad one is reported, then rewritten", async () => {
    const path = join(work, "proved-signers.t.json");
    writeFileSync(path, JSON.stringify({ swarm: "other", signers: { x: "key-x" } }));
    assert.deepEqual([...new ProvedSigners(path, "t", () => {}).load()], []);

    writeFileSync(path, "{not json");
    const errors: string[] = [];
    const signers = new ProvedSigners(path, "t", (e) => errors.push(e));
    assert.deepEqual([...signers.load()], []);
    assert.match(errors[0] ?? "", /is not valid .*rewritten as this node proves keys again/);
    signers.remember("a", "key-a");
    await signers.flush();
    assert.deepEqual(JSON.parse(readFileSync(path, "utf8")), {
      swarm: "t",
      signers: { a: "key-a" },
    });
  });
});
