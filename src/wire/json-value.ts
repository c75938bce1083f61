import { InvalidEnvelopeError } from "../errors/index.js";

/** A value that JSON can carry unchanged: what an envelope body may hold. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/** Matches a lone surrogate; a paired one is a single code point under the `u` flag. */
const LONE_SURROGATE = /\p{Surrogate}/u;

type WellFormedCheck = { isWellFormed(): boolean };

/** Native `isWellFormed` (ES2024) is several times faster than the regular expression. @internal */
export const isWellFormed: (text: string) => boolean =
  typeof (String.prototype as Partial<WellFormedCheck>).isWellFormed === "function"
    ? (text) => (text as unknown as WellFormedCheck).isWellFormed()
    : (text) => !LONE_SURROGATE.test(text);

const PLAIN_KEY = /^[A-Za-z_$][\w$]*$/;

/**
 * Why `value` cannot appear in JSON as itself, or `undefined` if it can
 * (containers are judged by their kind only, not their contents). Values that
 * `JSON.stringify` would quietly change (NaN to null, a Date to a string, a
 * Map to `{}`) are refused here so that what is signed is what is sent.
 */
export function whyNotJson(value: unknown): string | undefined {
  switch (typeof value) {
    case "string":
      return !isWellFormed(value)
        ? "a string with an unpaired UTF-16 surrogate, which is not valid Unicode (RFC 7493 I-JSON)"
        : undefined;
    case "number":
      return Number.isFinite(value) ? undefined : `${value}, which JSON cannot represent`;
    case "boolean":
      return undefined;
    case "object": {
      if (value === null || Array.isArray(value)) return undefined;
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto === Object.prototype || proto === null) return undefined;
      const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
      return `a ${typeof name === "string" && name !== "" ? name : "non-plain object"}, not plain JSON data; convert it first (a Date with toISOString(), a Map with Object.fromEntries())`;
    }
    case "undefined":
      return "undefined, which JSON cannot represent; use null";
    default:
      return `a ${typeof value}, which JSON cannot represent`;
  }
}

/** `body.items[3]["a.b"]`: readable, and unambiguous for keys with dots in them. */
export function formatPath(root: string, segments: readonly (string | number)[]): string {
  let out = root;
  for (const segment of segments) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out === "" ? "(the envelope itself)" : out;
}

/** Options of {@link assertJsonValue}. */
export interface JsonCheckOptions {
  /** Deepest allowed nesting of objects and arrays; the value itself is depth 1. */
  readonly maxDepth: number;
  /** Prefix of paths in messages, e.g. `"$"`; `""` names fields bare. */
  readonly root: string;
}

/**
 * Checks that `value` is plain JSON data (see {@link whyNotJson}) nested no
 * deeper than `maxDepth`. Object properties whose value is `undefined` are
 * allowed: they are omitted when serialised, as `JSON.stringify` does.
 *
 * @throws InvalidEnvelopeError naming the path of the first offending value.
 */
export function assertJsonValue(value: unknown, options: JsonCheckOptions): void {
  visitJson(value, 1, options, []);
}

// A module-level function, not closures: nothing to allocate per call.
function visitJson(
  node: unknown,
  depth: number,
  options: JsonCheckOptions,
  path: (string | number)[],
): void {
  const reason = whyNotJson(node);
  if (reason !== undefined) failJson(options, path, reason);
  if (typeof node !== "object" || node === null) return;
  if (depth > options.maxDepth) {
    failJson(
      options,
      path,
      `nested deeper than ${options.maxDepth} levels of objects and arrays (is there a cycle?)`,
    );
  }
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      path.push(i);
      visitJson(node[i], depth + 1, options, path);
      path.pop();
    }
    return;
  }
  const record = node as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    path.push(key);
    if (!isWellFormed(key)) failJson(options, path, "a key with an unpaired UTF-16 surrogate");
    const child = record[key];
    if (child !== undefined) visitJson(child, depth + 1, options, path);
    path.pop();
  }
}

function failJson(
  options: JsonCheckOptions,
  path: readonly (string | number)[],
  reason: string,
): never {
  throw new InvalidEnvelopeError(
    `invalid envelope: ${formatPath(options.root, path)} is ${reason}`,
  );
}
