/**
 * `conclave approve --key FILE` with a key file that is not there, or not
 * named `<name>.key`: a usage error (exit 2) saying how to make one
 * (`conclave keys gen <name>`), not an E_KEY failure pointing a person at
 * the library function loadOrCreateAgentKey, nor (for `--key ./alice`) a
 * complaint about another file, ./alice.key.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { run } from "./run-cli.js";

const NATS = process.env["NATS_URL"] ?? "nats://127.0.0.1:4222";
const work = mkdtempSync(join(tmpdir(), "conclave-review-approve-key-"));
after(() => rmSync(work, { recursive: true, force: true }));

const file = join(work, "swarm.yaml");
writeFileSync(
  file,
  `swarm: approvekey\ntransport: ${NATS}\nroles: { r: {} }\nagents: [{ id: a, role: r }]\n`,
);

test("a key file that does not exist: exit 2 naming it and conclave keys gen", async () => {
  const key = join(work, "keys", "alice.key");
  const r = await run(["approve", "p1", "--swarm", file, "--key", key], work);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.ok(r.stderr.includes(key), r.stderr);
  assert.match(r.stderr, /conclave keys gen alice --dir /);
  assert.doesNotMatch(r.stderr, /loadOrCreateAgentKey/);
});

test("a key file not named <name>.key: exit 2 saying the name is who votes", async () => {
  const made = await run(["keys", "gen", "alice", "--dir", join(work, "k")], work);
  assert.equal(made.code, 0, made.stderr);
  const renamed = join(work, "alice");
  copyFileSync(join(work, "k", "alice.key"), renamed);
  const r = await run(["approve", "p1", "--swarm", file, "--key", renamed], work);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /alice\.key/);
  assert.doesNotMatch(r.stderr, /no key file for agent/);
});
