/**
 * `conclave admit --out` writes the credential with mode 0600, as its help
 * says. The mode was only given to `writeFile`, which applies it when it
 * creates the file: a credential written over an existing file (a renewal
 * written where the last one was) kept that file's mode, 0644 or even 0666.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { admitAgent } from "../../src/cli/admission.js";
import { saveAgentKey } from "../../src/identity/key-file.js";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";

let dir: string;
const operator = generateAgentKeyPair();
before(async () => {
  dir = mkdtempSync(join(tmpdir(), "conclave-admit-out-"));
  await saveAgentKey(join(dir, "keys"), "operator", operator);
  writeFileSync(
    join(dir, "swarm.yaml"),
    `swarm: adm\ntransport: memory\nadmission: credential\noperator:\n  publicKey: ${encodePublicKey(operator.publicKey)}\nroles:\n  dev: {}\nagents:\n  - { id: dev-1, role: dev }\n`,
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("admit --out over an existing file leaves it with mode 0600", {
  skip: process.platform === "win32" ? "no POSIX modes" : false,
}, async () => {
  const out = join(dir, "py-1.json");
  writeFileSync(out, "an older credential, and more text than the new one will have ".repeat(40));
  chmodSync(out, 0o666);
  const write = process.stderr.write;
  process.stderr.write = () => true;
  try {
    await admitAgent("py-1", {
      swarm: join(dir, "swarm.yaml"),
      role: "dev",
      key: encodePublicKey(generateAgentKeyPair().publicKey),
      operatorKey: join(dir, "keys", "operator.key"),
      ttl: "1d",
      out,
    });
  } finally {
    process.stderr.write = write;
  }
  assert.equal((statSync(out).mode & 0o777).toString(8), "600");
  assert.equal(
    JSON.parse(readFileSync(out, "utf8")).agent,
    "py-1",
    "the whole file is the credential",
  );
});
