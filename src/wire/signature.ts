import { type KeyObject, sign, verify } from "node:crypto";
import { ConclaveError, KeyError, SignatureError } from "../errors/index.js";
import { canonicalBytes } from "./canonical.js";
import { type Envelope, signaturePattern } from "./envelope.js";

/**
 * The exact bytes an envelope's signature covers: the RFC 8785 canonical JSON
 * of the envelope without its `sig` field, as UTF-8.
 *
 * @throws InvalidEnvelopeError if the envelope holds a value JSON cannot carry.
 *
 * @example
 * ```ts
 * crypto.verify(null, signingBytes(env), publicKey, Buffer.from(env.sig!, "base64url"));
 * ```
 */
export function signingBytes(envelope: Envelope): Uint8Array {
  const { sig: _ignored, ...unsigned } = envelope;
  return canonicalBytes(unsigned);
}

/**
 * Returns a copy of `envelope` signed with an agent's Ed25519 private key.
 * Any existing `sig` is replaced. Ed25519 is deterministic: the same envelope
 * and key always give the same signature.
 *
 * @throws KeyError if the key is not an Ed25519 private key;
 *   InvalidEnvelopeError if the envelope holds a value JSON cannot carry.
 *
 * @example
 * ```ts
 * const vote = signEnvelope(createEnvelope({ type: "consensus.vote", from: me, body }), keys.privateKey);
 * ```
 */
export function signEnvelope<TBody>(
  envelope: Envelope<TBody>,
  privateKey: KeyObject,
): Envelope<TBody> {
  requireEd25519(privateKey, "private");
  const signature = sign(null, signingBytes(envelope), privateKey);
  return { ...envelope, sig: signature.toString("base64url") };
}

/**
 * Checks that `envelope` carries a valid signature by the holder of
 * `publicKey`. Returns normally on success.
 *
 * @throws SignatureError if `sig` is missing, malformed, or does not match
 *   (the envelope changed after signing, or another key signed it); KeyError
 *   if `publicKey` is not an Ed25519 public key.
 *
 * @example
 * ```ts
 * verifyEnvelope(env, registry.publicKeyOf(env.from)); // throws SignatureError on forgery
 * ```
 */
export function verifyEnvelope(envelope: Envelope, publicKey: KeyObject): void {
  requireEd25519(publicKey, "public");
  const what = describe(envelope);
  if (envelope.sig === undefined) {
    throw new SignatureError(`${what} has no sig; it must be signed by its sender (signEnvelope)`);
  }
  if (typeof envelope.sig !== "string" || !signaturePattern.test(envelope.sig)) {
    throw new SignatureError(
      `${what} has a malformed sig; expected 86 base64url characters (an Ed25519 signature, no padding)`,
    );
  }
  let data: Uint8Array;
  try {
    data = signingBytes(envelope);
  } catch (err) {
    const reason = err instanceof ConclaveError ? err.message : String(err);
    throw new SignatureError(`${what} cannot be verified: ${reason}`, { cause: err });
  }
  if (!verify(null, data, publicKey, Buffer.from(envelope.sig, "base64url"))) {
    throw new SignatureError(
      `${what} has a signature that does not match: it was changed after signing or signed with another key; drop it and check the sender's registered public key`,
    );
  }
}

function requireEd25519(key: KeyObject, type: "public" | "private"): void {
  if (key?.type !== type || key.asymmetricKeyType !== "ed25519") {
    const got = key?.asymmetricKeyType
      ? `${key.asymmetricKeyType} ${key.type} key`
      : "something else";
    throw new KeyError(`expected an Ed25519 ${type} key, got ${got}`);
  }
}

/** Names the envelope in messages by fields that are cheap to trust (lengths already bounded by the schema). */
function describe(envelope: Envelope): string {
  return `envelope ${String(envelope.id).slice(0, 32)} (type ${String(envelope.type).slice(0, 64)}, from ${String(envelope.from).slice(0, 128)})`;
}
