import { join } from "node:path";
import { z } from "zod";
import { describeValue, didYouMean, quoteList } from "./messages.js";
import { redactUrl } from "./redact.js";

/** Backoff between redeliveries of a failed task. All times in milliseconds. */
export interface BackoffConfig {
  /** Delay before the first retry. */
  readonly baseMs: number;
  /** Upper bound of any single delay. */
  readonly maxMs: number;
  /** Growth per attempt; 2 doubles the delay each time. */
  readonly factor: number;
  /** `full`: uniform in [0, d]; `equal`: d/2 + uniform in [0, d/2]; `none`: exactly d. */
  readonly jitter: "full" | "equal" | "none";
}

/** Settings every role inherits unless it overrides them. */
export interface DefaultsConfig {
  /** How long a delivered task may stay unacked before the broker redelivers it. */
  readonly ackWaitMs: number;
  /** Deliveries of one task before it is dead-lettered. */
  readonly maxDeliver: number;
  /** In-flight tasks per agent. */
  readonly concurrency: number;
  readonly backoff: BackoffConfig;
  /** Interval between an agent's registry heartbeats. */
  readonly heartbeatMs: number;
  /** Silence after which an agent is marked suspect. Always > `heartbeatMs`. */
  readonly suspectAfterMs: number;
  /** Silence after which an agent is considered gone. Always > `suspectAfterMs`. */
  readonly leftAfterMs: number;
  /** How long envelope ids are remembered to drop redelivered duplicates. */
  readonly dedupWindowMs: number;
}

/** Delivery order guarantee for a role's tasks. */
export type OrderingMode = "none" | "conversation";
/** How a task is assigned among the live agents of a role. */
export type RoutingStrategy = "round-robin" | "least-loaded" | "reputation";

/** One role with the swarm defaults already applied. */
export interface RoleConfig {
  /** The key under `roles`, repeated here so a role can be passed around alone. */
  readonly name: string;
  readonly description?: string;
  /** Task types this role handles; empty for roles that only publish. */
  readonly tasks: readonly string[];
  readonly ackWaitMs: number;
  readonly maxDeliver: number;
  readonly concurrency: number;
  readonly backoff: BackoffConfig;
  readonly ordering: OrderingMode;
  /** Longest a conversation task waits for its predecessor; unset: min(10000, ackWaitMs). */
  readonly gapTimeoutMs?: number;
  readonly routing: RoutingStrategy;
}

/** One agent with its role's settings already applied. */
export interface AgentConfig {
  readonly id: string;
  /** A key of `SwarmConfig.roles`. */
  readonly role: string;
  readonly tags: readonly string[];
  readonly capabilities: readonly string[];
  /** Vote weight in consensus; > 0. */
  readonly weight: number;
  /** In-flight tasks for this agent: its own override, else its role's. */
  readonly concurrency: number;
  /** Free-form settings handed to the agent's handlers. */
  readonly options: Readonly<Record<string, unknown>>;
  /** The agent's credit account; absent: not metered. */
  readonly budget?: { readonly initial: number; readonly minBalance: number };
  /** Path of the agent's voter policy (YAML rules in CEL); absent: approve unless a vote handler says otherwise. */
  readonly policy?: string;
}

/** Approving weight a privileged action needs: absolute, or a fraction of the voters' total weight. */
export type ThresholdConfig =
  | { readonly weight: number }
  | { readonly fraction: number; readonly strict?: boolean };

/** Consensus protocol of a privileged action; `auto` picks one by the selection matrix. */
export type ConsensusProtocolName = "quorum" | "hierarchical" | "pbft" | "auto";

/** One privileged action (a task type that never runs without a sealed approval). */
export interface PrivilegedActionConfig {
  readonly protocol: ConsensusProtocolName;
  readonly threshold: ThresholdConfig;
  /** Roles whose agents vote; every role of the swarm when not set in the file. */
  readonly voters: readonly string[];
  /** Roles whose rejection vetoes the proposal outright. */
  readonly vetoRoles: readonly string[];
  /** How long a proposal stays open, in ms. */
  readonly deadlineMs: number;
  /** Members per cluster (hierarchical). */
  readonly clusterSize?: number;
  /** What `auto` must tolerate. */
  readonly faultTolerance: "none" | "crash" | "byzantine";
}

