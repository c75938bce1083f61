// Turns zod issues into ConfigIssues that point at the line to fix and say
// what was expected there, and renders them as one readable error.
import { type Document, isAlias, isMap, isNode, isScalar, isSeq, type LineCounter } from "yaml";
import { z } from "zod";
import { ConfigError, type ConfigIssue } from "../errors/index.js";
import { describeValue, didYouMean, quoteList } from "./messages.js";

export type PathSegment = string | number;

/**
 * What the per-parse error map returns. Schema-level messages take precedence
 * over it in zod, so any issue still carrying it has no hand-written message
 * and gets one built here, where the full path and the whole input are known.
 */
export const UNWRITTEN_MESSAGE = "\u0000conclave:unwritten";

export function dottedPath(path: readonly PropertyKey[]): string {
  return path.map(String).join(".");
}

/**
 * Whole numbers beyond 2^53 anywhere in the file, free-form sections
 * included: YAML reads `99999999999999999999` as 1e20, which no count,
 * amount or id can mean exactly.
 */
export function inexactIntegers(data: unknown, lines: SourceLines | undefined): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const walk = (value: unknown, path: PropertyKey[]): void => {
    if (typeof value === "number") {
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
        const line = lines?.lineOf(path);
        issues.push({
          path: dottedPath(path),
          ...(line === undefined ? {} : { line }),
          message: `a whole number beyond the largest exact one (${Number.MAX_SAFE_INTEGER}), read as ${value.toLocaleString("fullwide", { useGrouping: false })}; write a smaller number`,
        });
      }
    } else if (Array.isArray(value)) {
      for (const [i, item] of value.entries()) walk(item, [...path, i]);
    } else if (typeof value === "object" && value !== null) {
      for (const [key, item] of Object.entries(value)) walk(item, [...path, key]);
    }
  };
  walk(data, []);
  return issues;
}

// What YAML's tags (`!!binary`, `!!set`, `!!omap`, `!!timestamp`, and a plain
// date under `%YAML 1.1`) turn a value into. None is plain data: a byte array
// cannot even be frozen, and JSON carries none of them (a Set prints as {}).
function tagOfUnplain(value: object): string | undefined {
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return "!!binary";
  if (value instanceof Date) return "!!timestamp";
  if (value instanceof Set) return "!!set";
  if (value instanceof Map) return "!!omap";
  return undefined;
}

/**
 * Values that are not plain data (text, numbers, true/false, lists,
 * mappings): byte arrays, dates, sets and maps, which YAML makes of tagged
 * values, and a value that contains itself (an alias inside its own
 * anchor). Checked before the schema, which would crash on them (freezing a
 * byte array, walking a cycle for ever).
 */
export function unplainValues(data: unknown, lines: SourceLines | undefined): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const enclosing = new Set<object>();
  const walk = (value: unknown, path: PropertyKey[]): void => {
    if (typeof value !== "object" || value === null) return;
    if (enclosing.has(value)) {
      const line = lines?.lineOf(path);
      issues.push({
        path: dottedPath(path),
        ...(line === undefined ? {} : { line }),
        message:
          lines === undefined
            ? "the value contains itself; a swarm configuration must be finite data"
            : "the value contains itself (an alias inside its own anchor), so it would never end; write the nested value out, or alias another anchor",
      });
      return;
    }
    const tag = tagOfUnplain(value);
    if (tag !== undefined) {
      const line = lines?.lineOf(path);
      const written = lines?.sourceOf(path);
      issues.push({
        path: dottedPath(path),
        ...(line === undefined ? {} : { line }),
        message:
          lines === undefined
            ? `expected plain data (text, a number, true or false, a list or a mapping), got a ${value.constructor.name}`
            : tag === "!!timestamp" && written !== undefined
              ? `YAML reads ${written} as a date; a swarm file holds text, numbers, true/false, lists and mappings: to keep it text, quote it: ${JSON.stringify(written)}`
              : `a ${tag} value is not supported; a swarm file holds text, numbers, true/false, lists and mappings: drop the tag (write base64 as quoted text, a set as a list)`,
      });
      return;
    }
    enclosing.add(value);
    if (Array.isArray(value)) {
      for (const [i, item] of value.entries()) walk(item, [...path, i]);
    } else {
      for (const [key, item] of Object.entries(value)) walk(item, [...path, key]);
    }
    enclosing.delete(value);
  };
  walk(data, []);
  return issues;
}

/**
 * Mapping keys that read as the same text (`1` and `"1"`, `true` and
 * `"true"`: different keys to YAML, which refuses only a key written twice,
 * but one field once read, the second replacing the first), and keys that
 * are lists or mappings (which would be turned into text).
 */
