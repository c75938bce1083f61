import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { InvalidEnvelopeError } from "../../src/errors/index.js";
import { CANONICAL_MAX_DEPTH, canonicalBytes, canonicalize } from "../../src/wire/canonical.js";

/** The IEEE 754 double with the given 64-bit pattern. */
function double(hex: string): number {
  return Buffer.from(hex, "hex").readDoubleBE(0);
}

describe("canonicalize: RFC 8785 examples", () => {
  test("section 3.2.2: whitespace, numbers, string escapes, literals", () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
        '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",' +
        '"literals": [null, true, false]}',
    );
    assert.equal(
      canonicalize(input),
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  test("section 3.2.3: keys sorted by UTF-16 code units, including non-ASCII", () => {
    const input = {
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis",
    };
    // By code point U+FB33 would precede U+1F600; by UTF-16 code unit it follows 0xD83D.
    assert.equal(
      canonicalize(input),
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  test("appendix B: number serialisation", () => {
    const table: [string, string][] = [
      ["0000000000000000", "0"],
      ["8000000000000000", "0"],
      ["0000000000000001", "5e-324"],
      ["8000000000000001", "-5e-324"],
      ["7fefffffffffffff", "1.7976931348623157e+308"],
      ["ffefffffffffffff", "-1.7976931348623157e+308"],
      ["4340000000000000", "9007199254740992"],
      ["c340000000000000", "-9007199254740992"],
      ["4430000000000000", "295147905179352830000"],
      ["44b52d02c7e14af5", "9.999999999999997e+22"],
      ["44b52d02c7e14af6", "1e+23"],
      ["44b52d02c7e14af7", "1.0000000000000001e+23"],
      ["444b1ae4d6e2ef4e", "999999999999999700000"],
      ["444b1ae4d6e2ef4f", "999999999999999900000"],
      ["444b1ae4d6e2ef50", "1e+21"],
      ["3eb0c6f7a0b5ed8c", "9.999999999999997e-7"],
      ["3eb0c6f7a0b5ed8d", "0.000001"],
      ["41b3de4355555553", "333333333.3333332"],
      ["41b3de4355555554", "333333333.33333325"],
      ["41b3de4355555555", "333333333.3333333"],
      ["41b3de4355555556", "333333333.3333334"],
      ["41b3de4355555557", "333333333.33333343"],
      ["becbf647612f3696", "-0.0000033333333333333333"],
      ["43143ff3c1cb0959", "1424953923781206.2"],
    ];
    for (const [bits, expected] of table) {
      assert.equal(canonicalize(double(bits)), expected, bits);
    }
    for (const bits of ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"]) {
      assert.throws(() => canonicalize(double(bits)), InvalidEnvelopeError, bits);
    }
  });

  test("familiar numbers", () => {
    assert.equal(
      canonicalize([1e21, 0.000001, 1e-7, -0, 0.1, 100, 1.5]),
      "[1e+21,0.000001,1e-7,0,0.1,100,1.5]",
    );
  });

  test("strings are escaped minimally: quote, backslash and C0 controls only", () => {
    assert.equal(
      canonicalize("\u0000\u0007\b\t\n\f\r\u001f"),
      '"\\u0000\\u0007\\b\\t\\n\\f\\r\\u001f"',
    );
    assert.equal(canonicalize('"\\/'), '"\\"\\\\/"');
    assert.equal(canonicalize("\u007f é € 😀 \u2028"), '"\u007f é € 😀 \u2028"');
  });
});

describe("canonicalize: what JSON can carry", () => {
  test("drops object properties that are undefined, like JSON.stringify", () => {
    assert.equal(canonicalize({ b: 1, a: undefined, c: { d: undefined } }), '{"b":1,"c":{}}');
  });

  test("accepts objects without a prototype", () => {
    const bare = Object.create(null) as Record<string, unknown>;
    bare["z"] = 1;
    bare["a"] = [true];
    assert.equal(canonicalize(bare), '{"a":[true],"z":1}');
  });

  test("refuses what JSON cannot carry unchanged, naming the path", () => {
    const cycle: Record<string, unknown> = {};
    cycle["self"] = cycle;
    class Point {
      x = 1;
    }
    const cases: [unknown, RegExp][] = [
      [undefined, /\$ is undefined/],
      [{ a: [1, undefined] }, /\$\.a\[1\] is undefined/],
      [{ a: Number.NaN }, /\$\.a is NaN/],
      [{ a: { b: Number.POSITIVE_INFINITY } }, /\$\.a\.b is Infinity/],
      [[Number.NEGATIVE_INFINITY], /\$\[0\] is -Infinity/],
      [{ n: 10n }, /\$\.n is a bigint/],
      [{ f: () => 1 }, /\$\.f is a function/],
      [{ s: Symbol("x") }, /\$\.s is a symbol/],
      [{ when: new Date(0) }, /\$\.when is a Date/],
      [{ m: new Map() }, /\$\.m is a Map/],
      [{ p: new Point() }, /\$\.p is a Point/],
      [{ bytes: new Uint8Array(2) }, /\$\.bytes is a Uint8Array/],
      [{ "a.b": "\ud800" }, /\$\["a\.b"\] is a string with an unpaired/],
      [{ ["\udc00"]: 1 }, /a key that is a string with an unpaired/],
      [cycle, /nested deeper than 1000 levels \(is there a cycle\?\)/],
    ];
    for (const [value, message] of cases) {
      assert.throws(
        () => canonicalize(value),
        (err: unknown) => {
          assert.ok(err instanceof InvalidEnvelopeError, String(err));
          assert.match(err.message, message);
          return true;
        },
      );
    }
  });

  test("allows nesting up to CANONICAL_MAX_DEPTH", () => {
    const nest = (depth: number): unknown => {
      let value: unknown = [];
      for (let i = 1; i < depth; i++) value = [value];
      return value;
    };
    assert.equal(canonicalize(nest(CANONICAL_MAX_DEPTH)).length, CANONICAL_MAX_DEPTH * 2);
    assert.throws(() => canonicalize(nest(CANONICAL_MAX_DEPTH + 1)), InvalidEnvelopeError);
  });

  test("canonicalBytes is the UTF-8 of the canonical text", () => {
    assert.deepEqual(Buffer.from(canonicalBytes({ "€": "😀" })), Buffer.from('{"€":"😀"}', "utf8"));
  });
});

describe("canonicalize: properties", () => {
  test("is idempotent and ignores key order", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalize(value);
        assert.equal(canonicalize(JSON.parse(text)), text);
        assert.equal(canonicalize(reverseKeys(value)), text);
      }),
      { numRuns: 1000 },
    );
  });

  test("parses back to the same data as JSON.stringify writes", () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: "grapheme" }), (value) => {
        assert.deepEqual(JSON.parse(canonicalize(value)), JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 500 },
    );
  });
});

function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).reverse()) {
    // defineProperty, because assigning "__proto__" would set the prototype instead.
    Object.defineProperty(out, key, {
      value: reverseKeys((value as Record<string, unknown>)[key]),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
