import { z } from "zod";
import { type Clock, systemClock } from "../core/clock.js";
import type { Random } from "../core/random.js";
import { InvalidEnvelopeError } from "../errors/index.js";
import { canonicalText } from "./canonical.js";
import { describeEnvelopeIssues } from "./envelope-issues.js";
import { assertJsonValue } from "./json-value.js";
import { sharedUlidFactory, ulidPattern } from "./ulid.js";
import { ENVELOPE_FIELDS, remember } from "./validated.js";

/** `task.code_review`: lower-case tokens of `[a-z0-9_-]` joined by dots. */
export const envelopeTypePattern: RegExp = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/;

/** Agent ids are safe in file names, subjects and URLs without escaping. */
export const agentIdPattern: RegExp = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * Correlation, causation and conversation ids, and header values, are
 * printable ASCII: they map onto NATS and AMQP headers unchanged, and their
 * length means the same in every language.
 */
const referencePattern = /^[\x20-\x7e]{1,128}$/;
const headerNamePattern = /^[a-z0-9-]{1,128}$/;
const headerValuePattern = /^[\x20-\x7e]{0,8192}$/;

/**
 * 64 signature bytes are 86 base64url characters; the last one carries only
 * two bits, so it must be A, Q, g or w. Anything else would be a second
 * spelling of the same signature.
 */
export const signaturePattern: RegExp = /^[A-Za-z0-9_-]{85}[AQgw]$/;

/** Deepest nesting of objects and arrays in an envelope, counting the envelope itself as 1. */
export const ENVELOPE_MAX_DEPTH = 256;

/**
 * How far ahead of a receiver's clock a signed time may be (5 minutes): a
 * task's `ts` (else `E_CLOCK_SKEW`), a credential's `issuedAt`. A task may
 * wait in its queue for any time, so only the future is bounded.
 */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;

/** Longest `type`. */
export const ENVELOPE_TYPE_MAX_LENGTH = 256;

const required =
  (what: string) =>
  (issue: { input?: unknown }): string =>
    issue.input === undefined ? "is required" : `must be ${what}`;

/**
 * The error of an integer field. Beyond 2^53 - 1 the issue is `too_big`, and
 * "must be an integer" would mislead whoever sent one (a clock in
 * nanoseconds, say): say what the bound is.
 */
const integer =
  (what: string, beyondSafe = "") =>
  (issue: { input?: unknown; code?: string }): string =>
    issue.input === undefined
      ? "is required"
      : issue.code === "too_big"
        ? `must be at most 2^53 - 1 (${Number.MAX_SAFE_INTEGER})${beyondSafe}`
        : `must be ${what}`;

const agentId = () =>
  z
    .string({ error: required("a string") })
    .regex(agentIdPattern, { error: "must be an agent id: 1-128 characters of A-Z a-z 0-9 _ -" });

const reference = () =>
  z
    .string({ error: required("a string") })
    .regex(referencePattern, { error: "must be 1-128 printable ASCII characters" });

const millis = () =>
  z
    .int({
      error: integer(
        "an integer (ms since the Unix epoch)",
        "; it counts milliseconds since the Unix epoch, and a value this large is likely in microseconds or nanoseconds",
      ),
    })
    .min(0, { error: "must be non-negative (ms since the Unix epoch)" });

/**
 * Refuses an object with an own `__proto__` key (which `JSON.parse` makes):
 * zod's record skips that key instead of checking its name, so a header
 * named `__proto__` would be dropped silently rather than refused.
 */
const ownProtoKeyRefused = z.unknown().superRefine((value, ctx) => {
  if (typeof value === "object" && value !== null && Object.hasOwn(value, "__proto__")) {
    ctx.addIssue({
      code: "invalid_key",
      origin: "record",
      issues: [],
      input: "__proto__",
      path: ["__proto__"],
    });
  }
});

/**
 * The schema of an envelope, the one message shape on the bus. Closed:
 * unknown top-level fields are rejected. See docs/PROTOCOL.md for the
 * meaning of each field. Prefer {@link parseEnvelope}, which also checks the
 * body and throws the project's error type.
 */
