/**
 * Ed25519 signing and verification: the one place that knows which library
 * does the arithmetic. Everything else passes node:crypto `KeyObject`s and
 * calls {@link signEd25519} / {@link verifyEd25519}.
 *
 * sodium-native (libsodium) signs and verifies in about half the time
 * node:crypto (OpenSSL) takes, so it is used when it loads; it is an optional
 * dependency, and node:crypto is the fallback when it is absent or its
 * prebuilt binary does not load on this platform. Ed25519 (RFC 8032) is
 * deterministic: both give the same signature bytes for the same key and
 * message, so which one a node uses is invisible on the wire. And both
 * accept the same signatures: node:crypto is made to refuse what libsodium
 * refuses (small-order points), so nodes on either agree on which votes count.
 *
 * `CONCLAVE_CRYPTO` chooses: unset or `auto` (sodium-native when it loads,
 * else node:crypto), `node` (always node:crypto), `sodium` (sodium-native or
 * a ConfigError). It is read once, on the first signature.
 */
import { type KeyObject, sign, verify } from "node:crypto";
import { createRequire } from "node:module";
import { ConfigError, KeyError } from "../errors/index.js";

/** An Ed25519 signature is 64 bytes (RFC 8032). */
const SIGNATURE_BYTES = 64;

/**
 * A library that signs and verifies Ed25519. Keys must be Ed25519 keys of the
 * right type ({@link signEd25519} and {@link verifyEd25519} check them first).
 */
export interface Ed25519Implementation {
  /** Which library: `"sodium-native"` or `"node:crypto"`. */
  readonly name: Ed25519ImplementationName;
  /** The 64-byte signature of `message` (pure Ed25519, no pre-hash). */
  sign(message: Uint8Array, privateKey: KeyObject): Buffer;
  /** Whether `signature` is `publicKey`'s signature of `message`; false for a signature that is not 64 bytes. */
  verify(message: Uint8Array, signature: Uint8Array, publicKey: KeyObject): boolean;
}

/** Which Ed25519 implementation signs and verifies: libsodium when installed, else Node's. */
export type Ed25519ImplementationName = "sodium-native" | "node:crypto";

/**
 * The encodings of the eight points of small order (sign bit cleared; the
 * last two are the non-canonical encodings of 0 and 1, y = p and y = p + 1).
 * libsodium refuses a signature whose R or public key is one of them: with
 * R = the identity, anyone holding an ordinary key can make a second
 * signature of any message that OpenSSL accepts and libsodium does not, and
 * a small-order public key "signs" messages its owner never saw.
 */
const SMALL_ORDER_POINTS: readonly Buffer[] = [
  "0000000000000000000000000000000000000000000000000000000000000000", // order 4
  "0100000000000000000000000000000000000000000000000000000000000000", // order 1
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 4, y = p
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 1, y = p + 1
].map((hex) => Buffer.from(hex, "hex"));

/** Whether a 32-byte point encoding (its sign bit ignored) is a point of small order. */
function hasSmallOrder(point: Uint8Array): boolean {
  return SMALL_ORDER_POINTS.some((bad) => {
    for (let i = 0; i < 31; i++) if (point[i] !== bad[i]) return false;
    return ((point[31] as number) & 0x7f) === bad[31];
  });
}

/** Whether a 32-byte point encoding has y below the field prime p = 2^255 - 19. */
function isCanonicalPoint(point: Uint8Array): boolean {
  if (((point[31] as number) & 0x7f) !== 0x7f || (point[0] as number) < 0xed) return true;
  for (let i = 1; i < 31; i++) if (point[i] !== 0xff) return true;
  return false;
}

/**
 * Whether a signature passes the checks libsodium makes before the
 * arithmetic (R not of small order; the public key canonical and not of
 * small order), so that node:crypto accepts exactly what sodium-native
 * accepts: nodes on either must agree on which votes count. `publicKey` is
 * the raw 32 bytes.
 */
function passesLibsodiumPrechecks(signature: Uint8Array, publicKey: Uint8Array): boolean {
  return (
    !hasSmallOrder(signature.subarray(0, 32)) &&
    isCanonicalPoint(publicKey) &&
    !hasSmallOrder(publicKey)
  );
}