/** Model prices as written in the swarm file. */
export interface PricesConfig {
  readonly version: string;
  readonly creditsPerUsd: number;
  readonly models: Readonly<
    Record<string, { readonly input: number | string; readonly output: number | string }>
  >;
}

/**
 * A validated swarm file with every default applied. Deeply frozen.
 * `parseSwarmConfig` and `loadSwarmConfig` also make every path absolute;
 * the bare schema leaves relative paths as written.
 */
export interface SwarmConfig {
  /** Swarm name; the subject prefix of every message. */
  readonly swarm: string;
  readonly description?: string;
  /** `"memory"`, or a `nats://`, `tls://`, `amqp://` or `amqps://` URL. May hold credentials: log it through `redactUrl`. */
  readonly transport: string;
  /** `"sqlite:<path>"`, `"sqlite::memory:"`, or a `postgres://` / `postgresql://` URL. May hold credentials. */
  readonly store: string;
  readonly dataDir: string;
  readonly keysDir: string;
  /** Path of the JavaScript module that registers the handlers. */
  readonly module?: string;
  /** Whether every envelope must be signed, or only votes, bids, handshakes and ledger messages. */
  readonly signing: "required" | "optional";
  readonly limits: { readonly maxEnvelopeBytes: number };
  readonly defaults: DefaultsConfig;
  readonly roles: Readonly<Record<string, RoleConfig>>;
  readonly agents: readonly AgentConfig[];
  /** Free-form settings the handler module may read. */
  readonly workload: Readonly<Record<string, unknown>>;
  readonly prices: PricesConfig;
  /** Privileged actions by name (a task type): each needs a sealed approval to run. */
  readonly privileged: Readonly<Record<string, PrivilegedActionConfig>>;
}

const SWARM_NAME = /^[a-z][a-z0-9-]{0,62}$/;
const ROLE_NAME = /^[a-z][a-z0-9_-]{0,63}$/;
const AGENT_ID = /^[A-Za-z0-9_-]{1,128}$/;
const TASK_TYPE = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;
const TRANSPORT = /^(memory|(nats|tls|amqps?):\/\/.+)$/;
const STORE = /^(sqlite:.+|postgres(ql)?:\/\/.+)$/;

// Stated once so the schema, its messages and the JSON Schema agree.
const DEFAULT_DATA_DIR = ".conclave";
const SUSPECT_HEARTBEATS = 3;
const LEFT_EXTRA_HEARTBEATS = 7;

type IssueInput = { readonly input?: unknown };

// A missing value gets no message here, so the loader can report it as a
// missing key by name instead of "got nothing".
function expecting(expected: string) {
  return (issue: IssueInput): string | undefined =>
    issue.input === undefined
      ? undefined
      : `expected ${expected}, got ${describeValue(issue.input)}`;
}

function integer(min: number, max: number) {
  const error = expecting(`an integer from ${min} to ${max}`);
  return z.int({ error }).min(min, { error }).max(max, { error });
}

function pattern(regex: RegExp, expected: string) {
  const error = expecting(expected);
  return z.string({ error }).regex(regex, { error });
}

// Transport and store URLs may carry credentials, so they are echoed redacted.
function shownUrl(input: unknown): string {
  return typeof input === "string" ? JSON.stringify(redactUrl(input)) : describeValue(input);
}

function isValidUrl(value: string, needsHost: boolean): boolean {
  try {
    const url = new URL(value);
    return !needsHost || url.hostname.length > 0;
  } catch {
    return false;
  }
}