export const envelopeSchema = z
  .strictObject({
    id: z
      .string({ error: required("a string") })
      .regex(ulidPattern, { error: "must be a ULID (26 upper-case Crockford base32 characters)" }),
    type: z
      .string({ error: required("a string") })
      .max(ENVELOPE_TYPE_MAX_LENGTH, {
        error: `must be at most ${ENVELOPE_TYPE_MAX_LENGTH} characters`,
      })
      .regex(envelopeTypePattern, {
        error: "must be dot-separated lower-case tokens of a-z 0-9 _ - (e.g. task.code_review)",
      }),
    from: agentId(),
    to: agentId().optional(),
    ts: millis(),
    deadline: millis().optional(),
    corr: reference().optional(),
    cause: reference().optional(),
    conv: reference().optional(),
    seq: z
      .int({ error: integer("an integer") })
      .min(0, { error: "must be non-negative" })
      .optional(),
    attempt: z
      .int({ error: integer("an integer") })
      .min(1, { error: "must be at least 1 (the first delivery is attempt 1)" })
      .optional(),
    headers: ownProtoKeyRefused
      .pipe(
        z.record(
          z.string().regex(headerNamePattern),
          z.string({ error: required("a string") }).regex(headerValuePattern, {
            error: "must be at most 8192 printable ASCII characters",
          }),
          { error: required("an object of string values") },
        ),
      )
      .optional(),
    body: z.custom<unknown>((value) => value !== undefined, {
      error: "is required (use null for an empty body)",
    }),
    sig: z
      .string({ error: required("a string") })
      .regex(signaturePattern, {
        error: "must be an Ed25519 signature: 86 base64url characters, no padding",
      })
      .optional(),
  })
  .superRefine((envelope, ctx) => {
    if (envelope.seq !== undefined && envelope.conv === undefined) {
      ctx.addIssue({ code: "custom", path: ["conv"], message: "is required when seq is set" });
    }
    if (envelope.conv !== undefined && envelope.seq === undefined) {
      ctx.addIssue({ code: "custom", path: ["seq"], message: "is required when conv is set" });
    }
  });

/**
 * Every message on the bus. Plain JSON on the wire; see docs/PROTOCOL.md.
 * `TBody` is what the sender promises `body` holds; a decoder cannot check
 * that promise, so decoded envelopes are `Envelope<unknown>`.
 */
export interface Envelope<TBody = unknown> {
  /** ULID, unique per message; receivers deduplicate on it. Kept across retries. */
  readonly id: string;
  /** What the message is, e.g. `task.code_review` or `consensus.vote`. */
  readonly type: string;
  /** Agent id of the sender. */
  readonly from: string;
  /** Agent id of the one intended receiver, if any. */
  readonly to?: string;
  /** When the sender created it, ms since the Unix epoch. */
  readonly ts: number;
  /** Absolute time (ms since the epoch) after which the work is no longer wanted. */
  readonly deadline?: number;
  /** Correlation id: ties a reply to its request; shared by a whole exchange. */
  readonly corr?: string;
  /** Causation id: the `id` of the envelope that caused this one. */
  readonly cause?: string;
  /** Conversation id; with `seq`, gives strict per-conversation order. */
  readonly conv?: string;
  /** Position within `conv`, from 0, without gaps. Set together with `conv`. */
  readonly seq?: number;
  /** Delivery attempt this envelope represents, from 1. */
  readonly attempt?: number;
  /** W3C trace context (`traceparent`, `tracestate`) and other lower-case string headers. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The payload: any JSON value, `null` when empty. */
  readonly body: TBody;
  /** Ed25519 signature over the canonical envelope without `sig`; see `signEnvelope`. */
  readonly sig?: string;
}

/**
 * Validates an in-memory value as an envelope: the schema, plus a body that
 * is plain JSON (finite numbers, well-formed strings, plain objects) nested at
 * most {@link ENVELOPE_MAX_DEPTH} deep. Returns a shallow copy; `body` is not
 * copied.
 *
 * @throws InvalidEnvelopeError whose message names each failing field.
 *
 * @example
 * ```ts
 * const env = parseEnvelope(JSON.parse(text)); // or use decodeEnvelope(bytes)
 * ```
 */
export function parseEnvelope(value: unknown): Envelope {
  const envelope = parseFields(value);
  assertJsonValue(envelope, { maxDepth: ENVELOPE_MAX_DEPTH, root: "" });
  return envelope;
}

/**
 * {@link parseEnvelope} that also returns what a signature of the envelope
 * covers, the RFC 8785 canonical JSON of it without `sig`, computed in the
 * same pass that checks its content (undefined in the odd case the fast pass
 * declines a value that is nonetheless valid).
 *
 * @internal
 */
export function parseEnvelopeSigning(value: unknown): {
  envelope: Envelope;
  unsigned: string | undefined;
} {
  const envelope = parseFields(value);
  // `sig` is left out of the text; the schema checked it is 86 base64url characters.
  const unsigned = canonicalText(envelope, ENVELOPE_MAX_DEPTH, true, "sig");
  // Refused: the full check names what is wrong and throws.
  if (unsigned === undefined) {
    assertJsonValue(envelope, { maxDepth: ENVELOPE_MAX_DEPTH, root: "" });
  }
  return { envelope, unsigned };
}

