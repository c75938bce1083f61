/**
 * An amount refused says what is wrong with it, the same way whatever its
 * type: `"-5"` is negative (not "not a whole number"), `"2.5"` fractional,
 * `0n` zero (not "out of range"), `"1,000"` has separators.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidAmountError, parseAmount } from "../../src/ledger/index.js";

function reason(value: unknown): string {
  try {
    parseAmount(value);
  } catch (error) {
    assert.ok(error instanceof InvalidAmountError, String(error));
    return error.message;
  }
  assert.fail(`accepted ${String(value)}`);
}

describe("ledger review: why an amount is refused", () => {
  test("negative, zero and fractional amounts say so whether number, bigint or string", () => {
    for (const value of [-5, -5n, "-5", " -5 ", "-2.5"]) {
      assert.match(reason(value), /: negative;/, String(value));
    }
    for (const value of [0, 0n, "0", "000", "-0"]) {
      assert.match(reason(value), /: zero moves nothing;/, String(value));
    }
    for (const value of [2.5, "2.5", ".5", "2."]) {
      assert.match(reason(value), /: fractional credits do not exist;/, String(value));
    }
  });

  test("separators and other spellings are told to write digits only", () => {
    for (const value of ["1,000", "1_000", "1 000"]) {
      assert.match(reason(value), /without separators/, value);
    }
    for (const value of ["1e3", "0x10", "", "ten"]) {
      assert.match(reason(value), /write digits only, e\.g\. 250/, value);
    }
    assert.match(reason(2n ** 60n), /: out of range;/);
    assert.match(reason("9".repeat(20)), /: out of range;/);
    assert.equal(parseAmount(" 250 "), 250);
    assert.equal(parseAmount(250n), 250);
  });
});
