import { createPublicKey, type KeyObject } from "node:crypto";
import { ConclaveError, SignatureError } from "../errors/index.js";
import { canonicalize, canonicalText } from "./canonical.js";
import { ed25519, requireEd25519Key, signEd25519, verifyEd25519 } from "./ed25519.js";
import {
  buildEnvelope,
  type CreateEnvelopeOptions,
  ENVELOPE_MAX_DEPTH,
  type Envelope,
  type EnvelopeFields,
  signaturePattern,
} from "./envelope.js";
import { assertJsonValue } from "./json-value.js";
import { type Known, recall, remember } from "./validated.js";
import { verifyOffThread } from "./verify-thread.js";

const encoder = new TextEncoder();

/**
 * The exact bytes an envelope's signature covers: the RFC 8785 canonical JSON
 * of the envelope without its `sig` field, as UTF-8.
 *
 * @throws InvalidEnvelopeError if the envelope holds a value JSON cannot carry.
 *
 * @example
 * ```ts
 * verifyEd25519(signingBytes(env), Buffer.from(env.sig!, "base64url"), publicKey);
 * ```
 */
export function signingBytes(envelope: Envelope): Uint8Array {
  return encoder.encode(signingText(envelope));
}

/**
 * The canonical text {@link signingBytes} encodes. An envelope just decoded
 * or signed here (and unchanged since) already had it computed: it is reused
 * instead of walking the envelope again.
 */
function signingText(envelope: Envelope): string {
  const unsigned = recall(envelope)?.unsigned;
  if (unsigned !== undefined) return unsigned;
  const { sig: _ignored, ...rest } = envelope;
  return canonicalize(rest);
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
  requireEd25519Key(privateKey, "private");
  return signKnown(envelope, privateKey, recall(envelope));
}

/** What buildEnvelope's output is known to be: its fields passed the schema. */
const FIELDS_CHECKED = { checked: "fields", unsigned: undefined } as const;

function signKnown<TBody>(
  envelope: Envelope<TBody>,
  privateKey: KeyObject,
  known: Pick<Known, "checked" | "unsigned"> | undefined,
): Envelope<TBody> {
  let text = known?.unsigned;
  let checked = text !== undefined && known?.checked === "full";
  if (text === undefined && known !== undefined) {
    // The fields passed the schema (createEnvelope): one pass checks the
    // content and canonicalises it, and then the whole envelope is valid.
    let unsigned: object = envelope;
    if (envelope.sig !== undefined) {
      const { sig: _ignored, ...rest } = envelope;
      unsigned = rest;
    }
    text = canonicalText(unsigned, ENVELOPE_MAX_DEPTH, true);
    if (text === undefined) {
      // Names what is wrong, as createEnvelope would.
      assertJsonValue(unsigned, { maxDepth: ENVELOPE_MAX_DEPTH, root: "" });
    }
    checked = text !== undefined;
  }
  text ??= signingText(envelope as Envelope);
  const signature = ed25519().sign(Buffer.from(text, "utf8"), privateKey);
  const signed = { ...envelope, sig: signature.toString("base64url") };
  // Checked in full, and signed here: encodeEnvelope need not check it
  // again, nor verifyEnvelope recompute what it signs.
  if (checked) remember(signed as Envelope, "full", text, publicKeyOf(privateKey));
  return signed;
}

const publicKeys = new WeakMap<KeyObject, KeyObject>();

/** The public half of a private key, derived once per key object. */
function publicKeyOf(privateKey: KeyObject): KeyObject {
  let publicKey = publicKeys.get(privateKey);
  if (publicKey === undefined) {
    publicKey = createPublicKey(privateKey);
    publicKeys.set(privateKey, publicKey);
  }
  return publicKey;
}

/**
 * Creates an envelope as {@link createEnvelope} does and signs it as
 * {@link signEnvelope} does, checking and canonicalising its content in one
 * pass: the way to build every signed message on a hot path.
 *
 * @throws KeyError if the key is not an Ed25519 private key;
 *   InvalidEnvelopeError naming each invalid field.
 *
 * @example
 * ```ts
 * const vote = createSignedEnvelope({ type: "consensus.vote", from: me, body }, keys.privateKey, { clock });
 * ```
 */