export function keyProblems(document: Document, lines: SourceLines): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const walk = (node: unknown, path: readonly PathSegment[]): void => {
    if (isSeq(node)) {
      node.items.forEach((item, index) => {
        walk(item, [...path, index]);
      });
      return;
    }
    if (!isMap(node)) return;
    const lineOfKey = new Map<string, number | undefined>();
    for (const pair of node.items) {
      const key: unknown = pair.key;
      const keyLine = isNode(key) && key.range ? lines.atOffset(key.range[0]) : lines.lineOf(path);
      const at = keyLine === undefined ? {} : { line: keyLine };
      if (!isScalar(key)) {
        issues.push({
          path: dottedPath(path),
          ...at,
          message: `a key must be a name, not a list, a mapping or an alias; write it as text${isMap(key) && key.flow === true && node.flow === true ? " (a {{ placeholder }} left unfilled reads as one)" : ""}`,
        });
        continue;
      }
      const name = String(key.value);
      // Merge keys (`<<: *common`) are YAML's own, checked by the parser.
      if (name === "<<") continue;
      if (lineOfKey.has(name)) {
        const first = lineOfKey.get(name);
        issues.push({
          path: dottedPath([...path, name]),
          ...at,
          message: `key ${JSON.stringify(name)} is given twice${first === undefined ? "" : ` (also on line ${first})`}: YAML reads ${typeof key.source === "string" ? key.source : name} as another key than the first, but they name the same field and one would replace the other; keep one`,
        });
      } else lineOfKey.set(name, keyLine);
      walk(pair.value, [...path, name]);
    }
  };
  walk(document.contents, []);
  return issues;
}

/** Finds the 1-based source line of the node at a path in a parsed YAML document. */
export class SourceLines {
  readonly #document: Document;
  readonly #lineCounter: LineCounter;

  constructor(document: Document, lineCounter: LineCounter) {
    this.#document = document;
    this.#lineCounter = lineCounter;
  }

  /** The line of the node at `offset`, e.g. a YAML error position. */
  atOffset(offset: number): number {
    return this.#lineCounter.linePos(offset).line;
  }