/** The schema part of {@link parseEnvelope}: every field but the body's content. */
function parseFields(value: unknown): Envelope {
  const fast = readEnvelope(value);
  if (fast !== undefined) return fast;
  // Unusual or invalid: the schema has the last word and names what is wrong.
  const result = envelopeSchema.safeParse(value);
  if (!result.success) {
    // Parsed again with the offending inputs attached, only on this cold path: it costs.
    const detailed = envelopeSchema.safeParse(value, { reportInput: true });
    const error = detailed.error ?? result.error;
    throw new InvalidEnvelopeError(describeEnvelopeIssues(error.issues), { cause: error });
  }
  return result.data;
}

/** Every field of the schema. */
const KNOWN_FIELDS: ReadonlySet<string> = new Set(ENVELOPE_FIELDS);

function isMillis(value: unknown): boolean {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function matches(value: unknown, pattern: RegExp): boolean {
  return typeof value === "string" && pattern.test(value);
}

/**
 * The hot path of {@link parseEnvelope}: a hand-written check of the usual
 * case, equivalent to {@link envelopeSchema} on what it accepts, with the
 * same output (a new object, fields in schema order, a copy of `headers`,
 * `body` as is). It only ever says yes: anything it does not accept for sure
 * (an invalid field, an unknown one, an object that is not plain, symbol or
 * hidden keys in `headers`) returns undefined and goes to the schema, which
 * decides and explains. Property tests hold the two to the same answers.
 */
export function readEnvelope(value: unknown): Envelope | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return undefined;
  const input = value as Record<string, unknown>;
  for (const key of Object.keys(input)) if (!KNOWN_FIELDS.has(key)) return undefined;
  // Each field read once, into the output (a field present as undefined stays
  // present, as in the schema's), by name: no keyed access on the hot path.
  const out: Record<string, unknown> = {};
  if ("id" in input) out["id"] = input["id"];
  if ("type" in input) out["type"] = input["type"];
  if ("from" in input) out["from"] = input["from"];
  if ("to" in input) out["to"] = input["to"];
  if ("ts" in input) out["ts"] = input["ts"];
  if ("deadline" in input) out["deadline"] = input["deadline"];
  if ("corr" in input) out["corr"] = input["corr"];
  if ("cause" in input) out["cause"] = input["cause"];
  if ("conv" in input) out["conv"] = input["conv"];
  if ("seq" in input) out["seq"] = input["seq"];
  if ("attempt" in input) out["attempt"] = input["attempt"];
  if ("headers" in input) out["headers"] = input["headers"];
  if ("body" in input) out["body"] = input["body"];
  if ("sig" in input) out["sig"] = input["sig"];
  return checkFields(out) ? (out as unknown as Envelope) : undefined;
}

/**
 * Whether a plain record of known fields (in schema order) passes the
 * schema; replaces `headers` by its copy, as the schema's output has.
 */
function checkFields(out: Record<string, unknown>): boolean {
  const type = out["type"];
  if (
    !matches(out["id"], ulidPattern) ||
    typeof type !== "string" ||
    type.length > ENVELOPE_TYPE_MAX_LENGTH ||
    !envelopeTypePattern.test(type) ||
    !matches(out["from"], agentIdPattern) ||
    !isMillis(out["ts"]) ||
    out["body"] === undefined
  ) {
    return false;
  }
  const to = out["to"];
  if (to !== undefined && !matches(to, agentIdPattern)) return false;
  const deadline = out["deadline"];
  if (deadline !== undefined && !isMillis(deadline)) return false;
  const corr = out["corr"];
  if (corr !== undefined && !matches(corr, referencePattern)) return false;
  const cause = out["cause"];
  if (cause !== undefined && !matches(cause, referencePattern)) return false;
  const conv = out["conv"];
  if (conv !== undefined && !matches(conv, referencePattern)) return false;
  const seq = out["seq"];
  if (seq !== undefined && !isMillis(seq)) return false;
  const attempt = out["attempt"];
  if (attempt !== undefined && !(isMillis(attempt) && (attempt as number) >= 1)) return false;
  if ((seq === undefined) !== (conv === undefined)) return false;
  const sig = out["sig"];
  if (sig !== undefined && !matches(sig, signaturePattern)) return false;
  if (out["headers"] !== undefined) {
    const headers = readHeaders(out["headers"]);
    if (headers === undefined) return false;
    out["headers"] = headers;
  }
  return true;
}

