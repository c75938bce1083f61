import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { z } from "zod";
import { ManualClock } from "../../src/core/clock.js";
import { seededRandom } from "../../src/core/random.js";
import { InvalidEnvelopeError } from "../../src/errors/index.js";
import {
  createEnvelope,
  ENVELOPE_MAX_DEPTH,
  type Envelope,
  type envelopeSchema,
  parseEnvelope,
} from "../../src/wire/envelope.js";
import { ulidTime } from "../../src/wire/ulid.js";
import { FIXED_TS, fullEnvelope, MINIMAL_JSON } from "./fixtures.js";

// The hand-written interface and the schema must describe the same thing.
type Inferred = z.infer<typeof envelopeSchema>;
const inferredIsEnvelope = (e: Inferred): Envelope => e;
const envelopeIsInferred = (e: Envelope): Inferred => e;
void inferredIsEnvelope;
void envelopeIsInferred;

const minimal = (): Record<string, unknown> => JSON.parse(MINIMAL_JSON);

/** Asserts that `value` is rejected and the message names `field`. */
function rejects(value: unknown, field: RegExp): void {
  assert.throws(
    () => parseEnvelope(value),
    (err: unknown) => {
      assert.ok(err instanceof InvalidEnvelopeError, String(err));
      assert.equal(err.code, "E_INVALID_ENVELOPE");
      assert.match(err.message, field);
      return true;
    },
    `expected rejection naming ${field}: ${JSON.stringify(value)?.slice(0, 200)}`,
  );
}

describe("createEnvelope", () => {
  test("fills id and ts from the clock and keeps the given fields", () => {
    const clock = new ManualClock(FIXED_TS);
    const env = createEnvelope(
      { type: "task.code_review", from: "lead", body: { pr: 42 } },
      { clock, random: seededRandom(1) },
    );
    assert.equal(env.ts, FIXED_TS);
    assert.equal(ulidTime(env.id), FIXED_TS);
    assert.deepEqual(env.body, { pr: 42 });
    assert.deepEqual(Object.keys(env), ["id", "type", "from", "ts", "body"]);
  });

  test("drops fields left undefined", () => {
    const env = createEnvelope({ type: "event.ping", from: "a", to: undefined, body: null });
    assert.equal("to" in env, false);
  });

  test("gives increasing ids on a frozen clock", () => {
    const clock = new ManualClock(FIXED_TS);
    const random = seededRandom(5);
    const a = createEnvelope({ type: "event.ping", from: "a", body: 1 }, { clock, random });
    const b = createEnvelope({ type: "event.ping", from: "a", body: 2 }, { clock, random });
    assert.ok(a.id < b.id);
  });

  test("validates, naming the bad field", () => {
    assert.throws(
      () => createEnvelope({ type: "Task.Review", from: "lead", body: null }),
      /invalid envelope: type: must be dot-separated lower-case tokens/,
    );
    assert.throws(
      () => createEnvelope({ type: "task.x", from: "a", body: { at: new Date() } }),
      /body\.at is a Date/,
    );
    assert.throws(
      () => createEnvelope({ type: "task.x", from: "a", body: undefined }),
      /body: is required \(use null for an empty body\)/,
    );
  });
});

