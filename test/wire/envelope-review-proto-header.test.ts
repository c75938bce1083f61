import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, test } from "node:test";
import { InvalidEnvelopeError } from "../../src/errors/index.js";
import { decodeEnvelope, encodeEnvelope } from "../../src/wire/codec.js";
import { envelopeSchema, parseEnvelope } from "../../src/wire/envelope.js";
import { signEnvelope } from "../../src/wire/signature.js";

const withHeaders = (headers: string): string =>
  `{"id":"01JD0000000000000000000000","type":"event.ping","from":"a","ts":1,"headers":${headers},"body":null}`;

function refusesHeaderName(run: () => unknown): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(err instanceof InvalidEnvelopeError, String(err));
    assert.match(err.message, /headers: name "__proto__" must be 1-128 lower-case letters/);
    return true;
  });
}

describe("a header named __proto__", () => {
  // PROTOCOL.md: header names match ^[a-z0-9-]{1,128}$; "__proto__" does not.
  // JSON.parse makes it an own key, which the schema's record skipped: the
  // envelope was accepted with the header silently dropped.
  test("is refused by decodeEnvelope, not dropped", () => {
    refusesHeaderName(() => decodeEnvelope(withHeaders('{"__proto__":"x"}')));
    refusesHeaderName(() => decodeEnvelope(withHeaders('{"__proto__":{"a":"b"}}')));
    refusesHeaderName(() => decodeEnvelope(withHeaders('{"traceparent":"t","__proto__":"x"}')));
  });

  test("is refused by parseEnvelope and the exported schema", () => {
    const value = JSON.parse(withHeaders('{"__proto__":"x"}'));
    refusesHeaderName(() => parseEnvelope(value));
    assert.equal(envelopeSchema.safeParse(value).success, false);
  });

  test("is not sent signed, for every receiver to refuse as forged", () => {
    const { privateKey } = generateKeyPairSync("ed25519");
    const signed = signEnvelope(JSON.parse(withHeaders('{"__proto__":"x"}')), privateKey);
    refusesHeaderName(() => encodeEnvelope(signed));
  });

  test("lower-case names such as constructor still pass", () => {
    const decoded = decodeEnvelope(withHeaders('{"constructor":"x","proto":"y"}'));
    assert.deepEqual(decoded.headers, { constructor: "x", proto: "y" });
  });
});
