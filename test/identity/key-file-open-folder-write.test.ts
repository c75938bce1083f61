import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { KeyError } from "../../src/errors/index.js";
import { loadOrCreateAgentKey, saveAgentKey } from "../../src/identity/key-file.js";
import { generateAgentKeyPair } from "../../src/identity/keys.js";

// A key written into a folder group or others may write to is refused when it
// is read (anyone there can swap it), so writing it there must be refused
// too: otherwise a node runs once with a key it will refuse at its next start,
// and meanwhile uses a key someone else could have replaced.
test("a key is not written into a folder group or others may write to", {
  skip: process.platform === "win32" ? "POSIX modes only" : false,
}, async () => {
  const root = mkdtempSync(join(tmpdir(), "conclave-open-folder-"));
  try {
    const dir = join(root, "keys");
    await saveAgentKey(dir, "first", generateAgentKeyPair()); // creates the folder 0700
    chmodSync(dir, 0o777);
    await assert.rejects(
      loadOrCreateAgentKey(dir, "dev-1"),
      (error: unknown) => error instanceof KeyError && /chmod 700/.test(error.message),
    );
    assert.equal(existsSync(join(dir, "dev-1.key")), false, "no key was written there");
    await assert.rejects(
      saveAgentKey(dir, "dev-2", generateAgentKeyPair()),
      (error: unknown) => error instanceof KeyError && /chmod 700/.test(error.message),
    );
    assert.equal(existsSync(join(dir, "dev-2.key")), false, "no key was written there");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