const TRANSPORT_EXPECTED = `"memory" or a nats://, tls://, amqp:// or amqps:// URL`;
const transportSchema = z
  .string()
  .regex(TRANSPORT, {
    error: (issue: IssueInput) => `expected ${TRANSPORT_EXPECTED}, got ${shownUrl(issue.input)}`,
  })
  .refine((value) => value === "memory" || isValidUrl(value, true), {
    error: (issue: IssueInput) =>
      `expected a well-formed URL with a host, got ${shownUrl(issue.input)}; percent-encode special characters in user names and passwords`,
  });

const STORE_EXPECTED = `"sqlite:<path>", "sqlite::memory:" or a postgres:// or postgresql:// URL`;
const storeSchema = z
  .string()
  .regex(STORE, {
    error: (issue: IssueInput) => `expected ${STORE_EXPECTED}, got ${shownUrl(issue.input)}`,
  })
  // Postgres accepts a host-less URL (a Unix socket given as ?host=...), so only well-formedness is checked.
  .refine((value) => value.startsWith("sqlite:") || isValidUrl(value, false), {
    error: (issue: IssueInput) =>
      `expected a well-formed postgres URL, got ${shownUrl(issue.input)}; percent-encode special characters in user names and passwords`,
  });

const path = z.string().min(1, { error: "expected a non-empty path" });
const freeForm = z.record(z.string(), z.unknown());
const label = z.string().min(1).max(128);

const ackWaitMs = integer(100, 3_600_000).describe(
  "How long a delivered task may stay unacked before it is redelivered, in ms.",
);
const maxDeliver = integer(1, 1000).describe("Deliveries of one task before it is dead-lettered.");
const concurrency = integer(1, 10_000).describe("In-flight tasks per agent.");

const baseMs = integer(1, 3_600_000).describe("Delay before the first retry, in ms.");
const maxMs = integer(1, 86_400_000).describe("Upper bound of any single retry delay, in ms.");
const factor = z
  .number()
  .min(1, { error: expecting("a number from 1 to 10") })
  .max(10, { error: expecting("a number from 1 to 10") })
  .describe("Growth of the delay per attempt; 2 doubles it.");
const jitter = z
  .enum(["full", "equal", "none"])
  .describe("full: uniform in [0, d]; equal: d/2 + uniform in [0, d/2]; none: exactly d.");

const backoffSchema = z
  .strictObject({
    baseMs: baseMs.default(200),
    maxMs: maxMs.default(30_000),
    factor: factor.default(2),
    jitter: jitter.default("full"),
  })
  .describe("Exponential backoff between redeliveries of a failed task.");

const backoffOverrideSchema = z
  .strictObject({
    baseMs: baseMs.optional(),
    maxMs: maxMs.optional(),
    factor: factor.optional(),
    jitter: jitter.optional(),
  })
  .describe("Overrides of the default backoff; unset fields keep the default.");

const defaultsSchema = z
  .strictObject({
    ackWaitMs: ackWaitMs.default(30_000),
    maxDeliver: maxDeliver.default(5),
    concurrency: concurrency.default(4),
    backoff: backoffSchema.prefault({}),
    heartbeatMs: integer(50, 60_000)
      .default(1000)
      .describe("Interval between an agent's registry heartbeats, in ms."),
    suspectAfterMs: integer(100, 3_600_000)
      .optional()
      .describe(
        `Silence after which an agent is suspect, in ms; > heartbeatMs. Default: ${SUSPECT_HEARTBEATS} × heartbeatMs.`,
      ),
    leftAfterMs: integer(100, 86_400_000)
      .optional()
      .describe(
        `Silence after which an agent has left, in ms; > suspectAfterMs. Default: suspectAfterMs + ${LEFT_EXTRA_HEARTBEATS} × heartbeatMs.`,
      ),
    dedupWindowMs: integer(1000, 86_400_000)
      .default(120_000)
      .describe("How long envelope ids are remembered to drop duplicates, in ms."),
  })
  .describe("Settings applied to every role unless the role overrides them.");

