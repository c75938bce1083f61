/**
 * The hot paths of the wire layer must give the answers of the reference
 * paths they stand in for:
 *
 * - `readEnvelope` (hand-written) against `envelopeSchema` (zod): on JSON
 *   input they accept and refuse the same values, with the same output
 *   (fields in schema order, `headers` copied); on any JS value, what the
 *   fast check accepts the schema accepts, with the same output;
 * - `canonicalText` (one pass, no path bookkeeping) against the explained
 *   canonicalisation: the same text, the same refusals;
 * - the signing text remembered by `decodeEnvelope` and `signEnvelope`
 *   against recomputing it, and what a changed envelope no longer reuses;
 * - the signatures a process remembers as verified against checking each
 *   copy afresh: the same answer for every copy, changed or not, and key.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { InvalidEnvelopeError, SignatureError } from "../../src/errors/index.js";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import {
  CANONICAL_MAX_DEPTH,
  canonicalize,
  canonicalText,
  explainedCanonicalize,
} from "../../src/wire/canonical.js";
import { decodeEnvelope, encodeEnvelope } from "../../src/wire/codec.js";
import {
  createEnvelope,
  ENVELOPE_MAX_DEPTH,
  type Envelope,
  envelopeSchema,
  parseEnvelope,
  readEnvelope,
} from "../../src/wire/envelope.js";
import { assertJsonValue } from "../../src/wire/json-value.js";
import {
  createSignedEnvelope,
  forgetVerifiedSignatures,
  signEnvelope,
  signingBytes,
  verifyEnvelope,
} from "../../src/wire/signature.js";
import { ENVELOPE_FIELDS } from "../../src/wire/validated.js";
import { fullEnvelope } from "./fixtures.js";

const FIELDS = ENVELOPE_FIELDS;

/** Values valid for some field and invalid for others, edge cases included. */
const fieldValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2, stringUnit: "binary" }) },
  {
    weight: 4,
    arbitrary: fc.constantFrom<unknown>(
      null,
      -1,
      0,
      -0,
      1,
      1.5,
      2 ** 53 - 1,
      2 ** 53,
      1e300,
      "",
      "01JD0000000000000000000000",
      "01jd0000000000000000000000",
      "81JD0000000000000000000000",
      "task.code_review",
      "Task.Review",
      "a..b",
      "t".repeat(256),
      "t".repeat(257),
      "lead-1",
      "a b",
      "x".repeat(128),
      "x".repeat(129),
      "ü",
      "\u007f",
      { traceparent: "00-x" },
      { Trace: "x" },
      { a: 1 },
      { a: "\u00e9" },
      {},
      [],
      `${"A".repeat(85)}w`,
      `${"A".repeat(85)}x`,
      `${"A".repeat(85)}==`,
    ),
  },
);

const envelopeLike = fc
  .tuple(
    fc.dictionary(fc.constantFrom<string>(...FIELDS, "extra", "constructor"), fieldValue, {
      maxKeys: 15,
    }),
    fc.subarray([...FIELDS], { minLength: 0 }),
    fc.boolean(),
  )
  .map(([random, keep, base]) => {
    const valid: Record<string, unknown> = {
      id: "01JD0000000000000000000000",
      type: "event.ping",
      from: "a",
      ts: 0,
      body: { n: 1 },
    };
    const out: Record<string, unknown> = base ? { ...valid } : {};
    for (const key of keep) if (key in valid) out[key] = valid[key];
    return { ...out, ...random };
  });

function zodOutput(value: unknown): Envelope | undefined {
  const result = envelopeSchema.safeParse(value);
  return result.success ? result.data : undefined;
}

function sameOutput(fast: Envelope, reference: Envelope): void {
  assert.deepEqual(Object.keys(fast), Object.keys(reference), "fields in the same order");
  assert.deepEqual(fast, reference);
  if (reference.headers !== undefined) {
    assert.deepEqual(Object.keys(fast.headers ?? {}), Object.keys(reference.headers));
  }
}

