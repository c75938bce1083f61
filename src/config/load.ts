import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { ConfigError, type ConfigIssue } from "../errors/index.js";
import type { GatewayConfig } from "./gateway.js";
import { type Environment, interpolateDocument, type RetypedValue } from "./interpolate.js";
import {
  configError,
  dottedPath,
  inexactIntegers,
  keyProblems,
  SourceLines,
  toConfigIssues,
  UNWRITTEN_MESSAGE,
  unplainValues,
} from "./issues.js";
import { resolveMcpPaths } from "./mcp.js";
import { resolveAgentLlmPaths } from "./models.js";
import { type BrokerConfig, deepFreeze, type SwarmConfig, swarmConfigSchema } from "./schema.js";

/** Options of {@link parseSwarmConfig}. */
export interface ParseSwarmConfigOptions {
  /** Name of the file in messages, e.g. `examples/review-swarm/swarm.yaml`. Default `"<swarm>"`. */
  readonly source?: string;
  /** Folder that relative paths resolve against. Default: the current working directory. */
  readonly baseDir?: string;
  /** Variables for `${VAR}` interpolation. Default: `process.env`. */
  readonly env?: Environment;
  /**
   * For a command that reads only some of the file (e.g. `conclave ledger
   * show`, which reads the store): the top-level keys it reads. A `${VAR}`
   * unset elsewhere is then no error, as only running the swarm needs it:
   * the value is left as written (e.g. a token reads `${TOKEN}`), unless the
   * field cannot hold that text, when the variable is named as before.
   * Default: every variable in the file must be set.
   */
  readonly variablesNeededOnlyUnder?: readonly string[];
}

/** Options of {@link loadSwarmConfig}. */
export interface LoadSwarmConfigOptions {
  /** Name of the file in messages. Default: the path as given. */
  readonly source?: string;
  /** Folder that relative paths resolve against. Default: the swarm file's folder. */
  readonly baseDir?: string;
  /** Variables for `${VAR}` interpolation. Default: `process.env`. */
  readonly env?: Environment;
  /** See {@link ParseSwarmConfigOptions.variablesNeededOnlyUnder}. */
  readonly variablesNeededOnlyUnder?: readonly string[];
}

/** Options of {@link validateSwarmConfig}. */
export interface ValidateSwarmConfigOptions {
  /** Name of the configuration in messages. Default `"<config>"`. */
  readonly source?: string;
  /** Folder that relative paths resolve against. Default: the current working directory. */
  readonly baseDir?: string;
}

const SQLITE_MEMORY = "sqlite::memory:";

function resolveStore(store: string, baseDir: string): string {
  if (!store.startsWith("sqlite:") || store === SQLITE_MEMORY) return store;
  const file = store.slice("sqlite:".length);
  return `sqlite:${isAbsolute(file) ? file : resolve(baseDir, file)}`;
}

function resolveBrokerPaths(broker: BrokerConfig, baseDir: string): BrokerConfig {
  const tls = broker.tls;
  if (tls === undefined) return broker;
  return {
    ...broker,
    tls: {
      ...(tls.ca === undefined ? {} : { ca: resolve(baseDir, tls.ca) }),
      ...(tls.cert === undefined ? {} : { cert: resolve(baseDir, tls.cert) }),
      ...(tls.key === undefined ? {} : { key: resolve(baseDir, tls.key) }),
    },
  };
}

function resolveGatewayPaths(gateway: GatewayConfig, baseDir: string): GatewayConfig {
  const tls = gateway.tls;
  if (tls === undefined) return gateway;
  return {
    ...gateway,
    tls: {
      cert: resolve(baseDir, tls.cert),
      key: resolve(baseDir, tls.key),
      ca: resolve(baseDir, tls.ca),
    },
  };
}

// Paths in a swarm file mean "next to the swarm file", not "wherever the
// command happened to be started", so they are made absolute once, here.
function resolvePaths(config: SwarmConfig, baseDir: string): SwarmConfig {
  return deepFreeze({
    ...config,
    store: resolveStore(config.store, baseDir),
    broker: resolveBrokerPaths(config.broker, baseDir),
    dataDir: resolve(baseDir, config.dataDir),
    keysDir: resolve(baseDir, config.keysDir),
    ...(config.module === undefined ? {} : { module: resolve(baseDir, config.module) }),
    mcp: resolveMcpPaths(config.mcp, baseDir),
    ...(config.gateway === undefined
      ? {}
      : { gateway: resolveGatewayPaths(config.gateway, baseDir) }),
    agents: config.agents.map((agent) => ({
      ...agent,
      ...(agent.policy === undefined ? {} : { policy: resolve(baseDir, agent.policy) }),
      ...(agent.credential === undefined ? {} : { credential: resolve(baseDir, agent.credential) }),
      ...(agent.llm === undefined ? {} : { llm: resolveAgentLlmPaths(agent.llm, baseDir) }),
    })),
  });
}

function isUnder(path: string, prefixes: readonly string[]): boolean {
  return prefixes.some(
    (prefix) => prefix === "" || path === prefix || path.startsWith(`${prefix}.`),
  );
}