const roleSchema = z
  .strictObject({
    description: z
      .string()
      .optional()
      .describe("What the role is for, for people and LLM prompts."),
    tasks: z
      .array(
        pattern(TASK_TYPE, "a task type of lowercase letters, digits, '_' or '-', dot-separated"),
      )
      .default([])
      .describe("Task types this role handles; leave empty for roles that only publish."),
    ackWaitMs: ackWaitMs.optional(),
    maxDeliver: maxDeliver.optional(),
    concurrency: concurrency.optional(),
    backoff: backoffOverrideSchema.optional(),
    ordering: z
      .enum(["none", "conversation"])
      .default("none")
      .describe(
        "none, or conversation: a task with conv and seq runs after seq - 1 of its conversation completed (or after gapTimeoutMs). Causal ordering is for event subscriptions.",
      ),
    gapTimeoutMs: integer(10, 3_600_000)
      .optional()
      .describe(
        "Longest a conversation task waits for its predecessor. Default: min(10000, ackWaitMs).",
      ),
    routing: z
      .enum(["round-robin", "least-loaded", "reputation"])
      .default("round-robin")
      .describe("How a task is assigned among the live agents of the role."),
  })
  .describe("A role: the task types it handles and how they are delivered.");

const agentSchema = z
  .strictObject({
    id: pattern(AGENT_ID, "1 to 128 letters, digits, '_' or '-'").describe(
      "Agent id, unique in the swarm.",
    ),
    role: z.string().min(1).describe("A role defined under roles."),
    tags: z.array(label).default([]).describe("Labels for discovery, e.g. [ts, backend]."),
    capabilities: z.array(label).default([]).describe("What the agent can do, for routing."),
    weight: z
      .number({ error: expecting("a number > 0") })
      .positive({ error: expecting("a number > 0") })
      .default(1)
      .describe("Vote weight in consensus."),
    concurrency: concurrency.optional(),
    options: freeForm.default({}).describe("Free-form settings passed to the agent's handlers."),
    budget: z
      .strictObject({
        initial: integer(0, Number.MAX_SAFE_INTEGER)
          .default(0)
          .describe("Credits minted to the agent once, the first time the swarm starts."),
        minBalance: integer(0, Number.MAX_SAFE_INTEGER)
          .default(0)
          .describe("Below this balance the agent is halted until topped up."),
      })
      .optional()
      .describe("The agent's credit account; without it the agent is not metered."),
    policy: path
      .optional()
      .describe(
        "The agent's voter policy: a YAML file of CEL rules over proposals, relative to the swarm file. Without it the agent approves unless a vote handler decides.",
      ),
  })
  .describe("One agent of the swarm.");

const thresholdSchema = z
  .union(
    [
      z.strictObject({
        weight: z
          .number({ error: expecting("a number > 0") })
          .positive({ error: expecting("a number > 0") })
          .describe("Approving weight needed, e.g. 4 with weights 2.5, 1, 2, 1.5."),
      }),
      z.strictObject({
        fraction: z
          .number({ error: expecting("a number in (0, 1]") })
          .gt(0, { error: expecting("a number in (0, 1]") })
          .lte(1, { error: expecting("a number in (0, 1]") })
          .describe("Share of the voters' total weight needed, e.g. 0.6667."),
        strict: z
          .boolean()
          .optional()
          .describe("true: more than the fraction; false (default): at least the fraction."),
      }),
    ],
    {
      error: (issue: IssueInput) =>
        issue.input === undefined
          ? undefined
          : `expected { weight: <number> } or { fraction: <number in (0, 1]>, strict?: <boolean> }, got ${describeValue(issue.input)}`,
    },
  )
  .describe("Approving weight needed: { weight } (absolute) or { fraction } of the voters' total.");

const roleList = z.array(z.string().min(1));

