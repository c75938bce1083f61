/**
 * test/vectors/audit-chain.json: rows of a three-entry audit log (the
 * decision of consensus.json, then two entries of other kinds, hashed over
 * their stored text) and a head signed by `lead` vouching for all three.
 * The file was written once with the code below's functions; this test
 * keeps it true: every hash recomputes with `auditHash`, the decision's
 * with `computeSeal`, the head verifies, and `verifyAuditLog` (what
 * `conclave audit verify` runs) accepts the log with the head.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { headSigningText, type SignedHead, verifyHead } from "../../src/consensus/audit-anchor.js";
import { DECISION_KIND } from "../../src/consensus/audit-verify.js";
import { computeSeal, type Decision } from "../../src/consensus/seal.js";
import { decodePublicKey } from "../../src/identity/keys.js";
import { verifyAuditLog } from "../../src/runtime/consensus/audit-log.js";
import { auditHash } from "../../src/store/audit-chain.js";
import { canonicalize } from "../../src/wire/canonical.js";

interface Row {
  seq: number;
  kind: string;
  data: string;
  prevHash: string | null;
  hash: string;
}

const read = (name: string) =>
  JSON.parse(readFileSync(new URL(`./${name}`, import.meta.url), "utf8")) as unknown;
const chain = read("audit-chain.json") as {
  rows: Row[];
  hashInputs: string[];
  head: { signed: SignedHead; signingText: string };
};
const consensus = read("consensus.json") as {
  keys: Record<string, { publicKey: string }>;
  seal: string;
  sealSignature: { storedDecision: Decision };
};

test("audit-chain.json: each row links to the one before and its hash recomputes", () => {
  let prev: string | null = null;
  for (const [i, row] of chain.rows.entries()) {
    assert.equal(row.seq, i + 1);
    assert.equal(row.prevHash, prev);
    if (row.kind === DECISION_KIND) {
      const decision = JSON.parse(row.data) as Decision;
      assert.equal(row.data, JSON.stringify(consensus.sealSignature.storedDecision));
      assert.equal(row.hash, computeSeal(decision));
      assert.equal(row.hash, consensus.seal);
    } else {
      assert.equal(row.hash, auditHash(row));
      const text = chain.hashInputs[i - 1];
      assert.equal(text, `${row.seq}\n${row.kind}\n${row.prevHash ?? ""}\n${row.data}`);
      assert.equal(
        row.hash,
        createHash("sha256")
          .update(text ?? "", "utf8")
          .digest("hex"),
      );
    }
    prev = row.hash;
  }
});

test("audit-chain.json: the stored text is hashed as stored, not canonicalised", () => {
  const funded = chain.rows[1] as Row;
  // Its keys are in the writer's order: hashing its canonical JSON instead gives another hash.
  const canonical = canonicalize(JSON.parse(funded.data));
  assert.notEqual(canonical, funded.data);
  assert.notEqual(auditHash({ ...funded, data: canonical }), funded.hash);
});

test("audit-chain.json: the head verifies and verifyAuditLog accepts the log with it", () => {
  const { signed, signingText } = chain.head;
  assert.equal(headSigningText(signed), signingText);
  const lead = decodePublicKey(consensus.keys["lead"]?.publicKey ?? "");
  assert.ok(verifyHead(signed, lead));
  const last = chain.rows.at(-1) as Row;
  assert.deepEqual([signed.seq, signed.headHash], [last.seq, last.hash]);
  const records = chain.rows.map((r) => ({ ...r, data: JSON.parse(r.data) as unknown }));
  const verdict = verifyAuditLog(records, { heads: [signed], swarm: "vectors" });
  assert.ok(verdict.ok && verdict.headsChecked === 1, JSON.stringify(verdict));
  // Any row's text changed: the log no longer verifies.
  const altered = records.map((r) =>
    r.seq === 2 ? { ...r, data: { ...(r.data as object), credits: 5000 } } : r,
  );
  assert.equal(verifyAuditLog(altered, { heads: [signed], swarm: "vectors" }).ok, false);
});
