/**
 * The file of keys a node's handshakes proved (src/runtime/proved-signers.ts):
 * kept across restarts, shared by the processes of one keysDir without
 * losing each other's keys, scoped to its swarm, read only as a key file
 * is (its owner's alone), and a bad file is reported and replaced rather
 * than trusted or fatal.
 */
import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
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
    assert.deepEqual([...(await one.load())], [], "no file yet: nothing, and no error");
    await two.load();
    one.remember("a", "key-a");
    two.remember("b", "key-b");
    await one.flush();
    await two.flush();
    one.remember("c", "key-c");
    await one.flush();
    const restarted = new ProvedSigners(path, "s", (e) => errors.push(e));
    assert.deepEqual(
      Object.fromEntries(await restarted.load()),
      { a: "key-a", b: "key-b", c: "key-c" },
      "each write merges what the file holds",
    );
    restarted.forget("b");
    await restarted.flush();
    assert.deepEqual(Object.fromEntries(await new ProvedSigners(path, "s", () => {}).load()), {
      a: "key-a",
      c: "key-c",
    });
    assert.deepEqual(errors, []);
  });

  test("processes writing at the same moment lose none of each other's keys", async () => {
    const path = join(work, "concurrent", "proved-signers.s.json");
    const errors: string[] = [];
    const nodes = Array.from(
      { length: 8 },
      () => new ProvedSigners(path, "s", (e) => errors.push(e)),
    );
    // Each reads the file, merges its own key and renames its copy over it:
    // a write that read before another's rename must not drop that key.
    for (const [i, n] of nodes.entries()) n.remember(`agent-${i}`, `key-${i}`);
    await Promise.all(nodes.map((n) => n.flush()));
    assert.deepEqual(
      Object.keys(Object.fromEntries(await new ProvedSigners(path, "s", () => {}).load())).sort(),
      nodes.map((_, i) => `agent-${i}`).sort(),
    );
    assert.deepEqual(errors, []);
  });

  test("a write waits for the file's lock; a lock left by a dead process is taken over", async () => {
    const folder = join(work, "locked");
    mkdirSync(folder, { mode: 0o700 });
    const path = join(folder, "proved-signers.s.json");
    const lock = `${path}.lock`;
    const held = () => new ProvedSigners(path, "s", () => {}).load().then(Object.fromEntries);
    writeFileSync(lock, "", { mode: 0o600 });
    const node = new ProvedSigners(path, "s", () => {});
    node.remember("a", "key-a");
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(await held(), {}, "not written while another holds the lock");
    rmSync(lock);
    await node.flush();
    assert.deepEqual(await held(), { a: "key-a" });
    assert.equal(existsSync(lock), false, "released");

    writeFileSync(lock, "", { mode: 0o600 });
    const longAgo = new Date(Date.now() - 60_000);
    utimesSync(lock, longAgo, longAgo);
    node.remember("b", "key-b");
    await node.flush();
    assert.deepEqual(await held(), { a: "key-a", b: "key-b" });
  });

  test("another swarm's file is not read; a bad one is reported, then rewritten", async () => {
    const path = join(work, "proved-signers.t.json");
    writeFileSync(path, JSON.stringify({ swarm: "other", signers: { x: "key-x" } }), {
      mode: 0o600,
    });
    assert.deepEqual([...(await new ProvedSigners(path, "t", () => {}).load())], []);

    writeFileSync(path, "{not json");
    const errors: string[] = [];
    const signers = new ProvedSigners(path, "t", (e) => errors.push(e));
    assert.deepEqual([...(await signers.load())], []);
    assert.match(errors[0] ?? "", /is not valid .*rewritten as this node proves keys again/);
    signers.remember("a", "key-a");
    await signers.flush();
    assert.deepEqual(JSON.parse(readFileSync(path, "utf8")), {
      swarm: "t",
      signers: { a: "key-a" },
    });
    assert.equal(statSync(path).mode & 0o777, 0o600, "readable by its owner only");
  });

  test("a file others may write is not trusted, nor one in a folder they may write", async () => {
    const path = join(work, "proved-signers.u.json");
    writeFileSync(path, JSON.stringify({ swarm: "u", signers: { a: "key-a" } }), { mode: 0o600 });
    assert.deepEqual(Object.fromEntries(await new ProvedSigners(path, "u", () => {}).load()), {
      a: "key-a",
    });
    chmodSync(path, 0o666);
    const errors: string[] = [];
    assert.deepEqual([...(await new ProvedSigners(path, "u", (e) => errors.push(e)).load())], []);
    assert.match(errors[0] ?? "", /writable by group or others .*not used/);

    const open = join(work, "open");
    mkdirSync(open, { mode: 0o777 });
    chmodSync(open, 0o777);
    const inOpen = join(open, "proved-signers.u.json");
    writeFileSync(inOpen, JSON.stringify({ swarm: "u", signers: { a: "key-a" } }), { mode: 0o600 });
    errors.length = 0;
    assert.deepEqual([...(await new ProvedSigners(inOpen, "u", (e) => errors.push(e)).load())], []);
    assert.match(errors[0] ?? "", /writable by group or others/);
  });
});
