import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, test } from "node:test";
import { KeyError, SignatureError } from "../../src/errors/index.js";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import { canonicalize } from "../../src/wire/canonical.js";
import { decodeEnvelope, encodeEnvelope } from "../../src/wire/codec.js";
import type { Envelope } from "../../src/wire/envelope.js";
import { signEnvelope, signingBytes, verifyEnvelope } from "../../src/wire/signature.js";
import { fullEnvelope } from "./fixtures.js";

const keys = generateAgentKeyPair();

function rejected(env: Envelope, message: RegExp, publicKey = keys.publicKey): void {
  assert.throws(
    () => verifyEnvelope(env, publicKey),
    (err: unknown) => {
      assert.ok(err instanceof SignatureError, String(err));
      assert.equal(err.code, "E_SIGNATURE");
      assert.match(err.message, message);
      return true;
    },
  );
}

describe("signEnvelope and verifyEnvelope", () => {
  test("a signed envelope verifies, and survives encoding", () => {
    const signed = signEnvelope(fullEnvelope(), keys.privateKey);
    assert.match(signed.sig ?? "", /^[A-Za-z0-9_-]{86}$/);
    verifyEnvelope(signed, keys.publicKey);
    verifyEnvelope(decodeEnvelope(encodeEnvelope(signed)), keys.publicKey);
  });

  test("the signature covers the canonical form, not the wire key order", () => {
    const signed = signEnvelope(fullEnvelope(), keys.privateKey);
    const reordered = Object.fromEntries(Object.entries(signed).reverse()) as Envelope;
    verifyEnvelope(reordered, keys.publicKey);
  });

  test("signing is deterministic and replaces an existing sig", () => {
    const env = fullEnvelope();
    const once = signEnvelope(env, keys.privateKey);
    const twice = signEnvelope(once, keys.privateKey);
    assert.equal(once.sig, twice.sig);
    assert.equal("sig" in env, false, "the input is not modified");
  });

  test("signingBytes is the canonical JSON without sig", () => {
    const signed = signEnvelope(fullEnvelope(), keys.privateKey);
    const { sig: _sig, ...rest } = signed;
    assert.equal(new TextDecoder().decode(signingBytes(signed)), canonicalize(rest));
    assert.deepEqual(signingBytes(signed), signingBytes(fullEnvelope()));
  });

  test("changing, adding or removing any field breaks the signature", () => {
    const signed = signEnvelope(fullEnvelope(), keys.privateKey);
    const changes: Record<string, unknown>[] = [
      { id: "01JD0000000000000000000001" },
      { type: "task.approve" },
      { from: "mallory" },
      { to: "mallory" },
      { ts: signed.ts + 1 },
      { deadline: (signed.deadline ?? 0) + 1 },
      { corr: "other" },
      { cause: "other" },
      { conv: "other" },
      { seq: 4 },
      { attempt: 2 },
      { headers: { traceparent: "00-00000000000000000000000000000001-0000000000000001-01" } },
      { headers: {} },
      { body: { ...signed.body, n: 0.2 } },
      { body: { ...signed.body, files: ["a.ts"] } },
      { body: { ...signed.body, extra: true } },
      { body: null },
      { to: undefined },
      { deadline: undefined },
      { headers: undefined },
    ];
    for (const change of changes) {
      rejected({ ...signed, ...change } as Envelope, /does not match/);
    }
  });

  test("another agent's key does not verify", () => {
    const signed = signEnvelope(fullEnvelope(), keys.privateKey);
    rejected(signed, /signed with another key/, generateAgentKeyPair().publicKey);
  });

  test("a missing or malformed sig is a SignatureError", () => {
    const env = fullEnvelope();
    rejected(env, /has no sig/);
    rejected({ ...env, sig: "short" }, /malformed sig/);
    rejected({ ...env, sig: 5 } as unknown as Envelope, /malformed sig/);
    const signed = signEnvelope(env, keys.privateKey);
    const flipped = `${signed.sig!.slice(0, 10)}${signed.sig![10] === "A" ? "B" : "A"}${signed.sig!.slice(11)}`;
    rejected({ ...signed, sig: flipped }, /does not match/);
  });

  test("an envelope that cannot be canonicalised fails verification, not with another error", () => {
    const signed = signEnvelope(fullEnvelope(), keys.privateKey);
    rejected({ ...signed, body: { n: Number.NaN } }, /cannot be verified: .*NaN/);
  });

  test("the wrong kind of key is a KeyError", () => {
    const env = fullEnvelope();
    assert.throws(() => signEnvelope(env, keys.publicKey), KeyError);
    const x25519 = generateKeyPairSync("x25519");
    assert.throws(
      () => signEnvelope(env, x25519.privateKey),
      /expected an Ed25519 private key, got x25519 private key/,
    );
    const signed = signEnvelope(env, keys.privateKey);
    assert.throws(() => verifyEnvelope(signed, keys.privateKey), KeyError);
    assert.throws(() => verifyEnvelope(signed, x25519.publicKey), KeyError);
  });
});