function validate(
  data: unknown,
  context: {
    source: string;
    baseDir: string;
    lines?: SourceLines;
    earlierIssues?: readonly ConfigIssue[];
    failedPaths?: readonly string[];
    /** Unset variables let through (see `variablesNeededOnlyUnder`): an issue only if their field refuses `${VAR}`. */
    leftUnset?: readonly ConfigIssue[];
  },
): SwarmConfig {
  const { source, lines, earlierIssues = [], failedPaths = [], leftUnset = [] } = context;
  if (data === null || data === undefined) {
    throw configError(source, [
      {
        path: "",
        ...(lines === undefined ? {} : { line: 1 }),
        message:
          "the swarm file is empty; expected a mapping with at least swarm, roles and agents",
      },
    ]);
  }
  // The schema cannot look at these (building the config would crash
  // freezing a byte array), so they are reported alone.
  const unplain = unplainValues(data, lines);
  if (unplain.length > 0) throw configError(source, [...earlierIssues, ...unplain]);
  const result = swarmConfigSchema.safeParse(data, { error: () => UNWRITTEN_MESSAGE });
  const allSchemaIssues = result.success
    ? []
    : toConfigIssues(result.error.issues, data, swarmConfigSchema, lines);
  // A value whose interpolation failed was left as written; its schema
  // errors would only repeat the real problem.
  const schemaIssues = allSchemaIssues.filter((issue) => !isUnder(issue.path, failedPaths));
  const issues = [...earlierIssues, ...schemaIssues, ...inexactIntegers(data, lines)];
  if (!result.success || issues.length > 0) {
    throw configError(source, [
      ...issues,
      ...unsetButRefused(leftUnset, allSchemaIssues, issues.length === 0),
    ]);
  }
  return resolvePaths(result.data, resolve(context.baseDir));
}

// The unset variables let through whose `${VAR}` text the schema refused
// (e.g. in a URL field): named after all, saying why a reading command
// needs them. When no such field is found but nothing else explains the
// failure, every one is named rather than an error with no line.
function unsetButRefused(
  leftUnset: readonly ConfigIssue[],
  schemaIssues: readonly ConfigIssue[],
  nothingElseFailed: boolean,
): ConfigIssue[] {
  const refused = leftUnset.filter((unset) =>
    schemaIssues.some((issue) => isUnder(issue.path, [unset.path])),
  );
  return (refused.length > 0 || !nothingElseFailed ? refused : leftUnset).map((unset) => ({
    ...unset,
    message: `${unset.message} (only running the swarm uses it, but this field must hold a valid value for the file to be read)`,
  }));
}

