import assert from "node:assert/strict";
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { KeyError } from "../../src/errors/index.js";
import {
  agentKeyPath,
  loadAgentKey,
  loadOrCreateAgentKey,
  saveAgentKey,
} from "../../src/identity/key-file.js";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";

const posix = process.platform !== "win32";
let root: string;
let counter = 0;
/** A fresh, not yet existing key directory per test. */
const freshDir = (): string => join(root, `keys-${counter++}`, "nested");

before(async () => {
  root = await mkdtemp(join(tmpdir(), "conclave-keys-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function rejectsWith(action: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(action, (err: unknown) => {
    assert.ok(err instanceof KeyError, String(err));
    assert.equal(err.code, "E_KEY");
    assert.match(err.message, message);
    return true;
  });
}

describe("key files", () => {
  test("save then load gives the same pair", async () => {
    const dir = freshDir();
    const pair = generateAgentKeyPair();
    const path = await saveAgentKey(dir, "dev-1", pair);
    assert.equal(path, join(dir, "dev-1.key"));
    const loaded = await loadAgentKey(dir, "dev-1");
    assert.equal(encodePublicKey(loaded.publicKey), encodePublicKey(pair.publicKey));
    assert.ok(loaded.privateKey.equals(pair.privateKey));
  });

  test("the file is JSON with agent, alg, seed and publicKey", async () => {
    const dir = freshDir();
    const pair = generateAgentKeyPair();
    const path = await saveAgentKey(dir, "dev-1", pair);
    const file = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
    assert.deepEqual(Object.keys(file), ["agent", "alg", "seed", "publicKey"]);
    assert.equal(file["agent"], "dev-1");
    assert.equal(file["alg"], "ed25519");
    assert.match(String(file["seed"]), /^[A-Za-z0-9_-]{43}$/);
    assert.equal(file["publicKey"], encodePublicKey(pair.publicKey));
  });

  test("modes are 0600 for the file and 0700 for a created directory", {
    skip: !posix && "POSIX modes only",
  }, async () => {
    const dir = freshDir();
    const path = await saveAgentKey(dir, "dev-1", generateAgentKeyPair());
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
  });

  test("no temporary files are left behind", async () => {
    const dir = freshDir();
    await saveAgentKey(dir, "dev-1", generateAgentKeyPair());
    await saveAgentKey(dir, "dev-1", generateAgentKeyPair(), { overwrite: true });
    await assert.rejects(saveAgentKey(dir, "dev-1", generateAgentKeyPair()));
    assert.deepEqual(await readdir(dir), ["dev-1.key"]);
  });

  test("refuses to overwrite unless asked", async () => {
    const dir = freshDir();
    const first = generateAgentKeyPair();
    await saveAgentKey(dir, "dev-1", first);
    await rejectsWith(
      saveAgentKey(dir, "dev-1", generateAgentKeyPair()),
      /already exists.*overwrite: true/,
    );
    assert.equal(
      encodePublicKey((await loadAgentKey(dir, "dev-1")).publicKey),
      encodePublicKey(first.publicKey),
    );
    const second = generateAgentKeyPair();
    await saveAgentKey(dir, "dev-1", second, { overwrite: true });
    assert.equal(
      encodePublicKey((await loadAgentKey(dir, "dev-1")).publicKey),
      encodePublicKey(second.publicKey),
    );
  });

  test("refuses a key file readable by group or others, saying how to fix it", {
    skip: !posix && "POSIX modes only",
  }, async () => {
    const dir = freshDir();
    const path = await saveAgentKey(dir, "dev-1", generateAgentKeyPair());
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      await chmod(path, mode);
      await rejectsWith(
        loadAgentKey(dir, "dev-1"),
        new RegExp(`mode 0${mode.toString(8)}.*chmod 600 ${path}`),
      );
    }
    await chmod(path, 0o400);
    assert.ok(await loadAgentKey(dir, "dev-1"));
  });

  test("a missing key is a KeyError", async () => {
    await rejectsWith(loadAgentKey(freshDir(), "ghost"), /no key file for agent "ghost"/);
  });

  test("agent ids that could escape the directory are refused", async () => {
    const dir = freshDir();
    for (const id of ["../evil", "a/b", "", ".", "a b"]) {
      assert.throws(() => agentKeyPath(dir, id), KeyError);
      await rejectsWith(saveAgentKey(dir, id, generateAgentKeyPair()), /is not an agent id/);
      await rejectsWith(loadAgentKey(dir, id), /is not an agent id/);
    }
  });

  test("malformed files are KeyErrors that name the problem", async () => {
    const dir = freshDir();
    const pair = generateAgentKeyPair();
    const path = await saveAgentKey(dir, "dev-1", pair);
    const good = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
    const other = encodePublicKey(generateAgentKeyPair().publicKey);
    const cases: [string, RegExp][] = [
      ["not json", /is not JSON/],
      ["[]", /is malformed/],
      [JSON.stringify({ ...good, alg: "rsa" }), /is malformed \(bad alg\)/],
      [JSON.stringify({ ...good, seed: "short" }), /is malformed \(bad seed\)/],
      [JSON.stringify({ ...good, publicKey: undefined }), /is malformed \(bad publicKey\)/],
      [JSON.stringify({ ...good, agent: "dev-2" }), /belongs to agent "dev-2"/],
      [JSON.stringify({ ...good, publicKey: other }), /publicKey does not match seed/],
    ];
    for (const [content, message] of cases) {
      await writeFile(path, content, { mode: 0o600 });
      await rejectsWith(loadAgentKey(dir, "dev-1"), message);
    }
  });

  test("a pair whose halves do not match is not saved", async () => {
    const mixed = {
      publicKey: generateAgentKeyPair().publicKey,
      privateKey: generateAgentKeyPair().privateKey,
    };
    await rejectsWith(saveAgentKey(freshDir(), "dev-1", mixed), /are not a pair/);
  });
});

describe("loadOrCreateAgentKey", () => {
  test("creates once, then loads the same key", async () => {
    const dir = freshDir();
    const created = await loadOrCreateAgentKey(dir, "dev-1");
    const loaded = await loadOrCreateAgentKey(dir, "dev-1");
    assert.equal(encodePublicKey(loaded.publicKey), encodePublicKey(created.publicKey));
  });

  test("concurrent callers all end up with the one key that was written", async () => {
    const dir = freshDir();
    const pairs = await Promise.all(
      Array.from({ length: 8 }, () => loadOrCreateAgentKey(dir, "dev-1")),
    );
    const onDisk = encodePublicKey((await loadAgentKey(dir, "dev-1")).publicKey);
    for (const pair of pairs) assert.equal(encodePublicKey(pair.publicKey), onDisk);
    assert.deepEqual(await readdir(dir), ["dev-1.key"]);
  });

  test("does not hide a bad existing file by creating a new one", {
    skip: !posix && "POSIX modes only",
  }, async () => {
    const dir = freshDir();
    const path = await saveAgentKey(dir, "dev-1", generateAgentKeyPair());
    await chmod(path, 0o644);
    await rejectsWith(loadOrCreateAgentKey(dir, "dev-1"), /chmod 600/);
  });
});
