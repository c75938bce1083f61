// The `prices:` section of a swarm file: model prices in USD per 1M tokens,
// converted to integer credits, with a version recorded beside every fee.
import { z } from "zod";
import { integer } from "./fields.js";

/** Model prices as written in the swarm file. */
export interface PricesConfig {
  readonly version: string;
  readonly creditsPerUsd: number;
  readonly models: Readonly<
    Record<string, { readonly input: number | string; readonly output: number | string }>
  >;
}

const priceSchema = z.strictObject({
  input: z.union([z.number().nonnegative(), z.string()]).describe("USD per 1M input tokens."),
  output: z.union([z.number().nonnegative(), z.string()]).describe("USD per 1M output tokens."),
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
