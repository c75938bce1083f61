/**
 * What this node already knows about envelope objects it validated, so that
 * the hot path (create → sign → encode, decode → verify) checks and
 * canonicalises each envelope once instead of at every step:
 *
 * - `decodeEnvelope` validates and canonicalises in one pass and remembers
 *   the signing text (the canonical JSON without `sig`), which
 *   `verifyEnvelope` then reuses;
 * - `createEnvelope` remembers that the fields passed the schema, so that
 *   signing only has to check and canonicalise the content once;
 * - `signEnvelope` remembers a signed envelope it fully checked, with the
 *   text it signed, so that `encodeEnvelope` need not check it again
 *   (changing a signed envelope afterwards breaks its signature anyway: no
 *   receiver would accept it);
 * - `verifyEnvelope` remembers which key an envelope verified against, so
 *   that checking the same object again (a commit certificate made of
 *   messages a replica verified as they arrived, say) costs no signature
 *   check: the answer depends only on the remembered text, the signature
 *   and the key.
 *
 * Knowledge is kept on the object (a hidden symbol property) with a
 * snapshot of its top-level fields: an object whose fields were replaced,
 * added or removed since is no longer known. Envelopes are immutable by
 * contract (every field `readonly`); code that changes one in place (its
 * body, deep down) must pass a copy instead.
 *
 * @internal
 */
import type { KeyObject } from "node:crypto";

/**
 * The top-level fields of an envelope, as this module reads them. Stated
 * here rather than imported from envelope.ts, which imports this module.
 */
interface EnvelopeFields {
  readonly id: unknown;
  readonly type: unknown;
  readonly from: unknown;
  readonly to?: unknown;
  readonly ts: unknown;
  readonly deadline?: unknown;
  readonly corr?: unknown;
  readonly cause?: unknown;
  readonly conv?: unknown;
  readonly seq?: unknown;
  readonly attempt?: unknown;
  readonly headers?: unknown;
  readonly body: unknown;
  readonly sig?: unknown;
}

/** Every top-level field, in schema order. */
export const ENVELOPE_FIELDS = [
  "id",
  "type",
  "from",
  "to",
  "ts",
  "deadline",
  "corr",
  "cause",
  "conv",
  "seq",
  "attempt",
  "headers",
  "body",
  "sig",
] as const;

/** How far an envelope object was checked. */
export type Checked =
  /** Schema only (the body's content was not checked for JSON). */
  | "fields"
  /** Schema and content: the whole envelope is valid. */
  | "full";

/** What is known about one envelope object. */
export interface Known {
  readonly checked: Checked;
  /** RFC 8785 canonical JSON of the object without `sig` (what a signature covers), when computed. */
  readonly unsigned: string | undefined;
  /** A public key the object's signature verified against (or that made it). */
  verifiedBy: KeyObject | undefined;
}

/** A {@link Known} with the top-level fields it was learnt for, read by name (no keyed access). */
interface Entry extends Known {
  readonly keys: number;
  readonly id: unknown;
  readonly type: unknown;
  readonly from: unknown;
  readonly to: unknown;
  readonly ts: unknown;
  readonly deadline: unknown;
  readonly corr: unknown;
  readonly cause: unknown;
  readonly conv: unknown;
  readonly seq: unknown;
  readonly attempt: unknown;
  readonly headers: unknown;
  readonly body: unknown;
  readonly sig: unknown;
}

/**
 * Where an envelope object keeps what is known about it: a non-enumerable
 * symbol property (not copied by spread, not serialised, not compared by
 * deep equality). A WeakMap would do too, but costs the garbage collector
 * more for objects as short-lived as messages.
 */
const KNOWN: unique symbol = Symbol("conclave.envelope.known");

/** Remembers that `envelope` was checked (and its signing text, if known). */
export function remember(
  envelope: EnvelopeFields,
  checked: Checked,
  unsigned?: string,
  verifiedBy?: KeyObject,
): void {
  const e = envelope;
  const entry: Entry = {
    checked,
    unsigned,
    verifiedBy,
    keys: countKeys(envelope),
    id: e.id,
    type: e.type,
    from: e.from,
    to: e.to,
    ts: e.ts,
    deadline: e.deadline,
    corr: e.corr,
    cause: e.cause,
    conv: e.conv,
    seq: e.seq,
    attempt: e.attempt,
    headers: e.headers,
    body: e.body,
    sig: e.sig,
  };
  // Only ever called on objects this module's callers just made (fresh, extensible).
  Object.defineProperty(envelope, KNOWN, { value: entry, writable: true, configurable: true });
}

/**
 * How many enumerable string keys `envelope` has, counted without making
 * the array `Object.keys` would (this runs several times per message).
 * for-in also counts enumerable inherited keys: plain objects have none,
 * and were the prototype changed, the count would differ from the one
 * remembered, which only forgets what was known (the safe direction).
 */
function countKeys(envelope: object): number {
  let n = 0;
  for (const _ in envelope) n++;
  return n;
}

/** What is known about `envelope`, unless its top-level fields changed since. */
export function recall(envelope: EnvelopeFields): Known | undefined {
  if (typeof envelope !== "object" || envelope === null) return undefined;
  const k = (envelope as { [KNOWN]?: Entry })[KNOWN];
  if (k === undefined) return undefined;
  const e = envelope;
  if (
    e.id !== k.id ||
    e.sig !== k.sig ||
    e.body !== k.body ||
    e.from !== k.from ||
    e.type !== k.type ||
    e.ts !== k.ts ||
    e.to !== k.to ||
    e.corr !== k.corr ||
    e.headers !== k.headers ||
    e.deadline !== k.deadline ||
    e.cause !== k.cause ||
    e.conv !== k.conv ||
    e.seq !== k.seq ||
    e.attempt !== k.attempt ||
    countKeys(envelope) !== k.keys
  ) {
    return undefined;
  }
  return k;
}