const rawPublicKeys = new WeakMap<KeyObject, Buffer>();

/**
 * The raw 32 bytes of an Ed25519 public key, exported once per key object
 * (what libsodium and the verify thread take).
 */
export function rawPublicKey(publicKey: KeyObject): Buffer {
  let raw = rawPublicKeys.get(publicKey);
  if (raw === undefined) {
    raw = Buffer.from(String(publicKey.export({ format: "jwk" }).x), "base64url");
    rawPublicKeys.set(publicKey, raw);
  }
  return raw;
}

/**
 * Ed25519 by node:crypto (OpenSSL): always available, the fallback. It
 * refuses what libsodium refuses (see {@link passesLibsodiumPrechecks}).
 * Call it directly only to compare implementations (tests, benchmarks).
 *
 * @internal
 */
export const nodeCryptoEd25519: Ed25519Implementation = Object.freeze({
  name: "node:crypto",
  sign: (message: Uint8Array, privateKey: KeyObject) => sign(null, message, privateKey),
  verify: (message: Uint8Array, signature: Uint8Array, publicKey: KeyObject) =>
    signature.byteLength === SIGNATURE_BYTES &&
    passesLibsodiumPrechecks(signature, rawPublicKey(publicKey)) &&
    verify(null, message, publicKey, signature),
});

/** The part of sodium-native this module calls. */
interface SodiumSign {
  crypto_sign_detached(signature: Uint8Array, message: Uint8Array, secretKey: Uint8Array): void;
  crypto_sign_verify_detached(
    signature: Uint8Array,
    message: Uint8Array,
    publicKey: Uint8Array,
  ): boolean;
}

/**
 * Ed25519 over a loaded sodium-native module. libsodium takes raw keys: the
 * 64-byte secret key (seed then public key) and the 32-byte public key. They
 * are exported from each KeyObject once and kept beside it (a WeakMap, so a
 * key object that is dropped takes its raw copy with it).
 *
 * @throws Error if `module` lacks the functions used (not sodium-native, or
 *   a version without them).
 * @internal
 */
export function ed25519FromSodium(module: unknown): Ed25519Implementation {
  const sodium = module as Partial<SodiumSign> | null | undefined;
  if (
    typeof sodium?.crypto_sign_detached !== "function" ||
    typeof sodium.crypto_sign_verify_detached !== "function"
  ) {
    throw new Error("the module has no crypto_sign_detached / crypto_sign_verify_detached");
  }
  const library = sodium as SodiumSign;
  const secretKeys = new WeakMap<KeyObject, Buffer>();
  return Object.freeze({
    name: "sodium-native",
    sign(message: Uint8Array, privateKey: KeyObject): Buffer {
      let secretKey = secretKeys.get(privateKey);
      if (secretKey === undefined) {
        const jwk = privateKey.export({ format: "jwk" });
        secretKey = Buffer.concat([
          Buffer.from(String(jwk.d), "base64url"),
          Buffer.from(String(jwk.x), "base64url"),
        ]);
        secretKeys.set(privateKey, secretKey);
      }
      const signature = Buffer.allocUnsafe(SIGNATURE_BYTES);
      library.crypto_sign_detached(signature, message, secretKey);
      return signature;
    },
    verify(message: Uint8Array, signature: Uint8Array, publicKey: KeyObject): boolean {
      // libsodium throws on a wrong length where node:crypto answers false.
      if (signature.byteLength !== SIGNATURE_BYTES) return false;
      return library.crypto_sign_verify_detached(signature, message, rawPublicKey(publicKey));
    },
  });
}

const require = createRequire(import.meta.url);

/** sodium-native's implementation, or why it cannot be loaded; tried once. */
let sodiumLoad:
  | { readonly implementation: Ed25519Implementation }
  | { readonly error: unknown }
  | undefined;

