import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, sign, verify } from "node:crypto";
import { describe, test } from "node:test";
import { KeyError } from "../../src/errors/index.js";
import {
  agentKeyPairFromSeed,
  decodePublicKey,
  encodePublicKey,
  fingerprint,
  generateAgentKeyPair,
  privateKeySeed,
} from "../../src/identity/keys.js";

describe("agent keys", () => {
  test("generated pairs are Ed25519 and sign and verify", () => {
    const pair = generateAgentKeyPair();
    assert.equal(pair.publicKey.asymmetricKeyType, "ed25519");
    assert.equal(pair.privateKey.type, "private");
    const message = Buffer.from("hello");
    assert.ok(verify(null, message, pair.publicKey, sign(null, message, pair.privateKey)));
  });

  test("a seed rebuilds the same pair, and the seed can be read back", () => {
    const pair = generateAgentKeyPair();
    const seed = privateKeySeed(pair.privateKey);
    assert.equal(seed.length, 32);
    const rebuilt = agentKeyPairFromSeed(seed);
    assert.equal(encodePublicKey(rebuilt.publicKey), encodePublicKey(pair.publicKey));
    assert.deepEqual(Buffer.from(privateKeySeed(rebuilt.privateKey)), Buffer.from(seed));
  });

  test("matches RFC 8032 test 1 (seed, public key, signature of the empty message)", () => {
    const seed = Buffer.from(
      "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
      "hex",
    );
    const pair = agentKeyPairFromSeed(seed);
    const publicHex = Buffer.from(encodePublicKey(pair.publicKey), "base64url").toString("hex");
    assert.equal(publicHex, "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    assert.equal(
      sign(null, Buffer.alloc(0), pair.privateKey).toString("hex"),
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    );
  });

  test("a seed must be 32 bytes", () => {
    assert.throws(() => agentKeyPairFromSeed(new Uint8Array(31)), KeyError);
    assert.throws(() => agentKeyPairFromSeed(new Uint8Array(64)), KeyError);
  });

  test("public keys encode as 43 base64url characters and decode back", () => {
    const pair = generateAgentKeyPair();
    const text = encodePublicKey(pair.publicKey);
    assert.match(text, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(encodePublicKey(pair.privateKey), text, "a private key encodes its public half");
    assert.ok(decodePublicKey(text).equals(pair.publicKey));
  });

  test("decodePublicKey refuses anything but a canonical 32-byte key", () => {
    const text = encodePublicKey(generateAgentKeyPair().publicKey);
    for (const bad of [
      "",
      text.slice(1),
      `${text}A`,
      `${text}=`,
      `${text.slice(0, 42)}B`,
      text.replace(/./, "+"),
      42,
    ]) {
      assert.throws(() => decodePublicKey(bad as string), KeyError, String(bad));
    }
  });

  test("fingerprint is SHA256: and the base64url SHA-256 of the raw key", () => {
    const pair = generateAgentKeyPair();
    const raw = Buffer.from(encodePublicKey(pair.publicKey), "base64url");
    const expected = `SHA256:${createHash("sha256").update(raw).digest("base64url")}`;
    assert.equal(fingerprint(pair.publicKey), expected);
    assert.equal(fingerprint(pair.privateKey), expected);
    assert.match(expected, /^SHA256:[A-Za-z0-9_-]{43}$/);
  });

  test("other key types are refused with a KeyError", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 });
    assert.throws(
      () => encodePublicKey(rsa.publicKey),
      /expected an Ed25519 public key, got rsa public key/,
    );
    assert.throws(() => fingerprint(rsa.privateKey), KeyError);
    assert.throws(() => privateKeySeed(generateAgentKeyPair().publicKey), KeyError);
  });
});