const privilegedActionSchema = z
  .strictObject({
    protocol: z
      .enum(["quorum", "hierarchical", "pbft", "auto"])
      .default("quorum")
      .describe(
        "quorum: weighted signed votes; hierarchical: clusters with representatives (large swarms); pbft: Byzantine fault tolerant (3f+1 voters); auto: chosen by the selection matrix.",
      ),
    threshold: thresholdSchema.default({ fraction: 0.5, strict: true }),
    voters: roleList
      .optional()
      .describe("Roles whose agents vote. Default: every role of the swarm."),
    vetoRoles: roleList
      .default([])
      .describe("Roles whose rejection vetoes the proposal outright; they must be voters."),
    deadlineMs: integer(10, 86_400_000)
      .default(5000)
      .describe("How long a proposal stays open, in ms; undecided by then: no-quorum."),
    clusterSize: integer(2, 10_000)
      .optional()
      .describe("Members per cluster for hierarchical (default 5)."),
    faultTolerance: z
      .enum(["none", "crash", "byzantine"])
      .default("crash")
      .describe("For protocol auto: the failures the vote must survive."),
  })
  .describe("A privileged action: its handler runs only with a sealed approval.");

const priceSchema = z.strictObject({
  input: z.union([z.number().nonnegative(), z.string()]).describe("USD per 1M input tokens."),
  output: z.union([z.number().nonnegative(), z.string()]).describe("USD per 1M output tokens."),
});

const pricesSchema = z
  .strictObject({
    version: z
      .string()
      .min(1)
      .default("1")
      .describe("Recorded with every fee, so a bill can be reproduced."),
    creditsPerUsd: integer(1, 1_000_000_000_000)
      .default(1_000_000)
      .describe("Credits for one USD; the default makes a credit one micro-dollar."),
    models: z.record(z.string().min(1), priceSchema).default({}).describe("Prices by model name."),
  })
  .describe(
    "Model prices (USD per 1M tokens, the providers' convention), converted to integer credits.",
  );

const swarmObjectSchema = z.strictObject({
  swarm: pattern(
    SWARM_NAME,
    "a name of lowercase letters, digits and '-', starting with a letter, at most 63 characters",
  ).describe("Swarm name; becomes the subject prefix of every message."),
  description: z.string().optional().describe("What the swarm does."),
  transport: transportSchema
    .default("memory")
    .describe(`The bus: ${TRANSPORT_EXPECTED}. Use \${VAR} for credentials.`),
  store: storeSchema
    .optional()
    .describe(`Durable state: ${STORE_EXPECTED}. Default: sqlite:<dataDir>/<swarm>.db.`),
  dataDir: path
    .default(DEFAULT_DATA_DIR)
    .describe("Folder for local state; relative paths resolve against the swarm file's folder."),
  keysDir: path.optional().describe("Folder of the agents' key pairs. Default: <dataDir>/keys."),
  module: path
    .optional()
    .describe("JavaScript module that registers the handlers, relative to the swarm file."),
  signing: z
    .enum(["required", "optional"])
    .default("required")
    .describe(
      "required: every envelope is signed; optional: only votes, bids, handshakes and ledger messages.",
    ),
  limits: z
    .strictObject({
      maxEnvelopeBytes: integer(1024, 64 * 1024 * 1024)
        .default(1024 * 1024)
        .describe("Largest accepted envelope, in bytes."),
    })
    .prefault({})
    .describe("Hard limits every node enforces."),
  defaults: defaultsSchema.prefault({}),
  roles: z
    .record(
      pattern(
        ROLE_NAME,
        "a role name of lowercase letters, digits, '_' or '-', starting with a letter",
      ),
      roleSchema,
    )
    .describe("Roles by name."),
  agents: z
    .array(agentSchema)
    .min(1, { error: "expected at least one agent" })
    .describe("The agents of the swarm."),
  workload: freeForm.default({}).describe("Free-form settings the handler module may read."),
  prices: pricesSchema.prefault({}),
  privileged: z
    .record(
      pattern(
        TASK_TYPE,
        "an action name: a task type of lowercase letters, digits, '_' or '-', dot-separated",
      ),
      privilegedActionSchema,
    )
    .default({})
    .describe(
      "Privileged actions by name (task types, e.g. funds.transfer): none runs without a sealed approval by the consensus protocol configured here.",
    ),
});