function loadSodium(): Ed25519Implementation {
  if (sodiumLoad === undefined) {
    try {
      sodiumLoad = { implementation: ed25519FromSodium(require("sodium-native")) };
    } catch (error) {
      sodiumLoad = { error };
    }
  }
  if ("implementation" in sodiumLoad) return sodiumLoad.implementation;
  throw sodiumLoad.error;
}

/**
 * Ed25519 by sodium-native, or undefined when it cannot be loaded here
 * (not installed, or no binary for this platform). Whatever
 * `CONCLAVE_CRYPTO` says: for tests and benchmarks that compare the two.
 *
 * @internal
 */
export function sodiumEd25519(): Ed25519Implementation | undefined {
  try {
    return loadSodium();
  } catch {
    return undefined;
  }
}

/**
 * The implementation a `CONCLAVE_CRYPTO` setting asks for, loading
 * sodium-native with `load` unless the setting is `node`.
 *
 * @throws ConfigError if the setting is unknown, or is `sodium` and `load` fails.
 * @internal
 */
export function selectEd25519(
  setting: string | undefined,
  load: () => Ed25519Implementation = loadSodium,
): Ed25519Implementation {
  const wanted = setting?.trim().toLowerCase() || "auto";
  if (wanted === "node") return nodeCryptoEd25519;
  if (wanted !== "auto" && wanted !== "sodium") {
    throw new ConfigError(
      `CONCLAVE_CRYPTO=${JSON.stringify(setting)} is not a choice: use "node" (node:crypto), "sodium" (sodium-native, required) or leave it unset (sodium-native when it loads, else node:crypto)`,
    );
  }
  try {
    return load();
  } catch (err) {
    if (wanted === "auto") return nodeCryptoEd25519;
    throw new ConfigError(
      `CONCLAVE_CRYPTO=sodium but sodium-native cannot be loaded (${err instanceof Error ? err.message : String(err)}): install it with "npm install sodium-native", or unset CONCLAVE_CRYPTO to fall back to node:crypto`,
      [],
      { cause: err },
    );
  }
}

let chosen: Ed25519Implementation | undefined;

/**
 * The implementation this process signs and verifies with, chosen on first
 * use from `CONCLAVE_CRYPTO`.
 *
 * @throws ConfigError as {@link selectEd25519} does.
 *
 * @example
 * ```ts
 * ed25519().name; // "sodium-native" where it loads, else "node:crypto"
 * ```
 */
export function ed25519(): Ed25519Implementation {
  chosen ??= selectEd25519(process.env.CONCLAVE_CRYPTO);
  return chosen;
}

/**
 * Signs `message` with an Ed25519 private key: 64 bytes, the same whichever
 * implementation computes them.
 *
 * @throws KeyError if the key is not an Ed25519 private key.
 *
 * @example
 * ```ts
 * const sig = signEd25519(Buffer.from(text), keys.privateKey).toString("base64url");
 * ```
 */
export function signEd25519(message: Uint8Array, privateKey: KeyObject): Buffer {
  requireEd25519Key(privateKey, "private");
  return ed25519().sign(message, privateKey);
}

/**
 * Whether `signature` is the Ed25519 signature of `message` by the holder of
 * `publicKey`. A signature of the wrong length is false, not an error.
 *
 * @throws KeyError if the key is not an Ed25519 public key.
 *
 * @example
 * ```ts
 * verifyEd25519(Buffer.from(text), Buffer.from(sig, "base64url"), card.publicKey); // true or false
 * ```
 */
export function verifyEd25519(
  message: Uint8Array,
  signature: Uint8Array,
  publicKey: KeyObject,
): boolean {
  requireEd25519Key(publicKey, "public");
  return ed25519().verify(message, signature, publicKey);
}

/**
 * Refuses anything but an Ed25519 key of the given type.
 *
 * @throws KeyError naming what was given instead.
 */
export function requireEd25519Key(key: KeyObject, type: "public" | "private"): void {
  if (key?.type !== type || key.asymmetricKeyType !== "ed25519") {
    const got = key?.asymmetricKeyType
      ? `${key.asymmetricKeyType} ${key.type} key`
      : "something else";
    throw new KeyError(`expected an Ed25519 ${type} key, got ${got}`);
  }
}
