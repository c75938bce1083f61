import type { Clock } from "../core/clock.js";
import type { Random } from "../core/random.js";
import { createEnvelope, type Envelope } from "../wire/envelope.js";

/**
 * Ready-made lies for protocols whose messages are signed envelopes, to pass
 * to the wrappers of `byzantine.ts`. None of them can produce a valid
 * signature of another agent: that is the point of signing.
 */

/** Signs an envelope with the liar's own key. */
export type EnvelopeSigner = (envelope: Envelope) => Envelope;

/** Options of {@link garbageEnvelope}. */
export interface GarbageEnvelopeOptions {
  /** The sender the junk claims (usually the liar itself). */
  readonly from: string;
  /** Envelope types to dress the junk in, e.g. the protocol's message types. */
  readonly types: readonly string[];
  /** Virtual time for `ts`. */
  readonly now: number;
  /** The liar's signer: lets it sign schema-valid envelopes with nonsense bodies. */
  readonly sign?: EnvelopeSigner;
}

/**
 * One piece of junk, chosen at random among: values that are not envelopes at
 * all (numbers, strings, arrays, `null`), objects that fail the envelope
 * schema, well-formed envelopes without a signature, with a malformed one or
 * with a well-formed one that does not verify, and (with `sign`) correctly
 * signed envelopes whose body is nonsense for their type.
 *
 * @example
 * ```ts
 * garbage(node, { random, peers, make: (r) => garbageEnvelope(r, { from: "r3", types, now: net.now }) });
 * ```
 */
export function garbageEnvelope(random: Random, options: GarbageEnvelopeOptions): unknown {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random.next() * items.length)] as T;
  const variant = Math.floor(random.next() * (options.sign ? 8 : 7));
  const type = options.types.length > 0 ? pick(options.types) : "junk";
  switch (variant) {
    case 0:
      return pick<unknown>([null, 42, "hello", [], true, Number.NaN]);
    case 1:
      return { hello: "world", n: Math.floor(random.next() * 1000) };
    case 2:
      return { id: "not-a-ulid", type, from: options.from, ts: -1, body: null };
    default: {
      const clock: Clock = { now: () => options.now, setTimer: () => () => undefined };
      const body = pick<unknown>([
        null,
        { view: -1, seq: "x" },
        { view: 0, seq: 1, digest: "zz" },
        [1, 2, 3],
        "text",
        { view: 1e9, seq: 1e9, digest: "0".repeat(64) },
      ]);
      const envelope = createEnvelope({ type, from: options.from, body }, { clock, random });
      if (variant === 3) return envelope;
      if (variant === 4) return { ...envelope, sig: "not-a-signature" };
      if (variant === 5 || variant === 6) return { ...envelope, sig: randomSignature(random) };
      return (options.sign as EnvelopeSigner)(envelope);
    }
  }
}

/**
 * The same message claiming another sender. With `sign`, the liar re-signs it
 * with its own key (the signature is well-formed but not `as`'s); without,
 * the original signature is kept (and no longer matches). Either way a
 * receiver that checks signatures rejects it.
 */
export function forgeSender(envelope: Envelope, as: string, sign?: EnvelopeSigner): Envelope {
  const forged: Envelope = { ...envelope, from: as };
  return sign ? sign(forged) : forged;
}

/** The same envelope with its body changed after signing: the signature no longer matches. */
export function tamperBody(envelope: Envelope, random: Random): Envelope {
  const body = envelope.body;
  const nonce = Math.floor(random.next() * 1_000_000);
  const changed =
    typeof body === "object" && body !== null && !Array.isArray(body)
      ? { ...(body as Record<string, unknown>), tampered: nonce }
      : { tampered: nonce, was: body ?? null };
  return { ...envelope, body: changed };
}

const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** A syntactically valid Ed25519 signature (86 base64url characters) that signs nothing. */
export function randomSignature(random: Random): string {
  let out = "";
  for (let i = 0; i < 85; i++) out += BASE64URL.charAt(Math.floor(random.next() * 64));
  return out + "AQgw".charAt(Math.floor(random.next() * 4));
}
