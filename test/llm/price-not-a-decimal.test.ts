/**
 * A price the price table cannot read (`"$0.15"`, `"abc"`, `"-1"`) used to
 * pass the schema and fail only when a node started (`createPriceTable`),
 * without the file's line; a number with more than 6 decimals (0.0000001)
 * passed both and was silently priced 0, so calls of that model were free.
 * Both are now refused when the file is loaded, at the price's field.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseSwarmConfig } from "../../src/config/index.js";
import { ConfigError } from "../../src/errors/index.js";
import { createPriceTable } from "../../src/ledger/prices.js";

const swarm = (price: string) => `swarm: demo
roles:
  r: { tasks: [t] }
agents:
  - { id: a, role: r }
prices:
  models:
    m: { input: ${price}, output: 1 }
`;

test("a price string that is not a decimal is refused at load, naming the field", () => {
  for (const price of ['"$0.15"', '"abc"', '"-1"', '"1e-3"', '"0.1234567"']) {
    assert.throws(
      () => parseSwarmConfig(swarm(price)),
      (error: unknown) =>
        error instanceof ConfigError &&
        /prices\.models\.m\.input/.test(error.message) &&
        /at most 6 decimals/.test(error.message),
      price,
    );
  }
});

test("a price number finer than a micro-dollar is refused, not priced 0", () => {
  assert.throws(
    () => parseSwarmConfig(swarm("0.0000001")),
    (error: unknown) =>
      error instanceof ConfigError && /prices\.models\.m\.input/.test(error.message),
  );
});

test("what the price table reads still loads and prices as before", () => {
  for (const [price, micros] of [
    ["0.15", 150_000n],
    ['"0.15"', 150_000n],
    ["3", 3_000_000n],
    ['" 0.000001 "', 1n],
    ["0", 0n],
  ] as const) {
    const config = parseSwarmConfig(swarm(price));
    assert.equal(createPriceTable(config.prices).models.get("m")?.input, micros, price);
  }
});