// `{ concurrency: ${C:-4} }`: in a flow collection an unquoted `${` opens a
// mapping, and YAML's errors (several, over several lines) never say so. The
// first line where that happens gets one issue saying what to write; the
// errors after it are its echoes.
const FLOW_REFERENCE = /[[{,:]\s*(?:[&!]\S*\s+)?(\$\{[^}\s]*\})/;

function withFlowReferenceHint(issues: readonly ConfigIssue[], text: string): ConfigIssue[] {
  const lines = text.split(/\r?\n/);
  for (const issue of issues) {
    const line = issue.line === undefined ? undefined : lines[issue.line - 1];
    const match = line === undefined ? null : FLOW_REFERENCE.exec(line);
    if (line === undefined || match === null || !/[[{]/.test(line.slice(0, match.index + 1))) {
      continue;
    }
    const reference = match[1] ?? "";
    const key = /([\w-]+):\s*(?:[&!]\S*\s+)?$/.exec(line.slice(0, line.indexOf(reference)))?.[1];
    const block =
      key === undefined ? `an item of a block list (- ${reference})` : `${key}: ${reference}`;
    return [
      ...issues.filter((earlier) => (earlier.line ?? 0) < (issue.line ?? 0)),
      {
        path: "",
        ...(issue.line === undefined ? {} : { line: issue.line }),
        message: `invalid YAML: an unquoted ${reference} inside { } or [ ] starts a YAML mapping; quote it ("${reference}") for text, or write ${block} on a line of its own (block style) for a number`,
      },
    ];
  }
  return [...issues];
}

/**
 * Parses and validates the text of a swarm file: YAML, then `${VAR}` /
 * `${VAR:-default}` interpolation of string values from `env`, then the
 * schema with every default applied; relative paths become absolute against
 * `baseDir`. Returns a deeply frozen config.
 *
 * @throws ConfigError listing every problem found, each with its dotted
 * path, 1-based line and what was expected; its message has one
 * `<source>:<line>: <path>: <message>` line per problem.
 *
 * @example
 * ```ts
 * const config = parseSwarmConfig(
 *   "swarm: demo\ntransport: ${BUS:-memory}\nroles: { worker: { tasks: [echo] } }\nagents: [{ id: w-1, role: worker }]\n",
 *   { source: "demo.yaml", baseDir: "/srv/demo", env: {} },
 * );
 * config.store; // "sqlite:/srv/demo/.conclave/demo.db"
 * ```
 */
export function parseSwarmConfig(text: string, options: ParseSwarmConfigOptions = {}): SwarmConfig {
  const source = options.source ?? "<swarm>";
  const baseDir = options.baseDir ?? process.cwd();
  const lineCounter = new LineCounter();
  const document = parseDocument(text, {
    lineCounter,
    prettyErrors: false,
    // Merge keys (`<<: *common`) are how YAML users share agent settings.
    merge: true,
    uniqueKeys: true,
  });
  const lines = new SourceLines(document, lineCounter);
  if (document.errors.length > 0) {
    const yamlIssues: ConfigIssue[] = document.errors.map((error) => {
      const at = lineCounter.linePos(error.pos[0]);
      return {
        path: "",
        line: at.line,
        message: `invalid YAML: ${error.message} (column ${at.col})`,
      };
    });
    throw configError(source, withFlowReferenceHint(yamlIssues, text));
  }
  const badKeys = keyProblems(document, lines);
  if (badKeys.length > 0) throw configError(source, badKeys);
  const needed = options.variablesNeededOnlyUnder;
  const { issues, failedPaths, retyped, leftUnset } = interpolateDocument(
    document,
    options.env ?? process.env,
    lines,
    needed === undefined ? {} : { mayLeaveUnset: (path) => !needed.includes(String(path[0])) },
  );
  let data: unknown;
  try {
    data = document.toJS({ maxAliasCount: 100 });
  } catch (cause) {
    // Only an alias bomb gets here: the document itself parsed.
    throw configError(
      source,
      [{ path: "", message: `cannot expand the YAML: ${(cause as Error).message}` }],
      cause,
    );
  }
  restoreTextWhereStringsAreExpected(data, retyped);
  return validate(data, { source, baseDir, lines, earlierIssues: issues, failedPaths, leftUnset });
}

// `${TOKEN}` unquoted reads as a number when the token is all digits; where
// the schema wants a string, the value is the text the variable held (a
// secret's leading zeros kept, and never echoed back as "got 123…").
function restoreTextWhereStringsAreExpected(data: unknown, retyped: readonly RetypedValue[]): void {
  // Values that are not plain data are reported by `validate`; the schema would crash on them.
  if (retyped.length === 0 || unplainValues(data, undefined).length > 0) return;
  const result = swarmConfigSchema.safeParse(data);
  if (result.success) return;
  const wantsText = new Set(
    result.error.issues
      .filter((issue) => issue.code === "invalid_type" && issue.expected === "string")
      .map((issue) => dottedPath(issue.path)),
  );
  for (const { path, text } of retyped) {
    if (!wantsText.has(dottedPath(path))) continue;
    let parent: unknown = data;
    for (const segment of path.slice(0, -1)) {
      parent = (parent as Record<PropertyKey, unknown> | undefined)?.[segment];
    }
    const last = path.at(-1);
    if (typeof parent === "object" && parent !== null && last !== undefined) {
      (parent as Record<PropertyKey, unknown>)[last] = text;
    }
  }
}

/**
 * Reads and validates a swarm file. Relative paths in it resolve against the
 * file's own folder, so the swarm runs the same from any working directory.
 *
 * @throws ConfigError when the file cannot be read or is invalid (see {@link parseSwarmConfig}).
 *
 * @example
 * ```ts
 * const config = await loadSwarmConfig("examples/review-swarm/swarm.yaml");
 * for (const agent of config.agents) console.log(agent.id, agent.role, agent.concurrency);
 * ```
 */
export async function loadSwarmConfig(
  path: string,
  options: LoadSwarmConfigOptions = {},
): Promise<SwarmConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    const reason =
      (cause as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(cause);
    throw new ConfigError(
      `cannot read swarm file ${path}: ${reason}; check the path`,
      [{ path: "", message: `cannot read the file: ${reason}` }],
      { cause },
    );
  }
  return parseSwarmConfig(text, {
    source: options.source ?? path,
    baseDir: options.baseDir ?? dirname(resolve(path)),
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.variablesNeededOnlyUnder === undefined
      ? {}
      : { variablesNeededOnlyUnder: options.variablesNeededOnlyUnder }),
  });
}

/**
 * Validates a swarm configuration given as a plain object (e.g. built in
 * code for `createSwarm`), with the same defaults, checks and path
 * resolution as a file but without interpolation or line numbers.
 *
 * @throws ConfigError listing every problem with its dotted path.
 *
 * @example
 * ```ts
 * const config = validateSwarmConfig({
 *   swarm: "demo",
 *   roles: { worker: { tasks: ["echo"] } },
 *   agents: [{ id: "w-1", role: "worker" }],
 * });
 * ```
 */
export function validateSwarmConfig(
  value: unknown,
  options: ValidateSwarmConfigOptions = {},
): SwarmConfig {
  return validate(value, {
    source: options.source ?? "<config>",
    baseDir: options.baseDir ?? process.cwd(),
  });
}
