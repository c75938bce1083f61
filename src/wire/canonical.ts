import { createHash } from "node:crypto";
import { InvalidEnvelopeError } from "../errors/index.js";
import { formatPath, isWellFormed, whyNotJson } from "./json-value.js";

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
  return canonicalText(value, CANONICAL_MAX_DEPTH, false) ?? explainedCanonicalize(value);
}

/** Thrown inside {@link canonicalText} to unwind at the first value it refuses. */
const REFUSED: unique symbol = Symbol("refused");

/**
 * The hot path of {@link canonicalize}: the same text for everything it
 * accepts, but on the first value JSON cannot carry it returns undefined
 * instead of saying where (the caller then takes the slow path, which names
 * the JSON path). No path bookkeeping, one pass.
 *
 * With `strictKeys`, a key that is not well-formed Unicode is refused even
 * when its value is `undefined` (and so omitted): what `assertJsonValue`
 * refuses, so that one pass can both validate an envelope and canonicalise it.
 * `omit` names a top-level member left out of the text (its value is not
 * checked): `sig`, for the text a signature covers.
 *
 * @internal
 */
export function canonicalText(
  value: unknown,
  maxDepth: number,
  strictKeys: boolean,
  omit?: string,
): string | undefined {
  try {
    return writeCanonical(value, 1, maxDepth, strictKeys, omit);
  } catch {
    // REFUSED, or a getter or proxy that threw: the slow path meets it again and reports it.
    return undefined;
  }
}

// A module-level function, not a closure: nothing to allocate per call.
function writeCanonical(
  node: unknown,
  depth: number,
  maxDepth: number,
  strictKeys: boolean,
  omit?: string,
): string {
  switch (typeof node) {
    case "string":
      if (!isWellFormed(node)) throw REFUSED;
      return JSON.stringify(node);
    case "number":
      // For finite numbers this is Number.prototype.toString, as RFC 8785 asks.
      if (!Number.isFinite(node)) throw REFUSED;
      return JSON.stringify(node);
    case "boolean":
      return node ? "true" : "false";
    case "object": {
      if (node === null) return "null";
      if (depth > maxDepth) throw REFUSED;
      if (Array.isArray(node)) {
        let out = "[";
        for (let i = 0; i < node.length; i++) {
          out += (i === 0 ? "" : ",") + writeCanonical(node[i], depth + 1, maxDepth, strictKeys);
        }
        return `${out}]`;
      }
      const proto: unknown = Object.getPrototypeOf(node);
      if (proto !== Object.prototype && proto !== null) throw REFUSED;
      const record = node as Record<string, unknown>;
      const keys = Object.keys(record);
      if (keys.length > 1) keys.sort();
      let out = "{";
      let first = true;
      for (const key of keys) {
        if (key === omit && depth === 1) continue;
        const child = record[key];
        if (child === undefined) {
          if (strictKeys && !isWellFormed(key)) throw REFUSED;
          continue;
        }
        if (!isWellFormed(key)) throw REFUSED;
        out += `${first ? "" : ","}${JSON.stringify(key)}:${writeCanonical(child, depth + 1, maxDepth, strictKeys)}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      throw REFUSED;
  }
}

/**
 * The slow path of {@link canonicalize}: canonicalises while keeping the
 * JSON path, to name what it refuses. The reference the fast path is
 * tested against.
 *
 * @internal
 */
export function explainedCanonicalize(value: unknown): string {
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
 * const text = new TextDecoder().decode(canonicalBytes({ b: 1, a: 2 })); // '{"a":2,"b":1}'
 * ```
 */
export function canonicalBytes(value: unknown): Uint8Array {
  return encoder.encode(canonicalize(value));
}

/**
 * SHA-256 (lower-case hex) over the UTF-8 of {@link canonicalize}`(value)`:
 * how a value is named by its content (proposal hashes, PBFT digests,
 * decision seals), the same for two parties holding the same data.
 *
 * @throws InvalidEnvelopeError as {@link canonicalize} does.
 *
 * @example
 * ```ts
 * sha256Canonical({ b: 1, a: 2 }) === sha256Canonical({ a: 2, b: 1 }); // true
 * ```
 */
export function sha256Canonical(value: unknown): string {
  return createHash("sha256").update(canonicalize(value), "utf8").digest("hex");
}
