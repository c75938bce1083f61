/** What several commands parse alike: exit codes, ports, transport URLs, agent ids, the store a command reads. */
import { resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { transportProblem } from "../config/schema.js";
import { InvalidSubjectError } from "../errors/index.js";
import { assertPattern } from "../transport/subject.js";
import { agentIdPattern } from "../wire/envelope.js";
import { DEMO_DATA_DIR } from "./demo.js";
import { LOCAL_SWARM_FILE, type StoreTarget } from "./store-target.js";

/** Exit codes: 0 ok, 1 failure, 2 usage or configuration error. */
export const EXIT = Object.freeze({ ok: 0, failure: 1, usage: 2 });

export function port(value: string): number {
  // Digits only: Number("") is 0 (a random port for `--port "$UNSET"`), and Number("0x50") is 80.
  const n = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError("expected a port number from 0 to 65535");
  return n;
}

/** `--transport`: checked as the swarm file's transport is, so a typo is a usage error naming the flag. */
export function transportUrl(value: string): string {
  const problem = transportProblem(value);
  if (problem !== undefined) throw new InvalidArgumentError(problem);
  return value;
}

/** `events --type`: an event type pattern (`llm.call`, `agent.*`, `>`); a malformed one is a usage error naming the flag. */
export function eventTypePattern(value: string): string {
  try {
    assertPattern(value);
  } catch (error) {
    if (!(error instanceof InvalidSubjectError)) throw error;
    throw new InvalidArgumentError(
      `${error.message}; an event type is dot-separated words of A-Z a-z 0-9 _ - : $, with '*' for one word and '>' for the rest, e.g. llm.call or agent.*`,
    );
  }
  return value;
}

/** An agent id argument (`revoke`'s): a malformed one is a usage error (exit 2), not a failure. */
export function agentId(value: string): string {
  if (!agentIdPattern.test(value))
    throw new InvalidArgumentError(
      `"${value.slice(0, 140)}" is not an agent id: use 1-128 characters of A-Z a-z 0-9 _ -`,
    );
  return value;
}

/** `keys gen`'s ids, each checked as {@link agentId} checks one. */
export function agentIds(value: string, previous: string[] = []): string[] {
  return [...previous, agentId(value)];
}

/**
 * `--agents a,b,c`: comma-separated agent ids, each checked as
 * {@link agentId} checks one; a list that names none (`--agents ,`) is a
 * usage error, not a run that waits for agents it will never host.
 */
export function agentList(value: string): string[] {
  const ids = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (ids.length === 0) {
    throw new InvalidArgumentError(
      "names no agent; give agent ids separated by commas, e.g. lead,w1",
    );
  }
  return ids.map(agentId);
}

/**
 * A path or URL option's value (`--store`, `--swarm`, `--data-dir`, `--dir`):
 * an empty one (`--store "$UNSET"`) is a usage error naming the option, not
 * the option left out, which would read or write somewhere else.
 */
export function nonEmpty(value: string): string {
  if (value.trim() === "") {
    throw new InvalidArgumentError("Give a path or URL, or leave the option out.");
  }
  return value;
}

/**
 * A count option (`--tasks`, `--processes`, `--timeout`…): decimal digits
 * only, as {@link port} takes, so `0x10`, `1e3`, `+5`, `5.0` or `" 5"` is a
 * usage error naming the option rather than a number `Number()` guessed.
 */
export function positiveInt(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  // Beyond 2^53 a number is no longer exact: 99999999999999999999 would run as 1e20.
  if (!Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError(
      `expected a whole number from 1 to ${Number.MAX_SAFE_INTEGER} in decimal digits, e.g. 4`,
    );
  return n;
}

/**
 * A positive amount that may have a fraction (`admit --weight`): decimal
 * notation only (`2`, `0.5`), as {@link positiveInt} takes counts, so `0x10`,
 * `1e3` or `" 2"` is a usage error rather than a number `Number()` guessed.
 */
export function positiveDecimal(value: string): number {
  const n = /^\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError("expected a number > 0 in decimal notation, e.g. 1 or 0.5");
  return n;
}

/**
 * The longest a command may wait on one timer, in seconds: Node fires a
 * timer longer than 2^31-1 ms (about 24.8 days) after 1 ms instead.
 */
export const MAX_TIMER_SECONDS = Math.floor(0x7fffffff / 1000);

export interface StoreTargetOptions {
  store?: string;
  swarm?: string;
  dataDir?: string;
}

export function storeTarget(opts: StoreTargetOptions): StoreTarget {
  return {
    ...(opts.store ? { store: opts.store } : {}),
    ...(opts.swarm ? { swarm: resolve(opts.swarm) } : {}),
    ...(opts.dataDir ? { dataDir: resolve(opts.dataDir) } : {}),
  };
}

export const DEFAULT_STORE_RULE = `
Which store: --store if given; else the store of --swarm; else, with neither,
the store of ./${LOCAL_SWARM_FILE} if this folder has one, or else the store of the
last \`conclave demo\` run here (${DEMO_DATA_DIR}/review-swarm.db). A store not named
by --store is reported on stderr ("reading store …"). --data-dir moves a swarm
file's default store as \`up --data-dir\` does.`;

/** The options that name a ledger or audit command's store, and the rule for the default. */
export function withStoreTarget(
  command: Command,
  swarmHelp = "take the store from this swarm file",
): Command {
  return command
    .option("--store <url>", "the store (sqlite:<path> or postgres://…)", nonEmpty)
    .option("--swarm <file>", swarmHelp, nonEmpty)
    .option(
      "--data-dir <dir>",
      "the data folder the swarm ran with (up --data-dir), where its default store is",
      nonEmpty,
    )
    .addHelpText("after", DEFAULT_STORE_RULE);
}

/** The dashboard's port when `--dashboard` is given without one. */
export const DASHBOARD_PORT = 8471;