describe("readEnvelope against the schema", () => {
  test("on JSON input: the same accepted and refused values, the same output", () => {
    let accepted = 0;
    fc.assert(
      fc.property(envelopeLike, (value) => {
        const json = JSON.parse(JSON.stringify(value)) as unknown;
        const fast = readEnvelope(json);
        const reference = zodOutput(json);
        assert.equal(fast !== undefined, reference !== undefined, JSON.stringify(json));
        if (fast !== undefined && reference !== undefined) {
          accepted++;
          sameOutput(fast, reference);
        }
      }),
      { numRuns: 4000 },
    );
    assert.ok(accepted >= 200, `only ${accepted} valid inputs`);
  });

  test("on any value: what it accepts the schema accepts, with the same output", () => {
    const exotic = fc.oneof(
      envelopeLike,
      envelopeLike.map((v) => Object.assign(Object.create(null), v)),
      envelopeLike.map((v) => Object.assign(Object.create({ inherited: 1 }), v)),
      envelopeLike.map((v) => ({ ...v, to: undefined, corr: undefined })),
      envelopeLike.map((v) => ({ ...v, [Symbol("s")]: 1 })),
      envelopeLike.map((v) => ({ ...v, headers: Object.assign(Object.create(null), { a: "b" }) })),
      envelopeLike.map((v) => ({ ...v, headers: { a: "b", [Symbol("s")]: "c" } })),
      envelopeLike.map((v) => ({ ...v, headers: JSON.parse('{"__proto__":"x"}') })),
      fc.anything(),
    );
    fc.assert(
      fc.property(exotic, (value) => {
        const fast = readEnvelope(value);
        if (fast === undefined) return;
        const reference = zodOutput(value);
        assert.ok(reference !== undefined, "the fast check accepted what the schema refuses");
        sameOutput(fast, reference);
      }),
      { numRuns: 3000 },
    );
  });

  test("parseEnvelope accepts exactly what the schema and the JSON check accept", () => {
    const reference = (value: unknown): boolean => {
      const result = envelopeSchema.safeParse(value);
      if (!result.success) return false;
      try {
        assertJsonValue(result.data, { maxDepth: ENVELOPE_MAX_DEPTH, root: "" });
        return true;
      } catch {
        return false;
      }
    };
    const withBodies = fc
      .tuple(envelopeLike, fc.oneof(fc.anything(), fc.jsonValue()))
      .map(([v, body]) => ({ ...v, body }));
    fc.assert(
      fc.property(fc.oneof(envelopeLike, withBodies), (value) => {
        let ok = true;
        try {
          parseEnvelope(value);
        } catch (error) {
          assert.ok(error instanceof InvalidEnvelopeError);
          ok = false;
        }
        assert.equal(ok, reference(value));
      }),
      { numRuns: 3000 },
    );
  });
});

describe("canonicalText against the explained canonicalisation", () => {
  const slow = (value: unknown): string | undefined => {
    try {
      return explainedCanonicalize(value);
    } catch (error) {
      assert.ok(error instanceof InvalidEnvelopeError);
      return undefined;
    }
  };

  test("JSON values: the same text", () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: "binary" }), (value) => {
        assert.equal(canonicalText(value, CANONICAL_MAX_DEPTH, false), slow(value));
      }),
      { numRuns: 2000 },
    );
  });

  test("anything: refused by one, refused by the other", () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withBoxedValues: true }), (value) => {
        assert.equal(canonicalText(value, CANONICAL_MAX_DEPTH, false), slow(value));
      }),
      { numRuns: 2000 },
    );
  });

  test("strict keys refuse what assertJsonValue refuses, depth as the envelope's", () => {
    const value = { a: 1, "\ud800": undefined };
    assert.equal(canonicalText(value, 10, true), undefined);
    assert.throws(() => assertJsonValue(value, { maxDepth: 10, root: "" }), InvalidEnvelopeError);
    assert.equal(canonicalText(value, 10, false), '{"a":1}');
    let deep: unknown = 1;
    for (let i = 0; i < 3; i++) deep = [deep];
    assert.equal(canonicalText(deep, 3, true), "[[[1]]]");
    assert.equal(canonicalText([deep], 3, true), undefined);
  });
});

