import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import fc from "fast-check";
import { ConfigError, KeyError } from "../../src/errors/index.js";
import { agentKeyPairFromSeed, decodePublicKey } from "../../src/identity/keys.js";
import {
  type Ed25519Implementation,
  ed25519,
  ed25519FromSodium,
  nodeCryptoEd25519,
  selectEd25519,
  signEd25519,
  sodiumEd25519,
  verifyEd25519,
} from "../../src/wire/ed25519.js";
import { signingBytes } from "../../src/wire/signature.js";

const sodium = sodiumEd25519();
const noSodium = sodium === undefined && "sodium-native is not installed or does not load here";

const vectors = JSON.parse(
  readFileSync(new URL("../vectors/envelope-signature.json", import.meta.url), "utf8"),
) as { privateKeySeed: string; publicKey: string; signature: string; envelope: never };

function flipOneBit(bytes: Uint8Array, at: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  const i = at % copy.length;
  copy[i] = (copy[i] as number) ^ (1 << (at % 8));
  return copy;
}

describe("Ed25519: sodium-native and node:crypto agree byte for byte", { skip: noSodium }, () => {
  const fast = sodium as Ed25519Implementation;

  test("both reproduce the published test vector", () => {
    const pair = agentKeyPairFromSeed(Buffer.from(vectors.privateKeySeed, "hex"));
    const bytes = signingBytes(vectors.envelope);
    for (const implementation of [fast, nodeCryptoEd25519]) {
      const signature = implementation.sign(bytes, pair.privateKey);
      assert.equal(signature.toString("base64url"), vectors.signature, implementation.name);
      assert.ok(implementation.verify(bytes, signature, decodePublicKey(vectors.publicKey)));
    }
  });

  test("random keys and messages: the same signature, and the same answer to every check", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 2048 }),
        fc.nat(),
        (seed, message, at) => {
          const pair = agentKeyPairFromSeed(seed);
          const bySodium = fast.sign(message, pair.privateKey);
          const byNode = nodeCryptoEd25519.sign(message, pair.privateKey);
          assert.deepEqual(bySodium, byNode);
          assert.equal(bySodium.length, 64);
          for (const implementation of [fast, nodeCryptoEd25519]) {
            assert.equal(implementation.verify(message, byNode, pair.publicKey), true);
            // A changed signature, a changed message, a truncated signature: refused by both.
            assert.equal(
              implementation.verify(message, flipOneBit(byNode, at), pair.publicKey),
              false,
            );
            if (message.length > 0) {
              assert.equal(
                implementation.verify(flipOneBit(message, at), byNode, pair.publicKey),
                false,
              );
            }
            assert.equal(implementation.verify(message, byNode.subarray(1), pair.publicKey), false);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  test("another key's signature is refused by both", () => {
    const a = agentKeyPairFromSeed(new Uint8Array(32).fill(1));
    const b = agentKeyPairFromSeed(new Uint8Array(32).fill(2));
    const message = Buffer.from("vote: approve");
    // The raw key each KeyObject yields is cached beside it: keys must not be mixed up.
    for (const implementation of [fast, nodeCryptoEd25519]) {
      const byA = implementation.sign(message, a.privateKey);
      const byB = implementation.sign(message, b.privateKey);
      assert.notDeepEqual(byA, byB);
      assert.equal(implementation.verify(message, byA, b.publicKey), false);
      assert.equal(implementation.verify(message, byB, a.publicKey), false);
      assert.equal(implementation.verify(message, byB, b.publicKey), true);
    }
  });
});

/** The order of the Ed25519 base point. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const IDENTITY = Buffer.from(`01${"00".repeat(31)}`, "hex");

function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) + BigInt(bytes[i] as number);
  return n;
}

function toLittleEndian(n: bigint): Buffer {
  const out = Buffer.alloc(32);
  for (let i = 0; i < 32; i++, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
}

/**
 * A second signature of `message` by the holder of `seed`, with R the
 * identity point: S = k·a makes S·B = R + k·A hold, so OpenSSL accepts it;
 * libsodium refuses an R of small order. An honest signer never makes one.
 */
function identityRSignature(seed: Uint8Array, message: Uint8Array): Buffer {
  const publicKey = Buffer.from(encodeRaw(seed), "base64url");
  const scalar = Buffer.from(createHash("sha512").update(seed).digest().subarray(0, 32));
  scalar[0] = (scalar[0] as number) & 248;
  scalar[31] = ((scalar[31] as number) & 127) | 64;
  const k = createHash("sha512").update(IDENTITY).update(publicKey).update(message).digest();
  const s = (littleEndian(k) * littleEndian(scalar)) % L;
  return Buffer.concat([IDENTITY, toLittleEndian(s)]);
}

function encodeRaw(seed: Uint8Array): string {
  return String(agentKeyPairFromSeed(seed).publicKey.export({ format: "jwk" }).x);
}

describe("Ed25519: both refuse what libsodium refuses, so nodes agree on what counts", () => {
  const implementations = [nodeCryptoEd25519, ...(sodium ? [sodium] : [])];

  test("a signature whose R is the identity point (a second signature by a key holder)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 256 }),
        (seed, message) => {
          const pair = agentKeyPairFromSeed(seed);
          const forged = identityRSignature(seed, message);
          // OpenSSL alone takes it: what the checks before it are for.
          assert.equal(verify(null, message, pair.publicKey, forged), true);
          for (const implementation of implementations) {
            assert.equal(implementation.verify(message, forged, pair.publicKey), false);
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  test("a public key of small order, which would sign anything", () => {
    const smallOrder = [
      IDENTITY.toString("hex"),
      "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
      "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
      "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    ];
    const message = Buffer.from("funds.transfer");
    let checked = 0;
    for (const hex of smallOrder) {
      let key: ReturnType<typeof createPublicKey>;
      try {
        key = createPublicKey({
          key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(hex, "hex").toString("base64url") },
          format: "jwk",
        });
      } catch {
        continue; // node:crypto would not even load this key
      }
      checked++;
      // R = A, S = 0: for a key of small order the equation can hold for any message.
      for (const r of [IDENTITY, Buffer.from(hex, "hex")]) {
        const signature = Buffer.concat([r, Buffer.alloc(32)]);
        for (const implementation of implementations) {
          assert.equal(implementation.verify(message, signature, key), false, hex);
        }
      }
    }
    assert.ok(checked >= 1);
    const identityKey = createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: IDENTITY.toString("base64url") },
      format: "jwk",
    });
    // OpenSSL alone would take the identity key's "signature" of anything.
    assert.equal(
      verify(null, message, identityKey, Buffer.concat([IDENTITY, Buffer.alloc(32)])),
      true,
    );
  });
});

describe("choosing the implementation (CONCLAVE_CRYPTO)", () => {
  const absent = () => {
    throw new Error("Cannot find module 'sodium-native'");
  };

  test("without sodium-native, signing and verifying fall back to node:crypto", () => {
    assert.equal(selectEd25519(undefined, absent), nodeCryptoEd25519);
    assert.equal(selectEd25519("auto", absent), nodeCryptoEd25519);
    // A module that loads but lacks the functions (another version) counts as absent.
    assert.equal(
      selectEd25519("", () => ed25519FromSodium({})),
      nodeCryptoEd25519,
    );
    assert.throws(() => ed25519FromSodium(undefined), /crypto_sign_detached/);
  });

  test("node forces node:crypto without loading sodium-native", () => {
    assert.equal(selectEd25519("node", absent), nodeCryptoEd25519);
    assert.equal(selectEd25519(" NODE ", absent), nodeCryptoEd25519);
  });

  test("sodium requires sodium-native, and says how to get it", () => {
    assert.throws(
      () => selectEd25519("sodium", absent),
      (err: unknown) =>
        err instanceof ConfigError &&
        /npm install sodium-native/.test(err.message) &&
        /Cannot find module/.test(err.message) &&
        err.cause instanceof Error,
    );
  });

  test("an unknown choice is a ConfigError naming the choices", () => {
    assert.throws(() => selectEd25519("openssl", absent), /"node".*"sodium".*unset/);
  });

  test("sodium-native is preferred when it loads", { skip: noSodium }, () => {
    assert.equal(selectEd25519(undefined).name, "sodium-native");
    assert.equal(selectEd25519("sodium").name, "sodium-native");
  });

  test("CONCLAVE_CRYPTO=node in the environment makes a process sign with node:crypto", () => {
    const source = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);
    const script = `
      import { ed25519, signEd25519 } from ${source("../../src/wire/ed25519.ts")};
      import { agentKeyPairFromSeed } from ${source("../../src/identity/keys.ts")};
      const pair = agentKeyPairFromSeed(new Uint8Array(32));
      const sig = signEd25519(Buffer.from("hello"), pair.privateKey).toString("base64url");
      process.stdout.write(JSON.stringify({ name: ed25519().name, sig }));
    `;
    const run = (setting: string) =>
      JSON.parse(
        execFileSync(
          process.execPath,
          ["--import", import.meta.resolve("tsx"), "--input-type=module", "-e", script],
          { env: { ...process.env, CONCLAVE_CRYPTO: setting }, encoding: "utf8" },
        ),
      ) as { name: string; sig: string };
    const forced = run("node");
    assert.equal(forced.name, "node:crypto");
    const expected = nodeCryptoEd25519
      .sign(Buffer.from("hello"), agentKeyPairFromSeed(new Uint8Array(32)).privateKey)
      .toString("base64url");
    assert.equal(forced.sig, expected);
  });
});

describe("signEd25519 and verifyEd25519", () => {
  const keys = agentKeyPairFromSeed(new Uint8Array(32).fill(7));

  test("sign and verify with the implementation this process chose", () => {
    const message = Buffer.from("registry.card");
    const signature = signEd25519(message, keys.privateKey);
    assert.equal(verifyEd25519(message, signature, keys.publicKey), true);
    assert.equal(verifyEd25519(Buffer.from("registry.cart"), signature, keys.publicKey), false);
    assert.equal(verifyEd25519(message, signature.subarray(0, 10), keys.publicKey), false);
    assert.ok(["sodium-native", "node:crypto"].includes(ed25519().name));
  });

  test("keys that are not Ed25519 keys of the right type are a KeyError", () => {
    const x25519 = generateKeyPairSync("x25519");
    const message = Buffer.from("m");
    assert.throws(() => signEd25519(message, keys.publicKey), KeyError);
    assert.throws(() => signEd25519(message, x25519.privateKey), KeyError);
    const signature = signEd25519(message, keys.privateKey);
    assert.throws(() => verifyEd25519(message, signature, keys.privateKey), KeyError);
    assert.throws(() => verifyEd25519(message, signature, x25519.publicKey), /x25519 public key/);
  });
});
