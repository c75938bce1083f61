/**
 * `conclave admit` on a swarm file that names no operator key is refused
 * (ConfigError, exit 2) before anything is issued, as `conclave revoke`
 * refuses it: nodes check credentials against `operator.publicKey`, so one
 * signed by any key file would be accepted by none. Before, it issued the
 * credential and exited 0.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { admitAgent } from "../../src/cli/admission.js";
import { ConfigError } from "../../src/errors/index.js";
import { saveAgentKey } from "../../src/identity/key-file.js";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";

let dir: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), "conclave-admit-operator-"));
  await saveAgentKey(join(dir, "keys"), "operator", generateAgentKeyPair());
  writeFileSync(
    join(dir, "swarm.yaml"),
    "swarm: adm\ntransport: memory\nroles:\n  dev: {}\nagents:\n  - { id: dev-1, role: dev }\n",
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("admit refuses a swarm file without an operator key, issuing nothing", async () => {
  const out = join(dir, "py-1.json");
  await assert.rejects(
    admitAgent("py-1", {
      swarm: join(dir, "swarm.yaml"),
      role: "dev",
      key: encodePublicKey(generateAgentKeyPair().publicKey),
      operatorKey: join(dir, "keys", "operator.key"),
      ttl: "1d",
      out,
    }),
    (e: Error) =>
      e instanceof ConfigError &&
      /swarm\.yaml names no operator key; add operator: \{ publicKey: … \}/.test(e.message),
  );
  assert.equal(existsSync(out), false, "no credential written");
});
