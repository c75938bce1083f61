import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  EnvelopeTooLargeError,
  InvalidEnvelopeError,
  SignatureError,
} from "../../src/errors/index.js";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import { canonicalize } from "../../src/wire/canonical.js";
import { decodeEnvelope, encodeEnvelope } from "../../src/wire/codec.js";
import { type Envelope, envelopeSchema } from "../../src/wire/envelope.js";
import { signEnvelope, verifyEnvelope } from "../../src/wire/signature.js";
import { fullEnvelope } from "./fixtures.js";

// Property: whatever arrives, decodeEnvelope returns a valid, re-encodable
// envelope or throws one of the two envelope errors; and a mutated signed
// envelope never verifies unless its canonical content is unchanged.

const keys = generateAgentKeyPair();
const original = signEnvelope(fullEnvelope(), keys.privateKey);
const originalCanonical = canonicalize(original);
const valid = encodeEnvelope(original);
const validObject = JSON.parse(new TextDecoder().decode(valid)) as Record<string, unknown>;

let inputsTried = 0;
let inputsAccepted = 0;

function check(input: Uint8Array | string, maxBytes?: number): void {
  inputsTried++;
  let env: Envelope;
  try {
    env = decodeEnvelope(input, maxBytes === undefined ? {} : { maxBytes });
  } catch (err) {
    if (err instanceof InvalidEnvelopeError || err instanceof EnvelopeTooLargeError) return;
    assert.fail(`decodeEnvelope threw ${String(err)}`);
  }
  inputsAccepted++;
  assert.ok(envelopeSchema.safeParse(env).success);
  const canonical = canonicalize(env);
  assert.deepEqual(decodeEnvelope(encodeEnvelope(env)), env);
  if (env.sig === undefined) return;
  try {
    verifyEnvelope(env, keys.publicKey);
    assert.equal(canonical, originalCanonical, "a changed envelope verified");
  } catch (err) {
    if (!(err instanceof SignatureError)) throw err;
  }
}

type Mutation =
  | { kind: "flip"; at: number; xor: number }
  | { kind: "delete"; at: number; length: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "truncate"; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant("flip" as const),
    at: fc.nat(),
    xor: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({
    kind: fc.constant("delete" as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 16 }),
  }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
);

function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  const at = bytes.length === 0 ? 0 : m.at % bytes.length;
  switch (m.kind) {
    case "flip": {
      const out = Uint8Array.from(bytes);
      out[at] = (out[at] ?? 0) ^ m.xor;
      return out;
    }
    case "delete":
      return Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + m.length)]);
    case "insert":
      return Uint8Array.from([...bytes.subarray(0, at), ...m.bytes, ...bytes.subarray(at)]);
    case "truncate":
      return bytes.subarray(0, at);
  }
}

const fieldNames = [...Object.keys(validObject), "sig", "extra", "__proto__", "constructor"];

/** Values that are valid for some field and invalid for others. */
const fieldValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3, stringUnit: "binary" }),
  fc.constantFrom(
    null,
    -1,
    0,
    1,
    1.5,
    2 ** 53,
    "",
    "01JD0000000000000000000000",
    "task.code_review",
    "lead-1",
    { traceparent: "00-x" },
    `${"A".repeat(85)}w`,
  ),
);

const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

describe("decodeEnvelope under fuzzing", () => {
  test("random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => check(bytes)),
      {
        numRuns: 2000,
      },
    );
  });

  test("random strings, unpaired surrogates included", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 256 }), (text) => check(text)),
      {
        numRuns: 1000,
      },
    );
  });

  test("random JSON", () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: "binary" }), (value) => check(encode(value))),
      { numRuns: 1500 },
    );
  });

  test("envelope-shaped objects with random field values", () => {
    const shaped = fc.dictionary(fc.constantFrom(...fieldNames), fieldValue, { maxKeys: 14 });
    const withRequired = fc.tuple(shaped, fc.jsonValue({ maxDepth: 4 })).map(([fields, body]) => ({
      id: "01JD0000000000000000000000",
      type: "event.ping",
      from: "a",
      ts: 0,
      body,
      ...fields,
    }));
    fc.assert(
      fc.property(withRequired, (value) => check(encode(value))),
      { numRuns: 1500 },
    );
  });

  test("byte-level mutations of a valid signed envelope", () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        check(mutations.reduce(mutate, valid));
      }),
      { numRuns: 3000 },
    );
  });

  test("field deletion and replacement in a valid signed envelope", () => {
    const edit = fc.record({
      field: fc.constantFrom(...fieldNames),
      replacement: fc.option(fieldValue, { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), (edits) => {
        const value: Record<string, unknown> = { ...validObject };
        for (const { field, replacement } of edits) {
          if (replacement === undefined) delete value[field];
          else
            Object.defineProperty(value, field, {
              value: replacement,
              enumerable: true,
              configurable: true,
              writable: true,
            });
        }
        check(encode(value));
      }),
      { numRuns: 1500 },
    );
  });

  test("size limits around the real size", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: valid.length * 2 }), (maxBytes) => {
        check(valid, maxBytes);
        check(new TextDecoder().decode(valid), maxBytes);
      }),
      { numRuns: 500 },
    );
  });

  test("covered at least 10,000 inputs, some of them accepted", () => {
    assert.ok(inputsTried >= 10_000, `only ${inputsTried} inputs`);
    assert.ok(inputsAccepted >= 500, `only ${inputsAccepted} inputs were valid envelopes`);
  });
});
