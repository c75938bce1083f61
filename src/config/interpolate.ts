// `${VAR}` interpolation, done on the YAML tree rather than the raw text so a
// variable's value can never inject YAML structure, and so each failure
// knows the path and line of the scalar it came from.
import { type Document, isAlias, isMap, isScalar, isSeq, parse, type Scalar } from "yaml";
import type { ConfigIssue } from "../errors/index.js";
import { dottedPath, type PathSegment, type SourceLines } from "./issues.js";

export type Environment = Readonly<Record<string, string | undefined>>;

const REFERENCE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/**
 * Substitutes `${NAME}` and `${NAME:-default}` (the default applies when the
 * variable is unset or empty, as in the shell); `$${` writes a literal `${`.
 * `missing` names the unset variables that had no default.
 */
export function interpolate(
  text: string,
  env: Environment,
): { value: string; errors: readonly string[]; missing: readonly string[] } {
  const errors: string[] = [];
  const missing: string[] = [];
  let value = "";
  let index = 0;
  while (index < text.length) {
    const dollar = text.indexOf("$", index);
    if (dollar === -1) {
      value += text.slice(index);
      break;
    }
    value += text.slice(index, dollar);
    if (text.startsWith("$${", dollar)) {
      value += "${";
      index = dollar + 3;
      continue;
    }
    if (text[dollar + 1] !== "{") {
      value += "$";
      index = dollar + 1;
      continue;
    }
    const close = text.indexOf("}", dollar + 2);
    if (close === -1) {
      errors.push(
        `unterminated "\${" in ${JSON.stringify(text)}; close it with "}" or write "$\${" for a literal`,
      );
      break;
    }
    const reference = text.slice(dollar + 2, close);
    index = close + 1;
    // `${A:-${B}}` would end at B's `}`: A's value plus a stray "}", or the
    // text "${B}" if A is unset. Refused, the whole nested reference skipped.
    const nested = reference.indexOf("${");
    if (nested !== -1) {
      const outerClose = text.indexOf("}", close + 1);
      const end = outerClose === -1 ? close + 1 : outerClose + 1;
      const name = reference.slice(0, nested).replace(/:-$/, "");
      errors.push(
        `nested variable reference "${text.slice(dollar, end)}" is not supported (a reference ends at its first "}"); give ${name || "the variable"} a literal default, e.g. \${${name || "NAME"}:-text}`,
      );
      index = end;
      continue;
    }
    const match = REFERENCE.exec(reference);
    const name = match?.[1];
    if (match === null || name === undefined) {
      errors.push(
        `malformed variable reference "\${${reference}}"; expected \${NAME} or \${NAME:-default}, or write "$\${" for a literal "\${"`,
      );
      continue;
    }
    const fallback = match[2];
    const found = env[name];
    if (found !== undefined && !(found === "" && fallback !== undefined)) value += found;
    else if (fallback !== undefined) value += fallback;
    else {
      missing.push(name);
      errors.push(
        `environment variable ${name} is not set; set it or give a default with \${${name}:-default}`,
      );
    }
  }
  return { value, errors, missing };
}

// An unquoted `${WORKERS:-4}` should be the number 4, as if it had been
// written in place; quoted scalars always stay strings. Digits beyond what a
// number holds exactly (an 18-digit id) stay the text they are, the only
// form that keeps them.
function retype(text: string): string | number | boolean {
  try {
    const typed: unknown = parse(text);
    if (
      typeof typed === "boolean" ||
      (typeof typed === "number" &&
        Number.isFinite(typed) &&
        (!Number.isInteger(typed) || Number.isSafeInteger(typed)))
    ) {
      return typed;
    }
  } catch {
    // Not a scalar on its own (e.g. "a: b"): it stays the string it is.
  }
  return text;
}

/**
 * Top-level sections left as written, for their users to interpolate:
 * `models` holds API keys, which the schema must see as `${VAR}` references
 * (a literal key is refused), and whose variables only a node that calls a
 * model needs (`resolveModels` in `src/llm` names the unset ones).
 */
export const DEFERRED_SECTIONS: ReadonlySet<string> = new Set(["models"]);

/**
 * An unquoted interpolated value read as a number or boolean, with the text
 * it came from: where the schema wants a string (a token that is all digits),
 * the loader puts the text back.
 */
export interface RetypedValue {
  readonly path: readonly PathSegment[];
  readonly text: string;
}

