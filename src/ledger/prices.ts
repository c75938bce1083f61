import { ConfigError } from "../errors/index.js";

/**
 * Model prices the providers' way: USD per 1M input and output tokens, as
 * decimal strings or numbers (`0.15`), converted once to integer micro-USD so
 * no float ever reaches a money path. Credits per USD is an integer rate.
 */
export interface PriceTableInput {
  /** Identifies this table in every fee entry, so a bill can be reproduced. */
  readonly version: string;
  /** Credits for one USD, e.g. 1,000,000 (a credit is a micro-dollar). */
  readonly creditsPerUsd: number;
  readonly models: Readonly<
    Record<string, { readonly input: number | string; readonly output: number | string }>
  >;
}

export interface PriceTable {
  readonly version: string;
  readonly creditsPerUsd: bigint;
  /** Micro-USD per 1M tokens. */
  readonly models: ReadonlyMap<string, { readonly input: bigint; readonly output: bigint }>;
}

/** Parses a non-negative decimal (at most 6 decimals) into micro-units, exactly. */
export function toMicros(value: number | string, what: string): bigint {
  const text = typeof value === "number" ? numberToDecimal(value) : value.trim();
  const m = /^([0-9]+)(?:\.([0-9]{1,6}))?$/.exec(text);
  if (!m)
    throw new ConfigError(
      `${what}: expected a non-negative decimal with at most 6 decimals, got ${JSON.stringify(value)}`,
    );
  const whole = BigInt(m[1] as string);
  const frac = BigInt(((m[2] ?? "") + "000000").slice(0, 6));
  return whole * 1_000_000n + frac;
}

function numberToDecimal(n: number): string {
  if (!Number.isFinite(n) || n < 0) return String(n);
  // Whole numbers past 1e21 print in exponent form: spelled out exactly.
  if (Number.isInteger(n)) return BigInt(n).toString();
  // The shortest spelling that reads back as `n`: what was typed (0.15 gives
  // "0.15"), so 0.0000004 or 0.1234567 is refused as a string is, not
  // rounded to 6 decimals (a price silently made 0 would bill nothing).
  return String(n);
}

export function createPriceTable(input: PriceTableInput): PriceTable {
  if (!Number.isSafeInteger(input.creditsPerUsd) || input.creditsPerUsd < 1) {
    throw new ConfigError(
      `prices.creditsPerUsd must be a whole number of at least 1, got ${input.creditsPerUsd}`,
    );
  }
  const models = new Map<string, { input: bigint; output: bigint }>();
  for (const [model, p] of Object.entries(input.models)) {
    models.set(model, {
      input: toMicros(p.input, `prices.models.${model}.input`),
      output: toMicros(p.output, `prices.models.${model}.output`),
    });
  }
  return Object.freeze({
    version: input.version,
    creditsPerUsd: BigInt(input.creditsPerUsd),
    models,
  });
}

/**
 * Credits for a call: tokens × price, rounded up to a whole credit (a
 * fraction of a credit is still charged, never given away).
 */
export function tokenCost(
  table: PriceTable,
  model: string,
  usage: { inputTokens: number; outputTokens: number },
): number {
  const price = table.models.get(model);
  if (!price) {
    throw new ConfigError(
      `no price for model "${model}" in price table ${table.version}; add it under prices.models`,
    );
  }
  for (const [name, n] of [
    ["inputTokens", usage.inputTokens],
    ["outputTokens", usage.outputTokens],
  ] as const) {
    if (!Number.isSafeInteger(n) || n < 0)
      throw new ConfigError(`${name} must be a whole number of tokens, got ${n}`);
  }
  const microUsdTimesMillion =
    BigInt(usage.inputTokens) * price.input + BigInt(usage.outputTokens) * price.output;
  // micro-USD per 1M tokens × tokens = micro-USD × 1e6; × credits/USD ÷ 1e12.
  const numerator = microUsdTimesMillion * table.creditsPerUsd;
  const denominator = 1_000_000_000_000n;
  const credits = (numerator + denominator - 1n) / denominator;
  if (credits > BigInt(Number.MAX_SAFE_INTEGER)) throw new ConfigError("token cost out of range");
  return Number(credits);
}