export function createSignedEnvelope<TBody>(
  fields: EnvelopeFields<TBody>,
  privateKey: KeyObject,
  options: CreateEnvelopeOptions = {},
): Envelope<TBody> {
  requireEd25519Key(privateKey, "private");
  return signKnown(buildEnvelope(fields, options, false), privateKey, FIELDS_CHECKED);
}

/**
 * Checks that `envelope` carries a valid signature by the holder of
 * `publicKey`. Returns normally on success.
 *
 * Envelopes are immutable by contract. An envelope decoded or signed here
 * (and unchanged since, at the top level) is checked against the signing
 * text computed then, and once it verified against a key it verifies against
 * it again without a second signature check; change a copy, never the
 * envelope's content in place. Another copy of a message this process
 * verified recently (the same signing text, signature and key: several
 * agents of one process receiving one message) is answered from memory too.
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
  const text = textToVerify(envelope, publicKey);
  if (text === undefined) return;
  const signature = Buffer.from(envelope.sig as string, "base64url");
  if (!ed25519().verify(Buffer.from(text, "utf8"), signature, publicKey)) throw mismatch(envelope);
  verified(envelope, text, publicKey);
}

/**
 * {@link verifyEnvelope}, with the signature arithmetic on a worker thread
 * when the process has one (`src/wire/verify-thread.ts`): the same checks,
 * the same errors, and the same memory of what was verified. Returns
 * `undefined` when nothing was left to compute (the envelope was verified
 * against this key before), so a hot path need not wait a turn for it.
 *
 * @throws SignatureError as {@link verifyEnvelope} (synchronously when the
 *   envelope is malformed; by the promise when the signature does not match).
 */
export function verifyEnvelopeOffThread(
  envelope: Envelope,
  publicKey: KeyObject,
): Promise<void> | undefined {
  const text = textToVerify(envelope, publicKey);
  if (text === undefined) return undefined;
  const valid = verifyOffThread(text, envelope.sig as string, publicKey);
  if (typeof valid === "boolean") {
    if (!valid) throw mismatch(envelope);
    verified(envelope, text, publicKey);
    return undefined;
  }
  return valid.then((ok) => {
    if (!ok) throw mismatch(envelope);
    verified(envelope, text, publicKey);
  });
}

/**
 * The text whose signature must be checked, or undefined when this envelope
 * (or another copy of the same message) was verified against this key
 * before.
 */
function textToVerify(envelope: Envelope, publicKey: KeyObject): string | undefined {
  requireEd25519Key(publicKey, "public");
  // Messages are built only on failure: the success path allocates no text.
  if (envelope.sig === undefined) {
    throw new SignatureError(
      `${describe(envelope)} has no sig; it must be signed by its sender (signEnvelope)`,
    );
  }
  if (typeof envelope.sig !== "string" || !signaturePattern.test(envelope.sig)) {
    throw new SignatureError(
      `${describe(envelope)} has a malformed sig; expected 86 base64url characters (an Ed25519 signature, no padding)`,
    );
  }
  const known = recall(envelope);
  // Verified against this key before, unchanged since: the same text, signature and key.
  if (known?.unsigned !== undefined && sameKey(known.verifiedBy, publicKey)) return undefined;
  let text: string;
  try {
    text = signingText(envelope);
  } catch (err) {
    const reason = err instanceof ConclaveError ? err.message : String(err);
    throw new SignatureError(`${describe(envelope)} cannot be verified: ${reason}`, {
      cause: err,
    });
  }
  // Another copy of the same message (same text, signature and key) was
  // verified in this process already: agents sharing a process (several
  // replicas of one round, say) check each signature once, not once each.
  const seen = verifiedSignatures.get(envelope.sig);
  if (seen !== undefined && seen.text === text && sameKey(seen.key, publicKey)) {
    if (known !== undefined) known.verifiedBy = publicKey;
    return undefined;
  }
  return text;
}

