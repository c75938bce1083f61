export {
  CANONICAL_MAX_DEPTH,
  canonicalBytes,
  canonicalize,
  sha256Canonical,
} from "./canonical.js";
export {
  type CodecOptions,
  DEFAULT_MAX_ENVELOPE_BYTES,
  decodeEnvelope,
  encodeEnvelope,
} from "./codec.js";
export {
  type Ed25519Implementation,
  type Ed25519ImplementationName,
  ed25519,
  signEd25519,
  verifyEd25519,
} from "./ed25519.js";
export {
  agentIdPattern,
  type CreateEnvelopeOptions,
  createEnvelope,
  ENVELOPE_MAX_DEPTH,
  ENVELOPE_TYPE_MAX_LENGTH,
  type Envelope,
  type EnvelopeFields,
  envelopeSchema,
  envelopeTypePattern,
  parseEnvelope,
  signaturePattern,
} from "./envelope.js";
export type { JsonValue } from "./json-value.js";
export {
  createSignedEnvelope,
  signEnvelope,
  signingBytes,
  verifyEnvelope,
} from "./signature.js";
export {
  createUlidFactory,
  isUlid,
  ULID_MAX_TIME,
  type UlidFactory,
  ulid,
  ulidPattern,
  ulidTime,
} from "./ulid.js";