type ParsedSwarm = z.output<typeof swarmObjectSchema>;
type Context = z.RefinementCtx;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function numberAt(value: Record<string, unknown>, key: string): number | undefined {
  const found = value[key];
  return typeof found === "number" ? found : undefined;
}

// Runs even when single fields failed (see `when` below), so the object may be
// partly malformed: every check looks before it leaps.
function checkCrossFields(parsed: ParsedSwarm, ctx: Context): void {
  const value: unknown = parsed;
  if (!isRecord(value)) return;
  const defaults = value["defaults"];
  if (isRecord(defaults)) {
    checkLiveness(defaults, ctx);
    const backoff = defaults["backoff"];
    if (isRecord(backoff)) checkBackoff(backoff, undefined, ["defaults", "backoff"], ctx);
  }
  const roles = value["roles"];
  if (isRecord(roles) && isRecord(defaults) && isRecord(defaults["backoff"])) {
    for (const [name, role] of Object.entries(roles)) {
      if (isRecord(role) && isRecord(role["backoff"])) {
        checkBackoff(defaults["backoff"], role["backoff"], ["roles", name, "backoff"], ctx);
      }
    }
  }
  const agents = value["agents"];
  if (Array.isArray(agents)) checkAgents(agents, isRecord(roles) ? roles : undefined, ctx);
  const privileged = value["privileged"];
  if (isRecord(privileged) && isRecord(roles)) {
    for (const [action, settings] of Object.entries(privileged)) {
      if (isRecord(settings)) {
        checkPrivileged(action, settings, roles, Array.isArray(agents) ? agents : [], ctx);
      }
    }
  }
}

/** PBFT needs 3f + 1 replicas to tolerate f traitors: fewer than 4 tolerate none. */
const PBFT_MIN_VOTERS = 4;

function checkPrivileged(
  action: string,
  settings: Record<string, unknown>,
  roles: Record<string, unknown>,
  agents: readonly unknown[],
  ctx: Context,
): void {
  const at = (...rest: (string | number)[]) => ["privileged", action, ...rest];
  const roleNames = Object.keys(roles);
  const listed = (key: "voters" | "vetoRoles"): string[] | undefined => {
    const list = settings[key];
    if (!Array.isArray(list)) return undefined;
    list.forEach((role, index) => {
      if (typeof role === "string" && !(role in roles)) {
        ctx.addIssue({
          code: "custom",
          path: at(key, index),
          message: `role ${JSON.stringify(role)} is not defined under roles${didYouMean(role, roleNames)}; defined roles: ${quoteList(roleNames)}`,
        });
      }
    });
    return list.filter((r): r is string => typeof r === "string");
  };
  const voters = listed("voters") ?? roleNames;
  const vetoRoles = listed("vetoRoles") ?? [];
  vetoRoles.forEach((role, index) => {
    if (role in roles && !voters.includes(role)) {
      ctx.addIssue({
        code: "custom",
        path: at("vetoRoles", index),
        message: `veto role ${JSON.stringify(role)} is not among the voters (${quoteList(voters)}); a role that does not vote cannot veto, so add it to voters`,
      });
    }
  });
  const electorate = agents.filter(
    (a): a is Record<string, unknown> =>
      isRecord(a) && typeof a["role"] === "string" && voters.includes(a["role"]),
  );
  if (electorate.length === 0) {
    ctx.addIssue({
      code: "custom",
      path: at("voters"),
      message: `no agent has a voter role (${quoteList(voters)}), so "${action}" could never be approved; add agents of those roles or change voters`,
    });
    return;
  }
  const threshold = settings["threshold"];
  if (isRecord(threshold) && typeof threshold["weight"] === "number") {
    const total = electorate.reduce(
      (sum, a) => sum + (typeof a["weight"] === "number" ? a["weight"] : 1),
      0,
    );
    if (threshold["weight"] > total + 1e-9) {
      ctx.addIssue({
        code: "custom",
        path: at("threshold", "weight"),
        message: `expected at most the voters' total weight (${total}), got ${threshold["weight"]}: "${action}" could never be approved; lower the threshold or add voters`,
      });
    }
  }
  const protocol = settings["protocol"];
  if (protocol === "pbft" && electorate.length < PBFT_MIN_VOTERS) {
    ctx.addIssue({
      code: "custom",
      path: at("protocol"),
      message: `pbft needs at least ${PBFT_MIN_VOTERS} voters (3f + 1 with f ≥ 1), "${action}" has ${electorate.length}; use quorum or add voters`,
    });
  }
  if (settings["clusterSize"] !== undefined && protocol !== "hierarchical" && protocol !== "auto") {
    ctx.addIssue({
      code: "custom",
      path: at("clusterSize"),
      message: `clusterSize applies to the hierarchical protocol, but "${action}" uses ${String(protocol)}; remove it or set protocol: hierarchical`,
    });
  }
}

