import assert from "node:assert/strict";
import { test } from "node:test";
import { InvalidEnvelopeError } from "../../src/errors/index.js";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import { decodeEnvelope, encodeEnvelope } from "../../src/wire/codec.js";
import { duplicateKey } from "../../src/wire/duplicate-keys.js";
import { createEnvelope } from "../../src/wire/envelope.js";
import { signEnvelope } from "../../src/wire/signature.js";

const check = (text: string) => duplicateKey(text, JSON.parse(text));

test("repeated keys are found at any depth, and only within one object", () => {
  assert.equal(check('{"a":1,"a":2}'), "a");
  assert.equal(check('{"x":{"b":1,"c":{"d":1},"b":2}}'), "b");
  assert.equal(check('[{"a":1},{"a":2}]'), undefined, "the same key in two objects");
  assert.equal(check('{"a":{"a":1}}'), undefined, "the same key at two depths");
  assert.equal(check('{"a":"x\\":","b":"\\":"}'), undefined, "values that look like keys");
  assert.equal(check('{"k\\u0065y":1,"key":2}'), "key", "escapes decoded before comparing");
  assert.equal(check('{ "a" : 1 , "b":[1,{"a":2}] }'), undefined);
});

test("an envelope repeating a key is refused with InvalidEnvelopeError, whatever was signed", () => {
  const keys = generateAgentKeyPair();
  const signed = signEnvelope(
    createEnvelope({ type: "task.code", from: "dev-1", body: { n: 1 } }),
    keys.privateKey,
  );
  const text = new TextDecoder().decode(encodeEnvelope(signed));
  // A reader taking the first "body" and one taking the last would act differently.
  const forged = text.replace('"body":{"n":1}', '"body":{"n":1},"body":{"n":2}');
  assert.notEqual(forged, text);
  assert.throws(
    () => decodeEnvelope(forged),
    (e: unknown) => e instanceof InvalidEnvelopeError && /"body" appears twice/.test(e.message),
  );
  assert.equal(decodeEnvelope(text).id, signed.id, "the untouched envelope decodes");
});
