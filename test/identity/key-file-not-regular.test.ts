/**
 * A key path that is not a regular file is refused with a KeyError. The
 * file was opened before it was checked, and opening a FIFO for reading
 * waits for a writer: a key path that was a named pipe (or a symlink to
 * one) hung `loadAgentKey` and `loadOrCreateAgentKey` for good instead of
 * failing. Now the open never waits, and the check refuses it.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { KeyError } from "../../src/errors/index.js";
import { loadAgentKey, loadOrCreateAgentKey } from "../../src/identity/key-file.js";

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "conclave-key-fifo-"));
  mkdirSync(join(dir, "keys"), { mode: 0o700 });
  execFileSync("mkfifo", ["-m", "600", join(dir, "keys", "dev-1.key")]);
  execFileSync("mkfifo", ["-m", "600", join(dir, "pipe")]);
  symlinkSync(join(dir, "pipe"), join(dir, "keys", "dev-2.key"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Fails the test instead of hanging it. */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

test("a key file that is a named pipe is refused, not waited on", {
  skip: process.platform === "win32" ? "no named pipes" : false,
}, async () => {
  await assert.rejects(
    within(2000, loadAgentKey(join(dir, "keys"), "dev-1")),
    (e: Error) => e instanceof KeyError && /not a regular file/.test(e.message),
  );
  await assert.rejects(
    within(2000, loadOrCreateAgentKey(join(dir, "keys"), "dev-1")),
    (e: Error) => e instanceof KeyError && /not a regular file/.test(e.message),
  );
});

test("a key file that is a symlink to a named pipe is refused, not waited on", {
  skip: process.platform === "win32" ? "no named pipes" : false,
}, async () => {
  await assert.rejects(
    within(2000, loadAgentKey(join(dir, "keys"), "dev-2")),
    (e: Error) => e instanceof KeyError && /not a regular file/.test(e.message),
  );
});
