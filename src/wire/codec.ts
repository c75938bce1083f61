import { ConfigError, EnvelopeTooLargeError, InvalidEnvelopeError } from "../errors/index.js";
import { duplicateKey } from "./duplicate-keys.js";
import { type Envelope, parseEnvelope, parseEnvelopeSigning } from "./envelope.js";
import { recall, remember } from "./validated.js";

/** 1 MiB: the largest encoded envelope accepted unless configured otherwise. */
export const DEFAULT_MAX_ENVELOPE_BYTES = 1024 * 1024;

/** Per-call options of {@link encodeEnvelope} and {@link decodeEnvelope}. */
export interface CodecOptions {
  /** Largest encoded size in bytes. Defaults to {@link DEFAULT_MAX_ENVELOPE_BYTES}. */
  readonly maxBytes?: number;
}

const encoder = new TextEncoder();
// ignoreBOM keeps a byte order mark in the text so JSON.parse refuses it, exactly as it
// does for string input; fatal turns malformed UTF-8 into an error instead of U+FFFD.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Encodes an envelope as UTF-8 JSON, after checking it with `parseEnvelope`
 * so that nothing a receiver would reject ever leaves this node.
 *
 * @throws InvalidEnvelopeError if the envelope is invalid (the message names
 *   the field); EnvelopeTooLargeError if the encoding exceeds `maxBytes`;
 *   ConfigError if `maxBytes` is not a positive integer.
 *
 * @example
 * ```ts
 * const bytes = encodeEnvelope(createEnvelope({ type: "event.ping", from: "a", body: null }));
 * ```
 */
export function encodeEnvelope(envelope: Envelope, options: CodecOptions = {}): Uint8Array {
  const limit = maxBytesOf(options);
  // signEnvelope checked it in full (and changing it since would break its signature).
  if (recall(envelope)?.checked !== "full") parseEnvelope(envelope);
  const bytes = encoder.encode(JSON.stringify(envelope));
  if (bytes.byteLength > limit) throw new EnvelopeTooLargeError(bytes.byteLength, limit);
  // Signed in this process: these very bytes, handed back to decodeEnvelope
  // without leaving the process (an in-process bus), are this envelope.
  if (recall(envelope)?.verifiedBy !== undefined) encodedHere.set(bytes, envelope);
  return bytes;
}

/**
 * Envelopes this process signed and encoded, by the byte array it encoded
 * them into. Held weakly: once the bytes are dropped (acked, delivered), so
 * is the entry. Only the identical array object is recognised, which never
 * crossed a process boundary nor came back from a journal or a broker (those
 * give new arrays, decoded and verified in full).
 */
const encodedHere = new WeakMap<Uint8Array, Envelope>();

/**
 * Decodes and validates an envelope received from anywhere: size first (so an
 * oversized message is never parsed), then UTF-8, JSON and the schema. It
 * never throws anything but the two envelope errors, whatever the input, so a
 * node can park bad input in the dead-letter queue with the reason.
 *
 * A string is taken as already-decoded text; its size is counted in UTF-8 bytes.
 *
 * @throws EnvelopeTooLargeError if the input exceeds `maxBytes`;
 *   InvalidEnvelopeError if it is not UTF-8, not JSON, or fails the schema
 *   (the message names the field and says what to fix). ConfigError only for
 *   a bad `maxBytes` option.
 *
 * @example
 * ```ts
 * try { handle(decodeEnvelope(msg.data)); }
 * catch (err) { if (err instanceof ConclaveError) deadLetter(msg, err); else throw err; }
 * ```
 */
export function decodeEnvelope(input: Uint8Array | string, options: CodecOptions = {}): Envelope {
  const limit = maxBytesOf(options);
  let text: string;
  if (typeof input === "string") {
    const size = utf8LengthIfOver(input, limit);
    if (size !== undefined) throw new EnvelopeTooLargeError(size, limit);
    text = input;
  } else {
    if (input.byteLength > limit) throw new EnvelopeTooLargeError(input.byteLength, limit);
    const local = encodedHere.get(input);
    // Unchanged since it was signed here: its signature holds for the key that made it.
    if (local !== undefined && recall(local)?.verifiedBy !== undefined) return local;
    try {
      text = decoder.decode(input);
    } catch (err) {
      throw new InvalidEnvelopeError(
        "invalid envelope: the bytes are not valid UTF-8; publish envelopes as UTF-8 JSON text",
        { cause: err },
      );
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    const hint = text.startsWith("\ufeff")
      ? "it starts with a byte order mark; send UTF-8 without a BOM"
      : "publish one JSON object per message";
    throw new InvalidEnvelopeError(`invalid envelope: not valid JSON (${reason}); ${hint}`, {
      cause: err,
    });
  }
  const { envelope, unsigned } = parseEnvelopeSigning(value);
  // After the schema check, which bounds the nesting depth.
  const repeated = duplicateKey(text, value);
  if (repeated !== undefined) {
    throw new InvalidEnvelopeError(
      `invalid envelope: the key ${JSON.stringify(repeated)} appears twice in one object; send each key once (readers disagree on which value counts)`,
    );
  }
  // The signing text is what verifying it needs: computed once, here.
  remember(envelope, envelope.sig === undefined ? "fields" : "full", unsigned);
  return envelope;
}

function maxBytesOf(options: CodecOptions): number {
  const limit = options.maxBytes ?? DEFAULT_MAX_ENVELOPE_BYTES;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new ConfigError(`maxBytes must be a positive integer number of bytes, got ${limit}`);
  }
  return limit;
}

/**
 * The UTF-8 size of `text` if it is over `limit`, else undefined. A UTF-16
 * code unit takes one to three UTF-8 bytes, so the exact count is only needed
 * in between.
 */
function utf8LengthIfOver(text: string, limit: number): number | undefined {
  if (text.length * 3 <= limit) return undefined;
  const size = Buffer.byteLength(text, "utf8");
  return size > limit ? size : undefined;
}
