import { InvalidAmountError } from "./errors.js";

/**
 * Credits are whole numbers: never a float in a money path. An amount is an
 * integer from 1 to Number.MAX_SAFE_INTEGER; strings of digits and bigints in
 * range are accepted and converted.
 *
 * @example
 * ```ts
 * parseAmount("250"); // 250
 * parseAmount(2.5);   // throws InvalidAmountError
 * ```
 */
export function parseAmount(value: unknown): number {
  let n: number;
  if (typeof value === "number") {
    n = value;
  } else if (typeof value === "bigint") {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < 1n) {
      throw new InvalidAmountError(value, "out of range");
    }
    n = Number(value);
  } else if (typeof value === "string" && /^[0-9]+$/.test(value.trim())) {
    const big = BigInt(value.trim());
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidAmountError(value, "out of range");
    n = Number(big);
  } else {
    throw new InvalidAmountError(value, "not a whole number");
  }
  if (!Number.isFinite(n)) throw new InvalidAmountError(value, "not finite");
  if (!Number.isInteger(n)) throw new InvalidAmountError(value, "fractional credits do not exist");
  if (n < 1) throw new InvalidAmountError(value, n === 0 ? "zero moves nothing" : "negative");
  if (!Number.isSafeInteger(n)) throw new InvalidAmountError(value, "out of range");
  return n;
}

/** a + b, refusing to leave the range of exact integers. */
export function addExact(a: number, b: number): number | undefined {
  const sum = a + b;
  return Number.isSafeInteger(sum) ? sum : undefined;
}