  /**
   * The line of the node at `path`, or of its nearest existing ancestor when
   * the path does not exist (a missing key is reported where its parent is).
   * For a key of a mapping the key's own line is used, so `limits:` is blamed
   * rather than the first line of its nested block.
   */
  lineOf(path: readonly PropertyKey[]): number | undefined {
    let node: unknown = this.#document.contents;
    let line = this.#nodeLine(node);
    for (const segment of path) {
      if (isAlias(node)) node = node.resolve(this.#document);
      if (isMap(node)) {
        const pair = node.items.find(
          (item) => isScalar(item.key) && String(item.key.value) === String(segment),
        );
        if (pair === undefined) break;
        line = this.#nodeLine(pair.key) ?? line;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === "number") {
        const item = node.items[segment];
        if (item === undefined) break;
        line = this.#nodeLine(item) ?? line;
        node = item;
      } else {
        break;
      }
    }
    return line;
  }

  /** The text of the scalar at `path` as written in the file (`007` for the number 7). */
  sourceOf(path: readonly PropertyKey[]): string | undefined {
    let node: unknown = this.#document.contents;
    for (const segment of path) {
      if (isAlias(node)) node = node.resolve(this.#document);
      if (isMap(node)) {
        node = node.items.find(
          (item) => isScalar(item.key) && String(item.key.value) === String(segment),
        )?.value;
      } else if (isSeq(node) && typeof segment === "number") {
        node = node.items[segment];
      } else {
        return undefined;
      }
    }
    return isScalar(node) && typeof node.source === "string" ? node.source : undefined;
  }

  #nodeLine(node: unknown): number | undefined {
    if (!isNode(node) || node.range === undefined || node.range === null) return undefined;
    return this.atOffset(node.range[0]);
  }
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let current = data;
  for (const segment of path) {
    if (typeof current !== "object" || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

// Peels wrappers that do not change the shape of the input.
function unwrap(schema: unknown): unknown {
  let current = schema;
  for (;;) {
    if (current instanceof z.ZodPipe) current = current.in;
    else if (
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault ||
      current instanceof z.ZodOptional
    ) {
      current = current.unwrap();
    } else {
      return current;
    }
  }
}

/** The keys an object schema accepts at `path`, for did-you-mean suggestions. */
function knownKeysAt(schema: unknown, path: readonly PropertyKey[]): string[] {
  let current = unwrap(schema);
  for (const segment of path) {
    if (current instanceof z.ZodObject) current = current.shape[String(segment)];
    else if (current instanceof z.ZodRecord) current = current.valueType;
    else if (current instanceof z.ZodArray) current = current.element;
    else return [];
    current = unwrap(current);
  }
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}

const EXPECTED_TYPE: Readonly<Record<string, string>> = {
  object: "a mapping",
  record: "a mapping",
  array: "a list",
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
};

function unknownKeyMessage(key: string, known: readonly string[]): string {
  const suggestion = didYouMean(key, known);
  if (suggestion !== "") return `unknown key ${JSON.stringify(key)}${suggestion}`;
  return known.length === 0
    ? `unknown key ${JSON.stringify(key)}`
    : `unknown key ${JSON.stringify(key)}; expected one of ${quoteList(known)}`;
}

function messageFor(issue: z.core.$ZodIssue, data: unknown): string {
  if (issue.message !== UNWRITTEN_MESSAGE) return issue.message;
  const value = valueAt(data, issue.path);
  switch (issue.code) {
    case "invalid_type": {
      const expected = EXPECTED_TYPE[issue.expected] ?? issue.expected;
      if (value === undefined) {
        const key = issue.path.at(-1);
        return key === undefined
          ? `expected ${expected}`
          : `missing required key ${JSON.stringify(String(key))} (expected ${expected})`;
      }
      return `expected ${expected}, got ${describeValue(value)}`;
    }
    case "invalid_value": {
      const names = issue.values.filter((v): v is string => typeof v === "string");
      return `expected one of ${quoteList(issue.values)}, got ${describeValue(value)}${didYouMean(value, names)}`;
    }
    case "too_small":
      return issue.origin === "array"
        ? `expected at least ${issue.minimum} item(s)`
        : issue.origin === "string"
          ? `expected at least ${issue.minimum} character(s)`
          : `expected ${issue.inclusive ? "at least" : "more than"} ${issue.minimum}, got ${describeValue(value)}`;
    case "too_big":
      return issue.origin === "array"
        ? `expected at most ${issue.maximum} item(s)`
        : issue.origin === "string"
          ? `expected at most ${issue.maximum} character(s)`
          : `expected ${issue.inclusive ? "at most" : "less than"} ${issue.maximum}, got ${describeValue(value)}`;
    case "invalid_format":
      return `expected a string matching ${issue.pattern ?? issue.format}, got ${describeValue(value)}`;
    case "invalid_key": {
      const inner = issue.issues[0];
      return inner === undefined || inner.message === UNWRITTEN_MESSAGE
        ? `invalid key ${JSON.stringify(String(issue.path.at(-1)))}`
        : inner.message;
    }
    default:
      return `invalid value ${describeValue(value)}`;
  }
}

// YAML reads `id: 007` as the number 7 and `version: 2` as a number: where
// text is expected, show what was written and how to keep it text.
function quoteHint(issue: z.core.$ZodIssue, data: unknown, lines: SourceLines | undefined): string {
  // Only for a file: a config built in code was not read by YAML.
  if (lines === undefined || issue.code !== "invalid_type" || issue.expected !== "string") {
    return "";
  }
  const value = valueAt(data, issue.path);
  if (typeof value !== "number" && typeof value !== "boolean") return "";
  const written = lines.sourceOf(issue.path) ?? String(value);
  return ` (YAML reads ${written} as ${typeof value === "number" ? "a number" : "true or false"}; to keep it text, quote it: ${JSON.stringify(written)})`;
}

/**
 * Converts zod issues to ConfigIssues: one per unknown key (with its own
 * path), messages that say what is expected, and source lines when known.
 */
export function toConfigIssues(
  issues: readonly z.core.$ZodIssue[],
  data: unknown,
  schema: unknown,
  lines: SourceLines | undefined,
): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const push = (path: readonly PropertyKey[], message: string) => {
    const line = lines?.lineOf(path);
    out.push({ path: dottedPath(path), ...(line === undefined ? {} : { line }), message });
  };
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      const known = knownKeysAt(schema, issue.path);
      for (const key of issue.keys) push([...issue.path, key], unknownKeyMessage(key, known));
    } else {
      push(issue.path, messageFor(issue, data) + quoteHint(issue, data, lines));
    }
  }
  return out;
}

/** Orders issues as a reader meets them in the file; issues without a line go last. */
export function sortIssues(issues: readonly ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort(
    (a, b) => (a.line ?? Number.POSITIVE_INFINITY) - (b.line ?? Number.POSITIVE_INFINITY),
  );
}

/** One line per issue as `<source>:<line>: <path>: <message>`, under a heading. */
export function formatIssues(source: string, issues: readonly ConfigIssue[]): string {
  const count = issues.length === 1 ? "1 problem" : `${issues.length} problems`;
  const lines = issues.map((issue) => {
    const where = issue.line === undefined ? source : `${source}:${issue.line}`;
    return issue.path === ""
      ? `${where}: ${issue.message}`
      : `${where}: ${issue.path}: ${issue.message}`;
  });
  return [`invalid swarm file ${source} (${count}):`, ...lines].join("\n");
}

export function configError(
  source: string,
  issues: readonly ConfigIssue[],
  cause?: unknown,
): ConfigError {
  const sorted = sortIssues(issues);
  return new ConfigError(
    formatIssues(source, sorted),
    sorted,
    cause === undefined ? undefined : { cause },
  );
}