function checkLiveness(defaults: Record<string, unknown>, ctx: Context): void {
  const heartbeat = numberAt(defaults, "heartbeatMs");
  const suspect = numberAt(defaults, "suspectAfterMs");
  const left = numberAt(defaults, "leftAfterMs");
  if (heartbeat !== undefined && suspect !== undefined && suspect <= heartbeat) {
    ctx.addIssue({
      code: "custom",
      path: ["defaults", "suspectAfterMs"],
      message: `expected more than heartbeatMs (${heartbeat}), got ${suspect}: an agent must miss a heartbeat before it is suspect`,
    });
  }
  if (left !== undefined && heartbeat !== undefined) {
    const effectiveSuspect = suspect ?? heartbeat * SUSPECT_HEARTBEATS;
    if (left <= effectiveSuspect) {
      const which =
        suspect === undefined
          ? `the default suspectAfterMs (${effectiveSuspect} = ${SUSPECT_HEARTBEATS} × heartbeatMs)`
          : `suspectAfterMs (${effectiveSuspect})`;
      ctx.addIssue({
        code: "custom",
        path: ["defaults", "leftAfterMs"],
        message: `expected more than ${which}, got ${left}`,
      });
    }
  }
}

function checkBackoff(
  base: Record<string, unknown>,
  override: Record<string, unknown> | undefined,
  path: readonly string[],
  ctx: Context,
): void {
  const effective = { ...base, ...stripUndefined(override ?? {}) };
  const baseMs = numberAt(effective, "baseMs");
  const maxMs = numberAt(effective, "maxMs");
  if (baseMs === undefined || maxMs === undefined || maxMs >= baseMs) return;
  const blamed = override === undefined || override["maxMs"] !== undefined ? "maxMs" : "baseMs";
  ctx.addIssue({
    code: "custom",
    path: [...path, blamed],
    message:
      blamed === "maxMs"
        ? `expected maxMs at least baseMs (${baseMs}), got ${maxMs}`
        : `expected baseMs at most the default maxMs (${maxMs}), got ${baseMs}`,
  });
}

