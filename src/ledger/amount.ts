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
    n = fromBig(value, value);
  } else if (typeof value === "string" && /^[0-9]+$/.test(value.trim())) {
    n = fromBig(BigInt(value.trim()), value);
  } else {
    throw new InvalidAmountError(value, notDigits(value));
  }
  if (!Number.isFinite(n)) throw new InvalidAmountError(value, "not finite");
  if (!Number.isInteger(n)) throw new InvalidAmountError(value, "fractional credits do not exist");
  if (n < 1) throw new InvalidAmountError(value, n === 0 ? "zero moves nothing" : "negative");
  if (!Number.isSafeInteger(n)) throw new InvalidAmountError(value, "out of range");
  return n;
}

/** A bigint amount (or a string of digits read as one) as a number, with the reason it is refused. */
function fromBig(big: bigint, value: unknown): number {
  if (big === 0n) throw new InvalidAmountError(value, "zero moves nothing");
  if (big < 0n) throw new InvalidAmountError(value, "negative");
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidAmountError(value, "out of range");
  return Number(big);
}

/** Why a value that is neither a number, a bigint nor a string of digits is not an amount. */
function notDigits(value: unknown): string {
  if (typeof value !== "string") return `a ${typeof value}, not a whole number`;
  const text = value.trim();
  if (/^-[0-9]+(?:\.[0-9]*)?$/.test(text))
    return Number(text) === 0 ? "zero moves nothing" : "negative";
  if (/^[0-9]*\.[0-9]+$|^[0-9]+\.$/.test(text)) return "fractional credits do not exist";
  if (/^[0-9]+(?:[,_' ][0-9]+)+$/.test(text)) return "write the digits alone, without separators";
  return "not a whole number; write digits only, e.g. 250";
}

/** a + b, refusing to leave the range of exact integers. */
export function addExact(a: number, b: number): number | undefined {
  const sum = a + b;
  return Number.isSafeInteger(sum) ? sum : undefined;
}