/** A copy of a plain `headers` record of valid names and values, or undefined. */
function readHeaders(value: unknown): Record<string, string> | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return undefined;
  const names = Object.getOwnPropertyNames(value);
  if (Object.getOwnPropertySymbols(value).length > 0) return undefined;
  const record = value as Record<string, unknown>;
  const copy: Record<string, string> = {};
  for (const name of names) {
    if (!Object.prototype.propertyIsEnumerable.call(record, name)) return undefined;
    const header = record[name];
    if (!headerNamePattern.test(name) || !matches(header, headerValuePattern)) return undefined;
    copy[name] = header as string;
  }
  return copy;
}

/** What the caller of {@link createEnvelope} supplies; `id` and `ts` are filled in. */
export type EnvelopeFields<TBody> = Omit<Envelope<TBody>, "id" | "ts" | "sig">;

/** Per-call options of {@link createEnvelope}. */
export interface CreateEnvelopeOptions {
  /** Source of `ts` and the id's time. Defaults to the system clock. */
  readonly clock?: Clock;
  /** Source of the id's random part; defaults to node:crypto. For tests and simulations. */
  readonly random?: Random;
  /**
   * The id to give the envelope (a ULID) instead of a fresh one: for a
   * message whose id must not change when its sender runs again (a child
   * task derived from its parent and a step).
   */
  readonly id?: string;
}

/** What createEnvelope takes from its fields (`id` and `ts` are replaced; never `sig`). */
const BUILT_FIELDS: ReadonlySet<string> = new Set(ENVELOPE_FIELDS.filter((f) => f !== "sig"));

/**
 * Creates a validated envelope with a fresh ULID `id` and `ts` from the
 * clock. Fields left `undefined` are dropped.
 *
 * @throws InvalidEnvelopeError naming each invalid field.
 *
 * @example
 * ```ts
 * const env = createEnvelope({
 *   type: "task.code_review",
 *   from: "lead",
 *   body: { repo: "acme/api", pr: 42 },
 * });
 * ```
 */
export function createEnvelope<TBody>(
  fields: EnvelopeFields<TBody>,
  options: CreateEnvelopeOptions = {},
): Envelope<TBody> {
  const envelope = buildEnvelope(fields, options);
  assertJsonValue(envelope, { maxDepth: ENVELOPE_MAX_DEPTH, root: "" });
  return envelope;
}

/**
 * {@link createEnvelope} without the check of the body's content: for
 * `createSignedEnvelope`, whose signing pass checks it while canonicalising.
 * The result is remembered as schema-checked.
 *
 * @internal
 */
export function buildEnvelope<TBody>(
  fields: EnvelopeFields<TBody>,
  options: CreateEnvelopeOptions = {},
  remembered = true,
): Envelope<TBody> {
  const clock = options.clock ?? systemClock;
  const ts = Math.floor(clock.now());
  const id = options.id ?? sharedUlidFactory(clock, options.random)(ts);
  const source = fields as unknown as Record<string, unknown>;
  let unusual = false;
  for (const key of Object.keys(source)) {
    if (!BUILT_FIELDS.has(key)) unusual = true;
  }
  // In schema order, fields left undefined dropped; by name, no keyed access.
  const ordered: Record<string, unknown> = { id };
  const { type, from, to, deadline, corr, cause, conv, seq, attempt, headers, body } = source;
  if (type !== undefined) ordered["type"] = type;
  if (from !== undefined) ordered["from"] = from;
  if (to !== undefined) ordered["to"] = to;
  ordered["ts"] = ts;
  if (deadline !== undefined) ordered["deadline"] = deadline;
  if (corr !== undefined) ordered["corr"] = corr;
  if (cause !== undefined) ordered["cause"] = cause;
  if (conv !== undefined) ordered["conv"] = conv;
  if (seq !== undefined) ordered["seq"] = seq;
  if (attempt !== undefined) ordered["attempt"] = attempt;
  if (headers !== undefined) ordered["headers"] = headers;
  if (body !== undefined) ordered["body"] = body;
  let envelope: Envelope<TBody>;
  if (!unusual && checkFields(ordered)) {
    envelope = ordered as unknown as Envelope<TBody>;
  } else {
    // Unknown keys are kept so that validation names them instead of losing them silently.
    for (const key of Object.keys(source)) {
      if (!(key in ordered) && source[key] !== undefined) ordered[key] = source[key];
    }
    envelope = parseFields(ordered) as Envelope<TBody>;
  }
  if (remembered) remember(envelope, "fields");
  return envelope;
}
