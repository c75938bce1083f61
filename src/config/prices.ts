// The `prices:` section of a swarm file: model prices in USD per 1M tokens,
// converted to integer credits, with a version recorded beside every fee.
import { z } from "zod";
import { expecting, integer } from "./fields.js";

/** Model prices as written in the swarm file. */
export interface PricesConfig {
  readonly version: string;
  readonly creditsPerUsd: number;
  readonly models: Readonly<
    Record<string, { readonly input: number | string; readonly output: number | string }>
  >;
}

// What `toMicros` (src/ledger/prices.ts) reads, checked here so a price it
// cannot read is refused at its line when the file loads, not when a node
// starts; and a number finer than a micro-dollar, which it would round
// away (to 0: free calls), is refused rather than rounded.
const DECIMAL = "USD per 1M tokens as a non-negative decimal with at most 6 decimals, e.g. 0.15";
const priceValue = z
  .union([z.number().nonnegative(), z.string()], { error: expecting(DECIMAL) })
  .refine(
    (value) =>
      typeof value === "string"
        ? /^[0-9]+(\.[0-9]{1,6})?$/.test(value.trim())
        : Number.isFinite(value) &&
          value >= 0 &&
          value < 1e15 &&
          Number(value.toFixed(6)) === value,
    { error: expecting(DECIMAL) },
  );

const priceSchema = z.strictObject({
  input: priceValue.describe("USD per 1M input tokens."),
  output: priceValue.describe("USD per 1M output tokens."),
});

/** The section as written. */
export const pricesSchema = z
  .strictObject({
    version: z
      .string()
      .min(1)
      .default("1")
      .describe("Recorded with every fee, so a bill can be reproduced."),
    creditsPerUsd: integer(1, 1_000_000_000_000)
      .default(1_000_000)
      .describe("Credits for one USD; the default makes a credit one micro-dollar."),
    models: z.record(z.string().min(1), priceSchema).default({}).describe("Prices by model name."),
  })
  .describe(
    "Model prices (USD per 1M tokens, the providers' convention), converted to integer credits.",
  );
