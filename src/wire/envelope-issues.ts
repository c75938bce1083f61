import type { z } from "zod";
import { formatPath } from "./json-value.js";

/** More than this and the message stops helping; the full list stays in `cause`. */
const MAX_LISTED = 5;

/**
 * One sentence per schema issue, each naming the field that failed, e.g.
 * `ts: must be a non-negative integer (ms since the Unix epoch) (got -5)`.
 */
export function describeEnvelopeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const parts = issues.slice(0, MAX_LISTED).map(describeIssue);
  if (issues.length > MAX_LISTED) parts.push(`and ${issues.length - MAX_LISTED} more`);
  return `invalid envelope: ${parts.join("; ")}. Fix the sender: docs/PROTOCOL.md ("Envelope") defines every field`;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const segments = issue.path.map((s) => (typeof s === "symbol" ? String(s) : s));
  const where = formatPath("", segments);
  switch (issue.code) {
    case "unrecognized_keys":
      return `unknown field${issue.keys.length === 1 ? "" : "s"} ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}${segments.length > 0 ? ` in ${where}` : ""}: the envelope is closed, put custom data in body (or trace context in headers)`;
    case "invalid_key":
      return `${formatPath("", segments.slice(0, -1))}: name ${preview(segments.at(-1))} must be 1-128 lower-case letters, digits or '-'`;
    case "invalid_type":
      if (segments.length === 0) {
        return `the envelope must be a JSON object (got ${kindOf(issue.input)})`;
      }
      return `${where}: ${issue.message}${gotSuffix(issue)}`;
    default:
      return `${where}: ${issue.message}${gotSuffix(issue)}`;
  }
}

function gotSuffix(issue: z.core.$ZodIssue): string {
  if (!("input" in issue) || issue.input === undefined) return "";
  if (typeof issue.input === "object" && issue.input !== null)
    return ` (got ${kindOf(issue.input)})`;
  return ` (got ${preview(issue.input)})`;
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** Short and quoted, so a megabyte of attacker-chosen text never lands in a log line. */
function preview(value: unknown): string {
  const text = typeof value === "string" ? JSON.stringify(value) : String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
