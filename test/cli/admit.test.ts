/**
 * `conclave admit` (src/cli/admission.ts): the credential it issues is one
 * a node accepts, and what no node would accept is refused with a
 * ConfigError saying what to write, before anything is issued. Before, a
 * --ttl beyond the safe range wrote the credential file and then crashed
 * with a RangeError, and an agent id no card can carry was issued (exit 0);
 * a --ttl of 0d signed a credential already expired, and --operator-key
 * only read a file named after the agent id inside it.
 */
import assert from "node:assert/strict";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { admitAgent } from "../../src/cli/admission.js";
import { ConfigError, KeyError } from "../../src/errors/index.js";
import { saveAgentKey } from "../../src/identity/key-file.js";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";
import { checkCredential } from "../../src/registry/admission.js";

describe("conclave admit", () => {
  let dir: string;
  const operator = generateAgentKeyPair();
  const agentKey = encodePublicKey(generateAgentKeyPair().publicKey);
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "conclave-admit-"));
    await saveAgentKey(join(dir, "keys"), "operator", operator);
    writeFileSync(
      join(dir, "swarm.yaml"),
      `swarm: adm\ntransport: memory\nadmission: credential\noperator:\n  publicKey: ${encodePublicKey(operator.publicKey)}\nroles:\n  dev: {}\nagents:\n  - { id: dev-1, role: dev }\n`,
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const issue = (
    agent: string,
    more: { ttl?: string; owner?: string; operatorKey?: string } = {},
  ) => {
    const out = join(dir, `${agent.replace(/[^a-z0-9]/gi, "_")}.json`);
    return {
      out,
      run: admitAgent(agent, {
        swarm: join(dir, "swarm.yaml"),
        role: "dev",
        key: agentKey,
        operatorKey: more.operatorKey ?? join(dir, "keys", "operator.key"),
        ttl: more.ttl ?? "1d",
        ...(more.owner === undefined ? {} : { owner: more.owner }),
        out,
      }),
    };
  };

  test("issues a credential a node accepts", async () => {
    const { out, run } = issue("py-1", { owner: "team-a" });
    assert.equal(await run, 0);
    const credential = JSON.parse(readFileSync(out, "utf8"));
    const verdict = checkCredential(
      credential,
      { id: "py-1", publicKey: agentKey },
      { swarm: "adm", operatorKey: operator.publicKey },
      Date.now(),
    );
    assert.equal(verdict.admitted, true, JSON.stringify(verdict));
    assert.equal(verdict.admitted && verdict.grant.owner, "team-a");
  });

  for (const [what, agent, more, message] of [
    [
      "a ttl past the safe range",
      "py-2",
      { ttl: "200000000000d" },
      /--ttl .* too far in the future/,
    ],
    ["an agent id no card can carry", "py 1/évil", {}, /is not an agent id: use 1-128 characters/],
    [
      "an owner over 256 characters",
      "py-3",
      { owner: "o".repeat(257) },
      /--owner must be 1 to 256/,
    ],
    [
      // Safe, but past the last time a Date can show: the credential was
      // written, then printing its expiry threw a RangeError.
      "a ttl past the dates a clock can show",
      "py-6",
      { ttl: "104000000d" },
      /--ttl .* too far in the future/,
    ],
    [
      "a ttl of no time (already expired)",
      "py-4",
      { ttl: "0d" },
      /--ttl 0d would sign a credential already expired/,
    ],
  ] as const) {
    test(`refuses ${what}, issuing nothing`, async () => {
      const { out, run } = issue(agent, more);
      await assert.rejects(run, (e: Error) => e instanceof ConfigError && message.test(e.message));
      assert.equal(existsSync(out), false);
    });
  }

  test("--operator-key reads the operator's key file under any name", async () => {
    const renamed = join(dir, "keys", "swarm-operator.json");
    copyFileSync(join(dir, "keys", "operator.key"), renamed);
    chmodSync(renamed, 0o600);
    const { out, run } = issue("py-5", { operatorKey: renamed });
    assert.equal(await run, 0);
    assert.equal(JSON.parse(readFileSync(out, "utf8")).agent, "py-5");
  });

  test("--operator-key still refuses a key file others may read, issuing nothing", async () => {
    const open = join(dir, "keys", "open-operator.json");
    copyFileSync(join(dir, "keys", "operator.key"), open);
    chmodSync(open, 0o644);
    const { out, run } = issue("py-6", { operatorKey: open });
    await assert.rejects(run, (e: Error) => e instanceof KeyError && /chmod 600/.test(e.message));
    assert.equal(existsSync(out), false);
  });
});
