// Field builders shared by the swarm schema and its sections (models.ts, roles.ts, ...), so
// every "expected …, got …" message is worded the same way.
import { z } from "zod";
import { describeValue } from "./messages.js";

export type IssueInput = { readonly input?: unknown };

// A missing value gets no message here, so the loader can report it as a
// missing key by name instead of "got nothing".
export function expecting(expected: string) {
  return (issue: IssueInput): string | undefined =>
    issue.input === undefined
      ? undefined
      : `expected ${expected}, got ${describeValue(issue.input)}`;
}

export function integer(min: number, max: number) {
  const error = expecting(`an integer from ${min} to ${max}`);
  return z.int({ error }).min(min, { error }).max(max, { error });
}

/**
 * Vote weights are counted in integer micro-units (`WEIGHT_SCALE` in
 * src/consensus/quorum-math.ts, a layer the config may not import;
 * test/config/vote-weight-range.test.ts checks the two agree): a finer
 * weight would count as 0, and a larger one, or a larger total of an
 * action's voters, cannot be counted exactly (every proposal would fail).
 */
const MICRO_UNITS = 1_000_000;
export const MIN_VOTE_WEIGHT = 1 / MICRO_UNITS;
export const MAX_VOTE_WEIGHT = Math.floor(Number.MAX_SAFE_INTEGER / MICRO_UNITS);

/** A vote weight (an agent's, a human voter's, a threshold), within what the quorum arithmetic counts. */
export function voteWeight() {
  const error = expecting(`a number from ${MIN_VOTE_WEIGHT} to ${MAX_VOTE_WEIGHT}`);
  return z.number({ error }).min(MIN_VOTE_WEIGHT, { error }).max(MAX_VOTE_WEIGHT, { error });
}

export function pattern(regex: RegExp, expected: string) {
  const error = expecting(expected);
  return z.string({ error }).regex(regex, { error });
}

/** Whether `value` starts with the shell's home folder, `~` or `~/`, which no swarm file expands. */
export function startsWithTilde(value: string): boolean {
  return value === "~" || value.startsWith("~/");
}

/** What to write instead of `~/…`: the environment's HOME, which the loader does substitute. */
export function tildeMessage(written: string, prefix = ""): string {
  const rest = written.slice(prefix.length + 1);
  return `"${written}" starts with ~, which a swarm file does not expand (it would name a folder "~" next to the swarm file); write ${prefix}\${HOME}${rest} or an absolute path`;
}

/** A non-empty path, relative to the swarm file. */
export const path = z
  .string()
  .min(1, { error: "expected a non-empty path" })
  .refine((value) => !startsWithTilde(value), {
    error: (issue: IssueInput) => tildeMessage(String(issue.input)),
  });

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A task type: lowercase words of letters, digits, `_` or `-`, dot-separated (e.g. `code.review`). */
export const TASK_TYPE = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;

/** Free-form settings handed through as written. */
export const freeForm = z.record(z.string(), z.unknown());

/** `value` without its undefined fields, so a spread does not overwrite a default with undefined. */
export function stripUndefined(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}