describe("remembered signing text", () => {
  const keys = generateAgentKeyPair();
  const other = generateAgentKeyPair();

  test("decode then verify: the remembered text is the recomputed one", () => {
    const signed = signEnvelope(fullEnvelope(), keys.privateKey);
    const decoded = decodeEnvelope(encodeEnvelope(signed));
    const { sig: _sig, ...unsigned } = decoded;
    assert.deepEqual(signingBytes(decoded), new TextEncoder().encode(canonicalize(unsigned)));
    verifyEnvelope(decoded, keys.publicKey);
    verifyEnvelope(decoded, keys.publicKey); // answered from memory
    assert.throws(() => verifyEnvelope(decoded, other.publicKey), SignatureError);
  });

  test("a changed copy, or a field replaced in place, is checked afresh and fails", () => {
    const decoded = decodeEnvelope(
      encodeEnvelope(signEnvelope(fullEnvelope(), keys.privateKey)),
    ) as Envelope & Record<string, unknown>;
    verifyEnvelope(decoded, keys.publicKey);
    assert.throws(
      () => verifyEnvelope({ ...decoded, body: { task: "approve" } }, keys.publicKey),
      SignatureError,
    );
    assert.throws(() => verifyEnvelope({ ...decoded, to: "someone-else" }, keys.publicKey));
    (decoded as { from: string }).from = "mallory";
    assert.throws(() => verifyEnvelope(decoded, keys.publicKey), SignatureError);
  });

  test("createSignedEnvelope signs what createEnvelope then signEnvelope sign, and is checked like it", () => {
    const clock = { now: () => 1_732_200_000_000, setTimer: () => () => undefined };
    const fields = {
      type: "consensus.vote",
      from: "v1",
      corr: "c",
      body: { b: [1, "ü"], a: null },
    };
    const one = createSignedEnvelope(fields, keys.privateKey, { clock });
    const two = signEnvelope(createEnvelope(fields, { clock }), keys.privateKey);
    assert.equal(one.sig !== undefined, true);
    verifyEnvelope(one, keys.publicKey);
    verifyEnvelope(two, keys.publicKey);
    const { sig: _a, id: _b, ...rest1 } = one;
    const { sig: _c, id: _d, ...rest2 } = two;
    assert.deepEqual(rest1, rest2);
    assert.deepEqual(decodeEnvelope(encodeEnvelope(one)), one);
    assert.throws(
      () => createSignedEnvelope({ ...fields, body: { n: Number.NaN } }, keys.privateKey),
      /invalid envelope: body\.n is NaN/,
    );
    let deep: unknown = null;
    for (let i = 0; i < ENVELOPE_MAX_DEPTH; i++) deep = [deep];
    assert.throws(
      () => createSignedEnvelope({ ...fields, body: deep }, keys.privateKey),
      /nested deeper than 256/,
    );
  });

  test("a signed envelope changed in place after signing is not sent unchecked", () => {
    const signed = signEnvelope(fullEnvelope(), keys.privateKey) as unknown as Record<
      string,
      unknown
    >;
    signed["extra"] = 1;
    assert.throws(() => encodeEnvelope(signed as unknown as Envelope), /unknown field "extra"/);
  });
});

describe("signatures verified once per process", () => {
  const keys = generateAgentKeyPair();
  const other = generateAgentKeyPair();
  const fresh = (envelope: Envelope, key: typeof keys.publicKey): boolean => {
    forgetVerifiedSignatures();
    try {
      verifyEnvelope(envelope, key);
      return true;
    } catch {
      return false;
    }
  };
  const remembered = (envelope: Envelope, key: typeof keys.publicKey): boolean => {
    try {
      verifyEnvelope(envelope, key);
      return true;
    } catch {
      return false;
    }
  };

  test("another copy of a verified message verifies; a changed copy or another key does not", () => {
    const bytes = encodeEnvelope(signEnvelope(fullEnvelope(), keys.privateKey));
    verifyEnvelope(decodeEnvelope(bytes), keys.publicKey);
    verifyEnvelope(decodeEnvelope(bytes), keys.publicKey);
    const copy = decodeEnvelope(bytes);
    assert.throws(() => verifyEnvelope({ ...copy, body: { forged: true } }, keys.publicKey), {
      name: "SignatureError",
    });
    assert.throws(() => verifyEnvelope(decodeEnvelope(bytes), other.publicKey), SignatureError);
    verifyEnvelope(decodeEnvelope(bytes), keys.publicKey);
  });

  test("on random messages and changes, the remembered answer is the fresh one", () => {
    const signed = signEnvelope(fullEnvelope(), keys.privateKey);
    const bytes = encodeEnvelope(signed);
    fc.assert(
      fc.property(
        fc.record({
          body: fc.option(fc.jsonValue({ maxDepth: 3 }), { nil: undefined }),
          from: fc.option(fc.constantFrom("a", "dev-1", signed.from), { nil: undefined }),
          ts: fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: undefined }),
          otherKey: fc.boolean(),
        }),
        ({ body, from, ts, otherKey }) => {
          const key = otherKey ? other.publicKey : keys.publicKey;
          // The original is verified (and remembered) first, as a replica would.
          verifyEnvelope(decodeEnvelope(bytes), keys.publicKey);
          const copy = decodeEnvelope(bytes);
          const changed = {
            ...copy,
            ...(body === undefined ? {} : { body }),
            ...(from === undefined ? {} : { from }),
            ...(ts === undefined ? {} : { ts }),
          } as Envelope;
          const answer = remembered(changed, key);
          assert.equal(answer, fresh(changed, key));
        },
      ),
      { numRuns: 300 },
    );
  });
});
