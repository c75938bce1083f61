/**
 * `createPriceTable` is the library's own entry (a program may build a
 * table without a swarm file): a price number finer than a micro-dollar is
 * refused there as its string spelling is, never rounded (to 0: free calls).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError } from "../../src/errors/index.js";
import { createPriceTable, tokenCost, toMicros } from "../../src/ledger/index.js";

describe("ledger review: price numbers", () => {
  test("a number with more than 6 decimals is a ConfigError naming the field, like its string", () => {
    for (const price of [0.0000004, 2.5e-7, 0.1234567, 3.0000004, 0.0000015]) {
      for (const value of [price, String(price)]) {
        assert.throws(
          () =>
            createPriceTable({
              version: "v1",
              creditsPerUsd: 1_000_000,
              models: { m: { input: value, output: 1 } },
            }),
          (error: unknown) =>
            error instanceof ConfigError &&
            /prices\.models\.m\.input/.test(error.message) &&
            /at most 6 decimals/.test(error.message),
          String(value),
        );
      }
    }
  });

  test("numbers with at most 6 decimals convert exactly, as before", () => {
    for (const [price, micros] of [
      [0.15, 150_000n],
      [0.000001, 1n],
      [2.5, 2_500_000n],
      [0, 0n],
      [100, 100_000_000n],
      [1e21, 10n ** 27n],
    ] as const) {
      assert.equal(toMicros(price, "p"), micros, String(price));
    }
    const table = createPriceTable({
      version: "v1",
      creditsPerUsd: 1_000_000,
      models: { m: { input: 0.15, output: 0.6 } },
    });
    // 1M input tokens at $0.15 and 1M output at $0.60: 750,000 micro-dollars.
    assert.equal(
      tokenCost(table, "m", { inputTokens: 1_000_000, outputTokens: 1_000_000 }),
      750_000,
    );
  });
});