describe("envelope schema", () => {
  test("accepts a minimal and a full envelope", () => {
    assert.deepEqual(parseEnvelope(minimal()), minimal());
    const full = fullEnvelope();
    assert.deepEqual(parseEnvelope(full), full);
  });

  test("accepts any JSON body, null included", () => {
    for (const body of [null, 0, "", false, [], {}, [1, "two", { three: [null] }]]) {
      assert.deepEqual(parseEnvelope({ ...minimal(), body }).body, body);
    }
  });

  test("rejects unknown top-level fields by name", () => {
    rejects({ ...minimal(), priority: 1 }, /unknown field "priority"/);
  });

  test("rejects a value that is not an object", () => {
    for (const value of [null, 5, "x", [], true]) {
      rejects(value, /the envelope must be a JSON object/);
    }
  });

  test("requires id, type, from, ts and body", () => {
    for (const field of ["id", "type", "from", "ts", "body"]) {
      const value = minimal();
      delete value[field];
      rejects(value, new RegExp(`${field}: is required`));
    }
  });

  const invalid: [string, unknown, RegExp][] = [
    ["id", "01jd0000000000000000000000", /id: must be a ULID/],
    ["id", "not-a-ulid", /id: must be a ULID/],
    ["id", 1, /id: must be a string/],
    ["type", "Task", /type: must be dot-separated/],
    ["type", "task..x", /type: must be dot-separated/],
    ["type", ".task", /type: must be dot-separated/],
    ["type", "task.", /type: must be dot-separated/],
    ["type", "task x", /type: must be dot-separated/],
    ["type", "a".repeat(257), /type: must be at most 256 characters/],
    ["from", "a b", /from: must be an agent id/],
    ["from", "", /from: must be an agent id/],
    ["from", "a".repeat(129), /from: must be an agent id/],
    ["to", "ü", /to: must be an agent id/],
    ["ts", -1, /ts: must be non-negative/],
    ["ts", 1.5, /ts: must be an integer/],
    ["ts", 2 ** 53, /ts: /],
    ["ts", "1", /ts: must be an integer/],
    ["deadline", -5, /deadline: must be non-negative/],
    ["corr", "", /corr: must be 1-128 printable ASCII/],
    ["corr", "x".repeat(129), /corr: must be 1-128 printable ASCII/],
    ["cause", "line\nbreak", /cause: must be 1-128 printable ASCII/],
    ["attempt", 0, /attempt: must be at least 1/],
    ["attempt", 1.5, /attempt: must be an integer/],
    ["headers", [], /headers: must be an object of string values/],
    ["headers", { Traceparent: "x" }, /headers: name "Traceparent" must be/],
    ["headers", { traceparent: 1 }, /headers\.traceparent: must be a string/],
    ["headers", { traceparent: "a\r\nb" }, /headers\.traceparent: must be at most 8192 printable/],
    ["sig", "A".repeat(85), /sig: must be an Ed25519 signature/],
    ["sig", `${"A".repeat(84)}==`, /sig: must be an Ed25519 signature/],
    ["sig", `${"A".repeat(85)}B`, /sig: must be an Ed25519 signature/],
  ];
  for (const [field, value, message] of invalid) {
    test(`rejects ${field} = ${JSON.stringify(value).slice(0, 30)}`, () => {
      rejects({ ...minimal(), [field]: value }, message);
    });
  }

  test("requires conv and seq together", () => {
    rejects({ ...minimal(), seq: 0 }, /conv: is required when seq is set/);
    rejects({ ...minimal(), conv: "c" }, /seq: is required when conv is set/);
    assert.equal(parseEnvelope({ ...minimal(), conv: "c", seq: 0 }).seq, 0);
  });

  test("accepts a canonical signature spelling", () => {
    assert.ok(parseEnvelope({ ...minimal(), sig: `${"A".repeat(85)}w` }).sig);
  });

  test("limits nesting to ENVELOPE_MAX_DEPTH", () => {
    const nest = (depth: number): unknown => {
      let value: unknown = null;
      for (let i = 0; i < depth; i++) value = [value];
      return value;
    };
    // The envelope is level 1, so the body may add ENVELOPE_MAX_DEPTH - 1 levels.
    assert.ok(parseEnvelope({ ...minimal(), body: nest(ENVELOPE_MAX_DEPTH - 1) }));
    rejects({ ...minimal(), body: nest(ENVELOPE_MAX_DEPTH) }, /nested deeper than 256/);
  });

  test("rejects unpaired surrogates anywhere", () => {
    rejects({ ...minimal(), body: { text: "\ud83d" } }, /body\.text is a string with an unpaired/);
    rejects({ ...minimal(), body: { "\ude00": 1 } }, /key with an unpaired/);
  });

  test("lists at most five problems", () => {
    const err = (() => {
      try {
        parseEnvelope({ id: 1, type: 2, from: 3, ts: "x", to: 4, corr: 5, body: null });
      } catch (e) {
        return e as Error;
      }
      return new Error("not thrown");
    })();
    assert.match(err.message, /and 1 more/);
  });
});
