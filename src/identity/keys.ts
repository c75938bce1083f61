import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { KeyError } from "../errors/index.js";
import { requireEd25519Key } from "../wire/ed25519.js";

/** An agent's identity: an Ed25519 key pair held as node:crypto key objects. */
export interface AgentKeyPair {
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

/**
 * DER header of a PKCS#8 Ed25519 private key (RFC 8410); the 32-byte seed
 * follows it. Node cannot import a raw seed directly, but it can import this.
 */
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/**
 * 32 bytes are 43 base64url characters; the last one carries four bits, so
 * only these 16 letters are canonical.
 */
const RAW_KEY_PATTERN = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/**
 * Generates a fresh Ed25519 key pair.
 *
 * @example
 * ```ts
 * const keys = generateAgentKeyPair();
 * encodePublicKey(keys.publicKey); // 43 base64url characters
 * ```
 */
export function generateAgentKeyPair(): AgentKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  return { publicKey, privateKey };
}

/**
 * Rebuilds a key pair from its 32-byte private seed (the "private key" of
 * RFC 8032 as other libraries store it: PyNaCl's `SigningKey(seed)`, Go's
 * `ed25519.NewKeyFromSeed`).
 *
 * @throws KeyError if `seed` is not exactly 32 bytes.
 *
 * @example
 * ```ts
 * const keys = agentKeyPairFromSeed(new Uint8Array(32)); // deterministic, for tests
 * ```
 */
export function agentKeyPairFromSeed(seed: Uint8Array): AgentKeyPair {
  if (seed.byteLength !== 32) {
    throw new KeyError(`an Ed25519 seed is 32 bytes, got ${seed.byteLength}`);
  }
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: "der",
    type: "pkcs8",
  });
  return { publicKey: createPublicKey(privateKey), privateKey };
}

/**
 * The raw 32-byte seed of an Ed25519 private key. It is the whole secret:
 * handle it as such.
 *
 * @throws KeyError if `privateKey` is not an Ed25519 private key.
 */
export function privateKeySeed(privateKey: KeyObject): Uint8Array {
  requireEd25519Key(privateKey, "private");
  return Buffer.from(jwkField(privateKey, "d"), "base64url");
}

/**
 * The public key as other languages exchange it: the raw 32 bytes (RFC 8032),
 * base64url without padding. A private key is accepted and its public half
 * encoded.
 *
 * @throws KeyError if `key` is not an Ed25519 key.
 *
 * @example
 * ```ts
 * decodePublicKey(encodePublicKey(keys.publicKey)); // an equal KeyObject
 * ```
 */
export function encodePublicKey(key: KeyObject): string {
  return jwkField(publicHalf(key), "x");
}

/**
 * Parses a public key written by {@link encodePublicKey}.
 *
 * @throws KeyError if `text` is not 43 base64url characters encoding 32 bytes.
 *
 * @example
 * ```ts
 * const key = decodePublicKey(card.publicKey);
 * ```
 */
export function decodePublicKey(text: string): KeyObject {
  if (typeof text !== "string" || !RAW_KEY_PATTERN.test(text)) {
    throw new KeyError(
      "a public key must be 43 base64url characters without padding (the raw 32-byte Ed25519 key)",
    );
  }
  try {
    return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: text }, format: "jwk" });
  } catch (err) {
    throw new KeyError("the public key is not a valid Ed25519 key", { cause: err });
  }
}

/**
 * A short, stable name for a public key, in the style of ssh:
 * `"SHA256:"` + base64url (no padding) of SHA-256 over the raw 32-byte key.
 * A private key is accepted and its public half fingerprinted.
 *
 * @throws KeyError if `key` is not an Ed25519 key.
 *
 * @example
 * ```ts
 * fingerprint(keys.publicKey); // "SHA256:Xk3...", 50 characters
 * ```
 */
export function fingerprint(key: KeyObject): string {
  const raw = Buffer.from(encodePublicKey(key), "base64url");
  return `SHA256:${createHash("sha256").update(raw).digest("base64url")}`;
}

function publicHalf(key: KeyObject): KeyObject {
  if (key?.type === "private") {
    requireEd25519Key(key, "private");
    return createPublicKey(key);
  }
  requireEd25519Key(key, "public");
  return key;
}

function jwkField(key: KeyObject, field: "x" | "d"): string {
  const value = key.export({ format: "jwk" })[field];
  if (typeof value !== "string") throw new KeyError(`key has no "${field}" component`);
  return value;
}