/** Remembers a signature that checked out, for the next copy and the next check of this one. */
function verified(envelope: Envelope, text: string, publicKey: KeyObject): void {
  if (text.length <= VERIFIED_TEXT_MAX) rememberVerified(envelope.sig as string, text, publicKey);
  const known = recall(envelope);
  if (known !== undefined) known.verifiedBy = publicKey;
}

function mismatch(envelope: Envelope): SignatureError {
  return new SignatureError(
    `${describe(envelope)} has a signature that does not match: it was changed after signing or signed with another key; drop it and check the sender's registered public key`,
  );
}

/**
 * Signatures this process verified, each with the exact text and key it
 * verified against: Ed25519 verification is a pure function of the three, so
 * a later check of the same triple has the same answer. Only successes are
 * kept, only a signature check adds one, and the oldest is dropped past
 * {@link VERIFIED_SIGNATURES_MAX} (a Map iterates in insertion order). The
 * texts are the decoded messages' own strings, not copies, and only short
 * ones are kept (votes, consensus and registry messages are well under 1 KiB;
 * checking a long text is dominated by hashing it anyway): at most about
 * 8 million characters held, whatever the traffic.
 */
const verifiedSignatures = new Map<string, { readonly text: string; readonly key: KeyObject }>();
const VERIFIED_SIGNATURES_MAX = 2_048;
/** Longest signing text remembered, in UTF-16 units. */
const VERIFIED_TEXT_MAX = 4_096;

function rememberVerified(sig: string, text: string, key: KeyObject): void {
  verifiedSignatures.set(sig, { text, key });
  if (verifiedSignatures.size > VERIFIED_SIGNATURES_MAX) {
    const oldest = verifiedSignatures.keys().next().value;
    if (oldest !== undefined) verifiedSignatures.delete(oldest);
  }
}

/**
 * Forgets every signature this process verified, so that the next checks
 * run the signature arithmetic again: for benchmarks that measure it.
 *
 * @internal
 */
export function forgetVerifiedSignatures(): void {
  verifiedSignatures.clear();
}

function sameKey(a: KeyObject | undefined, b: KeyObject): boolean {
  return a !== undefined && (a === b || a.equals(b));
}

/** Names the envelope in messages by fields that are cheap to trust (lengths already bounded by the schema). */
function describe(envelope: Envelope): string {
  return `envelope ${String(envelope.id).slice(0, 32)} (type ${String(envelope.type).slice(0, 64)}, from ${String(envelope.from).slice(0, 128)})`;
}

/**
 * A check backed by a table of public keys: true when the envelope is signed
 * by the registered key of its `from`. An agent without a key (unknown, or
 * revoked and removed) never verifies. Consensus votes and market bids are
 * checked with it.
 *
 * @example
 * ```ts
 * const signedByKnownAgent = verifierFromKeyTable(new Map([["auditor", keys.publicKey]]));
 * ```
 */
export function verifierFromKeyTable(
  keys: ReadonlyMap<string, KeyObject> | ((agent: string) => KeyObject | undefined),
): (envelope: Envelope) => boolean {
  const lookup = typeof keys === "function" ? keys : (agent: string) => keys.get(agent);
  return (envelope) => {
    const key = lookup(envelope.from);
    if (key === undefined) return false;
    try {
      verifyEnvelope(envelope, key);
      return true;
    } catch {
      return false;
    }
  };
}

/**
 * Signs a text (its UTF-8) with an Ed25519 private key: for the documents
 * that are not envelopes (cards, credentials, checkpoints). Returns the
 * signature, base64url.
 */
export function signText(text: string, privateKey: KeyObject): string {
  return signEd25519(encoder.encode(text), privateKey).toString("base64url");
}

/** Whether `signature` (base64url) is the holder of `publicKey`'s Ed25519 signature of `text`. */
export function verifyText(text: string, signature: string, publicKey: KeyObject): boolean {
  requireEd25519Key(publicKey, "public");
  if (!signaturePattern.test(signature)) return false;
  return verifyEd25519(encoder.encode(text), Buffer.from(signature, "base64url"), publicKey);
}
