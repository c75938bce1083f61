import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidEnvelopeError } from "../../src/errors/index.js";
import { decodeEnvelope } from "../../src/wire/codec.js";

const envelope = (fields: string): string =>
  `{"id":"01JD0000000000000000000000","type":"event.ping","from":"a",${fields},"body":null}`;

function refused(text: string, message: RegExp): void {
  assert.throws(
    () => decodeEnvelope(text),
    (err: unknown) => {
      assert.ok(err instanceof InvalidEnvelopeError, String(err));
      assert.match(err.message, message);
      return true;
    },
  );
}

describe("an integer field beyond 2^53 - 1", () => {
  // A client that writes its clock in nanoseconds (Go's UnixNano) sends an
  // integer; being told it "must be an integer" sent its author looking for
  // a fraction. The message now says what the bound is, and what likely went wrong.
  test("ts in nanoseconds is refused as too large, not as not an integer", () => {
    const text = envelope('"ts":1732200000000000000');
    refused(text, /ts: must be at most 2\^53 - 1 \(9007199254740991\)/);
    refused(text, /microseconds or nanoseconds/);
    assert.throws(
      () => decodeEnvelope(text),
      (err: Error) => !/must be an integer/.test(err.message),
    );
  });

  test("deadline likewise", () => {
    refused(
      envelope('"ts":1,"deadline":1732200000000000000'),
      /deadline: must be at most 2\^53 - 1/,
    );
  });

  test("seq and attempt name the bound too", () => {
    refused(envelope('"ts":1,"conv":"c","seq":9007199254740992'), /seq: must be at most 2\^53 - 1/);
    refused(envelope('"ts":1,"attempt":1e300'), /attempt: must be at most 2\^53 - 1/);
  });

  test("a fraction or a string is still 'must be an integer'", () => {
    refused(envelope('"ts":1.5'), /ts: must be an integer/);
    refused(envelope('"ts":"1"'), /ts: must be an integer/);
    refused(envelope('"ts":1,"conv":"c","seq":0.5'), /seq: must be an integer/);
  });
});
