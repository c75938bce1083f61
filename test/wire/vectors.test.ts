import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { ConclaveError, SignatureError } from "../../src/errors/index.js";
import {
  agentKeyPairFromSeed,
  decodePublicKey,
  encodePublicKey,
  fingerprint,
} from "../../src/identity/keys.js";
import { canonicalize } from "../../src/wire/canonical.js";
import { decodeEnvelope } from "../../src/wire/codec.js";
import { type Envelope, parseEnvelope } from "../../src/wire/envelope.js";
import { signEnvelope, signingBytes, verifyEnvelope } from "../../src/wire/signature.js";

/** The shape of test/vectors/envelope-signature.json, written by scripts/gen-vectors.ts. */
interface Vectors {
  privateKeySeed: string;
  publicKey: string;
  publicKeyFingerprint: string;
  envelope: Envelope;
  canonical: string;
  canonicalHex: string;
  signature: string;
  signedEnvelope: Envelope;
  tamperedEnvelope: { envelope: Envelope };
  jcs: { name: string; input: string; canonical: string; canonicalHex: string }[];
  invalidEnvelopes: { name: string; json: string; code: string }[];
}

const vectors = JSON.parse(
  readFileSync(new URL("../vectors/envelope-signature.json", import.meta.url), "utf8"),
) as Vectors;

describe("test vectors (test/vectors/envelope-signature.json)", () => {
  const pair = agentKeyPairFromSeed(Buffer.from(vectors.privateKeySeed, "hex"));

  test("the seed gives the published public key and fingerprint", () => {
    assert.equal(encodePublicKey(pair.publicKey), vectors.publicKey);
    assert.equal(fingerprint(decodePublicKey(vectors.publicKey)), vectors.publicKeyFingerprint);
  });

  test("the envelope is valid and has the published canonical form", () => {
    assert.deepEqual(parseEnvelope(vectors.envelope), vectors.envelope);
    assert.equal(canonicalize(vectors.envelope), vectors.canonical);
    assert.equal(Buffer.from(signingBytes(vectors.envelope)).toString("hex"), vectors.canonicalHex);
  });

  test("the published signature verifies and signing again reproduces it", () => {
    verifyEnvelope(vectors.signedEnvelope, decodePublicKey(vectors.publicKey));
    assert.equal(vectors.signedEnvelope.sig, vectors.signature);
    const resigned = signEnvelope(vectors.envelope, pair.privateKey);
    assert.equal(resigned.sig, vectors.signature);
    assert.deepEqual(resigned, vectors.signedEnvelope);
  });

  test("the signed envelope decodes from its JSON text and still verifies", () => {
    const decoded = decodeEnvelope(JSON.stringify(vectors.signedEnvelope));
    verifyEnvelope(decoded, pair.publicKey);
  });

  test("the tampered envelope does not verify", () => {
    assert.throws(
      () => verifyEnvelope(vectors.tamperedEnvelope.envelope, pair.publicKey),
      SignatureError,
    );
  });

  for (const c of vectors.jcs) {
    test(`JCS: ${c.name}`, () => {
      const canonical = canonicalize(JSON.parse(c.input));
      assert.equal(canonical, c.canonical);
      assert.equal(Buffer.from(canonical, "utf8").toString("hex"), c.canonicalHex);
    });
  }

  for (const c of vectors.invalidEnvelopes) {
    test(`rejects: ${c.name}`, () => {
      assert.throws(
        () => decodeEnvelope(c.json),
        (err: unknown) => err instanceof ConclaveError && err.code === c.code,
      );
    });
  }
});