function stripUndefined(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

function checkAgents(
  agents: readonly unknown[],
  roles: Record<string, unknown> | undefined,
  ctx: Context,
): void {
  const firstIndexOf = new Map<string, number>();
  const roleNames = roles === undefined ? [] : Object.keys(roles);
  agents.forEach((agent, index) => {
    if (!isRecord(agent)) return;
    const id = agent["id"];
    if (typeof id === "string") {
      const first = firstIndexOf.get(id);
      if (first === undefined) firstIndexOf.set(id, index);
      else {
        ctx.addIssue({
          code: "custom",
          path: ["agents", index, "id"],
          message: `duplicate agent id ${JSON.stringify(id)}, already used by agents.${first}; ids must be unique in the swarm`,
        });
      }
    }
    const role = agent["role"];
    if (roles !== undefined && typeof role === "string" && role.length > 0 && !(role in roles)) {
      const defined =
        roleNames.length === 0 ? "no roles are defined" : `defined roles: ${quoteList(roleNames)}`;
      ctx.addIssue({
        code: "custom",
        path: ["agents", index, "role"],
        message: `role ${JSON.stringify(role)} is not defined under roles${didYouMean(role, roleNames)}; ${defined}`,
      });
    }
  });
}

function buildRole(
  name: string,
  role: ParsedSwarm["roles"][string],
  defaults: DefaultsConfig,
): RoleConfig {
  return {
    name,
    ...(role.description === undefined ? {} : { description: role.description }),
    tasks: role.tasks,
    ackWaitMs: role.ackWaitMs ?? defaults.ackWaitMs,
    maxDeliver: role.maxDeliver ?? defaults.maxDeliver,
    concurrency: role.concurrency ?? defaults.concurrency,
    backoff: {
      ...defaults.backoff,
      ...(stripUndefined(role.backoff ?? {}) as Partial<BackoffConfig>),
    },
    ordering: role.ordering,
    routing: role.routing,
  };
}

function build(parsed: ParsedSwarm): SwarmConfig {
  const heartbeatMs = parsed.defaults.heartbeatMs;
  const suspectAfterMs = parsed.defaults.suspectAfterMs ?? heartbeatMs * SUSPECT_HEARTBEATS;
  const defaults: DefaultsConfig = {
    ...parsed.defaults,
    heartbeatMs,
    suspectAfterMs,
    leftAfterMs:
      parsed.defaults.leftAfterMs ?? suspectAfterMs + heartbeatMs * LEFT_EXTRA_HEARTBEATS,
  };
  const roles: Record<string, RoleConfig> = {};
  for (const [name, role] of Object.entries(parsed.roles)) {
    roles[name] = buildRole(name, role, defaults);
  }
  const agents = parsed.agents.map(
    (agent): AgentConfig => ({
      ...agent,
      // The cross-field check guarantees the role exists; the fallback only satisfies the compiler.
      concurrency: agent.concurrency ?? roles[agent.role]?.concurrency ?? defaults.concurrency,
    }),
  );
  return deepFreeze({
    swarm: parsed.swarm,
    ...(parsed.description === undefined ? {} : { description: parsed.description }),
    transport: parsed.transport,
    store: parsed.store ?? `sqlite:${join(parsed.dataDir, `${parsed.swarm}.db`)}`,
    dataDir: parsed.dataDir,
    keysDir: parsed.keysDir ?? join(parsed.dataDir, "keys"),
    ...(parsed.module === undefined ? {} : { module: parsed.module }),
    signing: parsed.signing,
    limits: parsed.limits,
    defaults,
    roles,
    agents,
    workload: parsed.workload,
    prices: parsed.prices,
    privileged: Object.fromEntries(
      Object.entries(parsed.privileged).map(([action, p]): [string, PrivilegedActionConfig] => [
        action,
        {
          protocol: p.protocol,
          threshold: p.threshold,
          voters: p.voters ?? Object.keys(parsed.roles),
          vetoRoles: p.vetoRoles,
          deadlineMs: p.deadlineMs,
          ...(p.clusterSize === undefined ? {} : { clusterSize: p.clusterSize }),
          faultTolerance: p.faultTolerance,
        },
      ]),
    ),
  });
}

/** Freezes `value` and everything reachable from it, so a config can be shared safely. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * The swarm file schema. Its input is the YAML as written (camelCase keys,
 * unknown keys rejected); its output is a frozen {@link SwarmConfig} with
 * every default applied and role settings pushed down to roles and agents.
 * Paths stay as written; `parseSwarmConfig` resolves them.
 *
 * @example
 * ```ts
 * const config = swarmConfigSchema.parse({
 *   swarm: "demo",
 *   roles: { worker: { tasks: ["echo"] } },
 *   agents: [{ id: "w-1", role: "worker" }],
 * });
 * config.roles.worker?.maxDeliver; // 5
 * ```
 */
export const swarmConfigSchema = swarmObjectSchema
  // Cross-field checks run even if single fields failed, so one pass reports everything.
  .superRefine(checkCrossFields, { when: () => true })
  .transform(build);

/** The swarm file as written, before defaults: what a program may pass instead of YAML. */
export type SwarmConfigInput = z.input<typeof swarmConfigSchema>;