/** Options of {@link interpolateDocument}. */
export interface InterpolateDocumentOptions {
  /**
   * Whether a value at this path may keep an unset variable's `${VAR}` as
   * written instead of failing (for a command that never reads it). Only
   * unset variables are let through so; a malformed reference still fails.
   * Default: none may.
   */
  readonly mayLeaveUnset?: (path: readonly PathSegment[]) => boolean;
}

/**
 * Interpolates every string scalar of `document` in place, except under
 * {@link DEFERRED_SECTIONS} (mapping keys are
 * left alone). Returns one issue per failure, the paths that failed, whose
 * value is left as written, and the values retyped to numbers or booleans.
 * Values left as written because `options.mayLeaveUnset` allowed it are in
 * `failedPaths` too, and their issues in `leftUnset` instead of `issues`.
 */
export function interpolateDocument(
  document: Document,
  env: Environment,
  lines: SourceLines,
  options: InterpolateDocumentOptions = {},
): {
  issues: ConfigIssue[];
  failedPaths: string[];
  retyped: RetypedValue[];
  leftUnset: ConfigIssue[];
} {
  const issues: ConfigIssue[] = [];
  const failedPaths: string[] = [];
  const retyped: RetypedValue[] = [];
  const leftUnset: ConfigIssue[] = [];

  const visitScalar = (node: Scalar, path: readonly PathSegment[]) => {
    if (typeof node.value !== "string" || !node.value.includes("$")) return;
    const { value, errors, missing } = interpolate(node.value, env);
    if (errors.length === 0) {
      node.value = node.type === "PLAIN" ? retype(value) : value;
      if (node.value !== value) retyped.push({ path, text: value });
      return;
    }
    const dotted = dottedPath(path);
    failedPaths.push(dotted);
    const line = lines.lineOf(path);
    const onlyUnset = missing.length === errors.length && options.mayLeaveUnset?.(path) === true;
    for (const message of errors) {
      (onlyUnset ? leftUnset : issues).push({
        path: dotted,
        ...(line === undefined ? {} : { line }),
        message,
      });
    }
  };

  const deferred = deferredNodes(document);
  // An alias shares its anchor's node: one anchored in a deferred section
  // still holds `${VAR}` as written, which here would be taken literally
  // (a gateway token "${TOKEN}" that anyone reading the file can present).
  const visitAlias = (target: unknown, source: string, path: readonly PathSegment[]) => {
    if (!deferred.has(target)) return;
    const references = referencesIn(target);
    if (references.length === 0) return;
    const dotted = dottedPath(path);
    failedPaths.push(dotted);
    const line = lines.lineOf(path);
    issues.push({
      path: dotted,
      ...(line === undefined ? {} : { line }),
      message: `*${source} refers to a value under ${[...DEFERRED_SECTIONS].join(", ")}, which is left as written when the file loads, so ${quoted(references)} would be used as text, not the variable's value; write the reference here instead of the alias`,
    });
  };

  const visit = (node: unknown, path: readonly PathSegment[]) => {
    if (path.length === 1 && DEFERRED_SECTIONS.has(String(path[0]))) return;
    if (isAlias(node)) visitAlias(node.resolve(document), node.source, path);
    else if (isScalar(node)) visitScalar(node, path);
    else if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        visit(pair.value, [...path, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => {
        visit(item, [...path, index]);
      });
    }
    // An alias's anchor is interpolated where it is defined.
  };

  visit(document.contents, []);
  return { issues, failedPaths, retyped, leftUnset };
}

/** Every node under a {@link DEFERRED_SECTIONS} section, which interpolation leaves as written. */
function deferredNodes(document: Document): Set<unknown> {
  const nodes = new Set<unknown>();
  const add = (node: unknown) => {
    if (nodes.has(node)) return;
    nodes.add(node);
    if (isMap(node)) for (const pair of node.items) add(pair.value);
    else if (isSeq(node)) for (const item of node.items) add(item);
  };
  const root = document.contents;
  if (isMap(root)) {
    for (const pair of root.items) {
      if (isScalar(pair.key) && DEFERRED_SECTIONS.has(String(pair.key.value))) add(pair.value);
    }
  }
  return nodes;
}

/** The `${…}` references written in the string scalars of `node` and below. */
function referencesIn(node: unknown): string[] {
  if (isScalar(node)) {
    return typeof node.value === "string" ? (node.value.match(/\$\{[^}]*\}/g) ?? []) : [];
  }
  if (isMap(node)) return node.items.flatMap((pair) => referencesIn(pair.value));
  if (isSeq(node)) return node.items.flatMap((item) => referencesIn(item));
  return [];
}

function quoted(references: readonly string[]): string {
  return [...new Set(references)].map((reference) => JSON.stringify(reference)).join(", ");
}
