import { InvalidEnvelopeError } from "../errors/index.js";
import { formatPath, whyNotJson } from "./json-value.js";

/**
 * Deepest nesting `canonicalize` accepts. Higher than an envelope's own limit
 * so that documents wrapping envelopes (decision seals) still fit, low enough
 * that recursion can never exhaust the stack.
 */
export const CANONICAL_MAX_DEPTH = 1000;

const encoder = new TextEncoder();

/**
 * Serialises `value` as RFC 8785 JSON Canonicalization Scheme (JCS) text: no
 * whitespace, object keys sorted by their UTF-16 code units, numbers written
 * the ECMAScript way (`1e+21`, `1e-7`, `0.000001`, `-0` as `0`), strings
 * escaped minimally. Two parties holding the same data get the same text, so
 * it can be hashed and signed.
 *
 * Object properties whose value is `undefined` are omitted (as with
 * `JSON.stringify`), so optional fields may be left undefined. Anything JSON
 * cannot carry unchanged is refused instead of being coerced: NaN, ±Infinity,
 * bigint, functions, symbols, `undefined` at the top level or in an array,
 * strings with unpaired surrogates, Dates, Maps and other class instances,
 * cycles, and nesting deeper than {@link CANONICAL_MAX_DEPTH}.
 *
 * @throws InvalidEnvelopeError naming the JSON path (`$.body.items[2]`) of
 *   the first value that cannot be canonicalised.
 *
 * @example
 * ```ts
 * canonicalize({ b: [1e21, 0.1], a: "€" }); // '{"a":"€","b":[1e+21,0.1]}'
 * ```
 */
export function canonicalize(value: unknown): string {
  const path: (string | number)[] = [];
  const fail = (reason: string): never => {
    throw new InvalidEnvelopeError(`cannot canonicalise: ${formatPath("$", path)} is ${reason}`);
  };
  const write = (node: unknown, depth: number): string => {
    const reason = whyNotJson(node);
    if (reason !== undefined) fail(reason);
    if (typeof node !== "object" || node === null) {
      // JSON.stringify of a finite number is ECMAScript Number.prototype.toString,
      // which is exactly what RFC 8785 section 3.2.2.3 prescribes; its string
      // escaping is the minimal one of section 3.2.2.2.
      return JSON.stringify(node);
    }
    if (depth > CANONICAL_MAX_DEPTH) {
      fail(`nested deeper than ${CANONICAL_MAX_DEPTH} levels (is there a cycle?)`);
    }
    if (Array.isArray(node)) {
      let out = "[";
      for (let i = 0; i < node.length; i++) {
        path.push(i);
        out += (i === 0 ? "" : ",") + write(node[i], depth + 1);
        path.pop();
      }
      return `${out}]`;
    }
    const record = node as Record<string, unknown>;
    // The default sort compares UTF-16 code units, which is the order RFC 8785 asks for.
    const keys = Object.keys(record).sort();
    let out = "{";
    let first = true;
    for (const key of keys) {
      const child = record[key];
      if (child === undefined) continue;
      path.push(key);
      const keyReason = whyNotJson(key);
      if (keyReason !== undefined) fail(`a key that is ${keyReason}`);
      out += `${first ? "" : ","}${JSON.stringify(key)}:${write(child, depth + 1)}`;
      first = false;
      path.pop();
    }
    return `${out}}`;
  };
  return write(value, 1);
}

/**
 * The UTF-8 bytes of {@link canonicalize}`(value)`: what gets hashed or signed.
 *
 * @example
 * ```ts
 * createHash("sha256").update(canonicalBytes(decision)).digest("hex");
 * ```
 */
export function canonicalBytes(value: unknown): Uint8Array {
  return encoder.encode(canonicalize(value));
}
