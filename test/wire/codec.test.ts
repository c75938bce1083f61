import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ConfigError,
  EnvelopeTooLargeError,
  InvalidEnvelopeError,
} from "../../src/errors/index.js";
import {
  DEFAULT_MAX_ENVELOPE_BYTES,
  decodeEnvelope,
  encodeEnvelope,
} from "../../src/wire/codec.js";
import type { Envelope } from "../../src/wire/envelope.js";
import { fullEnvelope, MINIMAL_JSON } from "./fixtures.js";

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

function invalid(input: Uint8Array | string, message: RegExp): void {
  assert.throws(
    () => decodeEnvelope(input),
    (err: unknown) => {
      assert.ok(err instanceof InvalidEnvelopeError, `${String(err)}`);
      assert.match(err.message, message);
      return true;
    },
  );
}

function tooLarge(action: () => unknown, size: number, limit: number): void {
  assert.throws(action, (err: unknown) => {
    assert.ok(err instanceof EnvelopeTooLargeError, String(err));
    assert.equal(err.code, "E_ENVELOPE_TOO_LARGE");
    assert.equal(err.size, size);
    assert.equal(err.limit, limit);
    return true;
  });
}

describe("encode and decode", () => {
  test("round-trip an envelope through bytes and through a string", () => {
    const env = fullEnvelope();
    const bytes = encodeEnvelope(env);
    assert.ok(bytes instanceof Uint8Array);
    assert.deepEqual(decodeEnvelope(bytes), env);
    assert.deepEqual(decodeEnvelope(new TextDecoder().decode(bytes)), env);
  });

  test("encode writes plain JSON", () => {
    const env = fullEnvelope();
    assert.deepEqual(JSON.parse(new TextDecoder().decode(encodeEnvelope(env))), env);
  });

  test("decode accepts bytes that are a view into a larger buffer", () => {
    const inner = utf8(MINIMAL_JSON);
    const outer = new Uint8Array(inner.length + 20).fill(0x7b);
    outer.set(inner, 10);
    assert.equal(decodeEnvelope(outer.subarray(10, 10 + inner.length)).type, "event.ping");
  });
});

describe("decodeEnvelope rejects bad input with InvalidEnvelopeError", () => {
  test("not JSON", () => {
    invalid("", /not valid JSON/);
    invalid("{", /not valid JSON/);
    invalid("hello", /not valid JSON.*publish one JSON object per message/);
    invalid(`${MINIMAL_JSON}x`, /not valid JSON/);
    invalid("{'id': 1}", /not valid JSON/);
  });

  test("invalid UTF-8", () => {
    const valid = utf8(MINIMAL_JSON);
    for (const bad of [
      [0xff],
      [0xc0, 0xaf], // overlong "/"
      [0xed, 0xa0, 0x80], // an encoded surrogate
      [0xe2, 0x82], // truncated sequence
      [0x80], // lone continuation byte
    ]) {
      const bytes = new Uint8Array([...valid.subarray(0, -1), ...bad, 0x7d]);
      invalid(bytes, /not valid UTF-8/);
    }
  });

  test("a byte order mark, whether as bytes or as text", () => {
    invalid(new Uint8Array([0xef, 0xbb, 0xbf, ...utf8(MINIMAL_JSON)]), /byte order mark/);
    invalid(`\ufeff${MINIMAL_JSON}`, /byte order mark/);
  });

  test("JSON that is not an object", () => {
    for (const text of ["null", "5", '"x"', "[]", "true"]) {
      invalid(text, /the envelope must be a JSON object/);
    }
  });

  test("schema failures, naming each field", () => {
    const base = JSON.parse(MINIMAL_JSON) as Record<string, unknown>;
    invalid(JSON.stringify({ ...base, ts: -1 }), /ts: must be non-negative/);
    invalid(JSON.stringify({ ...base, seq: 1 }), /conv: is required when seq is set/);
    invalid(JSON.stringify({ ...base, extra: true }), /unknown field "extra"/);
    invalid(JSON.stringify({ ...base, headers: { A: "b" } }), /headers: name "A"/);
    invalid(
      JSON.stringify({ ...base, id: "x", from: "" }),
      /id: must be a ULID.*from: must be an agent id/,
    );
  });

  test("values JSON.parse accepts but JSON cannot carry back", () => {
    invalid(MINIMAL_JSON.replace('"body":null', '"body":[1e400]'), /body\[0\] is Infinity/);
    invalid(
      MINIMAL_JSON.replace('"body":null', '"body":{"t":"\\udc00"}'),
      /body\.t is a string with an unpaired/,
    );
    invalid(
      MINIMAL_JSON.replace('"body":null', '"body":"\ud800"'),
      /body is a string with an unpaired/,
    );
    const deep = `${"[".repeat(10_000)}${"]".repeat(10_000)}`;
    invalid(MINIMAL_JSON.replace('"body":null', `"body":${deep}`), /nested deeper than 256/);
  });

  test("a key repeated in one object is refused (readers would disagree on its value)", () => {
    invalid(MINIMAL_JSON.replace('"body":null', '"body":1,"body":2'), /"body" appears twice/);
  });
});

