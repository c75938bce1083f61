/**
 * test/vectors/consensus.json: the file is what the generator writes today
 * (so the published vectors never drift from the code), and what it holds
 * checks out independently — signatures with node:crypto's own Ed25519
 * over the stated bytes, hashes with node:crypto's SHA-256 over the stated
 * canonical text — and with the decision verifier and the audit's checks.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { consensusVectors } from "../../scripts/gen-consensus-vectors.js";
import type { SignedHead } from "../../src/consensus/audit-anchor.js";
import { DECISION_KIND, decisionProblem } from "../../src/consensus/audit-verify.js";
import type { Decision } from "../../src/consensus/seal.js";
import { verifyAuditLog } from "../../src/runtime/consensus/audit-log.js";

const vectors = JSON.parse(
  readFileSync(new URL("../vectors/consensus.json", import.meta.url), "utf8"),
) as ReturnType<typeof consensusVectors> & Record<string, never>;

/** An Ed25519 public key from its raw 32 bytes (base64url), by node:crypto alone. */
function rawKey(publicKey: string) {
  return createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: publicKey },
    format: "jwk",
  });
}

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

test("the committed vectors are what the generator writes", () => {
  assert.deepEqual(JSON.parse(JSON.stringify(consensusVectors())), vectors);
  execFileSync(
    process.execPath,
    ["--import", "tsx", "scripts/gen-consensus-vectors.ts", "--check"],
    {
      cwd: new URL("../..", import.meta.url),
    },
  );
});

test("the card and the votes verify with node:crypto over the stated bytes", () => {
  const v = vectors as unknown as {
    keys: Record<string, { publicKey: string }>;
    card: { signed: { sig: string }; signingText: string };
    votes: { envelope: { from: string; sig: string }; signingHex: string }[];
  };
  const card = v.card;
  assert.ok(
    verify(
      null,
      Buffer.from(card.signingText, "utf8"),
      rawKey(v.keys["lead"]?.publicKey ?? ""),
      Buffer.from(card.signed.sig, "base64url"),
    ),
  );
  for (const vote of v.votes) {
    const key = rawKey(v.keys[vote.envelope.from]?.publicKey ?? "");
    assert.ok(
      verify(
        null,
        Buffer.from(vote.signingHex, "hex"),
        key,
        Buffer.from(vote.envelope.sig, "base64url"),
      ),
    );
    // One bit off: refused.
    const bytes = Buffer.from(vote.signingHex, "hex");
    bytes[bytes.length - 2] = (bytes[bytes.length - 2] ?? 0) ^ 1;
    assert.equal(verify(null, bytes, key, Buffer.from(vote.envelope.sig, "base64url")), false);
  }
});

test("the proposal hash and the seal are SHA-256 of the stated canonical texts; the decision verifies", () => {
  const v = vectors as unknown as {
    proposalCanonical: string;
    proposalHash: string;
    sealInput: string;
    seal: string;
    decision: Parameters<typeof decisionProblem>[0];
  };
  assert.equal(sha256(v.proposalCanonical), v.proposalHash);
  assert.equal(sha256(v.sealInput), v.seal);
  assert.equal(v.decision.seal, v.seal);
  assert.equal(v.decision.outcome, "approved");
  assert.equal(decisionProblem(v.decision), undefined);
  // Altered after sealing: the seal no longer holds.
  const altered = { ...v.decision, tally: { ...v.decision.tally, approve: 99 } };
  assert.match(decisionProblem(altered) ?? "", /seal does not match/);
});

test("the seal signature and the signed head verify with node:crypto over the stated texts, and with the audit verifier", () => {
  const v = vectors as unknown as {
    keys: Record<string, { publicKey: string }>;
    seal: string;
    sealSignature: {
      signature: { signer: string; sig: string };
      signingText: string;
      storedDecision: Decision;
    };
    head: { signed: SignedHead; signingText: string };
  };
  const key = rawKey(v.keys["lead"]?.publicKey ?? "");
  const { signature, signingText, storedDecision } = v.sealSignature;
  assert.equal(
    signingText,
    `{"seal":"${v.seal}","signer":"lead","type":"audit.seal"}`,
    "the seal signature covers this exact text",
  );
  assert.ok(
    verify(null, Buffer.from(signingText, "utf8"), key, Buffer.from(signature.sig, "base64url")),
  );
  assert.ok(
    verify(
      null,
      Buffer.from(v.head.signingText, "utf8"),
      key,
      Buffer.from(v.head.signed.sig, "base64url"),
    ),
  );
  const log = [{ seq: 1, kind: DECISION_KIND, data: storedDecision, prevHash: null, hash: v.seal }];
  const verdict = verifyAuditLog(log, { heads: [v.head.signed], swarm: "vectors" });
  assert.ok(
    verdict.ok && verdict.signed === 1 && verdict.headsChecked === 1,
    JSON.stringify(verdict),
  );
  // A head for another hash, or of another swarm: refused.
  const moved = { ...v.head.signed, headHash: "00".repeat(32) };
  assert.equal(verifyAuditLog(log, { heads: [moved] }).ok, false);
  assert.equal(verifyAuditLog(log, { heads: [v.head.signed], swarm: "other" }).ok, false);
});