describe("size limit", () => {
  const big = (bytes: number): Envelope => {
    const base = JSON.parse(MINIMAL_JSON) as Envelope;
    const overhead = utf8(JSON.stringify({ ...base, body: "" })).length;
    return { ...base, body: "x".repeat(bytes - overhead) };
  };

  test("defaults to 1 MiB and accepts exactly the limit", () => {
    assert.equal(DEFAULT_MAX_ENVELOPE_BYTES, 1_048_576);
    const atLimit = encodeEnvelope(big(DEFAULT_MAX_ENVELOPE_BYTES));
    assert.equal(atLimit.length, DEFAULT_MAX_ENVELOPE_BYTES);
    assert.ok(decodeEnvelope(atLimit));
  });

  test("encode refuses an envelope over the limit", () => {
    tooLarge(
      () => encodeEnvelope(big(DEFAULT_MAX_ENVELOPE_BYTES + 1)),
      DEFAULT_MAX_ENVELOPE_BYTES + 1,
      DEFAULT_MAX_ENVELOPE_BYTES,
    );
    tooLarge(() => encodeEnvelope(big(101), { maxBytes: 100 }), 101, 100);
  });

  test("decode checks size before anything else", () => {
    const garbage = new Uint8Array(DEFAULT_MAX_ENVELOPE_BYTES + 1).fill(0xff);
    tooLarge(() => decodeEnvelope(garbage), garbage.length, DEFAULT_MAX_ENVELOPE_BYTES);
    tooLarge(() => decodeEnvelope("{".repeat(200), { maxBytes: 100 }), 200, 100);
  });

  test("counts a string's size in UTF-8 bytes", () => {
    const base = JSON.parse(MINIMAL_JSON) as Envelope;
    const text = JSON.stringify({ ...base, body: "€".repeat(100) }); // 3 bytes each
    const size = utf8(text).length;
    assert.ok(decodeEnvelope(text, { maxBytes: size }));
    tooLarge(() => decodeEnvelope(text, { maxBytes: size - 1 }), size, size - 1);
    tooLarge(() => decodeEnvelope(utf8(text), { maxBytes: size - 1 }), size, size - 1);
  });

  test("a bad maxBytes is a ConfigError", () => {
    for (const maxBytes of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => decodeEnvelope(MINIMAL_JSON, { maxBytes }), ConfigError);
      assert.throws(() => encodeEnvelope(fullEnvelope(), { maxBytes }), ConfigError);
    }
  });
});

describe("encodeEnvelope refuses what a receiver would reject", () => {
  test("schema failures", () => {
    const env = { ...fullEnvelope(), ts: -1 };
    assert.throws(() => encodeEnvelope(env), /invalid envelope: ts: must be non-negative/);
    const extra = { ...fullEnvelope(), extra: 1 } as Envelope;
    assert.throws(() => encodeEnvelope(extra), InvalidEnvelopeError);
  });

  test("values JSON.stringify would quietly change", () => {
    const base = fullEnvelope();
    for (const body of [Number.NaN, { a: [undefined] }, { d: new Date(0) }, { f: () => 0 }]) {
      assert.throws(() => encodeEnvelope({ ...base, body }), InvalidEnvelopeError);
    }
    assert.throws(() => encodeEnvelope({ ...base, body: { n: 1n } }), InvalidEnvelopeError);
  });
});
