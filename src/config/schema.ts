import { z } from "zod";
import { defaultKeysDir, defaultStoreUrl } from "./defaults.js";
import {
  buildEnsembles,
  checkEnsembles,
  type EnsembleConfig,
  ensemblesSchema,
} from "./ensembles.js";
import { expecting, type IssueInput, integer, isRecord, path, pattern } from "./fields.js";
import { buildGateway, checkGateway, type GatewayConfig, gatewaySchema } from "./gateway.js";
import { buildHumanVoters, checkHumans, humansSchema } from "./humans.js";
import { buildMcp, checkMcp, type McpServerConfig, mcpSchema } from "./mcp.js";
import { describeValue, didYouMean, quoteList } from "./messages.js";
import {
  type AgentLlmConfig,
  agentLlmSchema,
  buildModels,
  checkModels,
  type ModelConfig,
  modelsSchema,
} from "./models.js";
import { buildPools, checkPools, type PoolConfig, poolsSchema } from "./pools.js";
import {
  checkPrivileged,
  type PrivilegedActionConfig,
  privilegedActionSchema,
} from "./privileged.js";
import { redactUrl } from "./redact.js";
import { checkSlots, type SlotsConfig, slotsSchema } from "./slots.js";

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
  /** Set when an outside agent serves the role: its agents answer its tasks by calling it. */
  readonly remote?: RemoteRoleConfig;
}

/** An outside agent that serves a role's tasks. */
export interface RemoteRoleConfig {
  /** URL of the remote A2A agent's card, e.g. `http://host:port/.well-known/agent-card.json`. */
  readonly a2a: string;
  /** Bearer token sent to the remote agent (write it as `${VAR}`). */
  readonly token?: string;
  /** Longest one call to the remote agent may take before the attempt fails and is retried, in ms. */
  readonly timeoutMs: number;
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
  /** Who operates the agent; agents sharing an owner bidding in one auction are suspected shills. */
  readonly owner?: string;
  /** The agent's pinned key: base64url public key or `SHA256:` fingerprint; absent: pinned on first sight. */
  readonly publicKey?: string;
  /** Path of a membership credential (JSON) the agent's card carries, for nodes that do not declare it. */
  readonly credential?: string;
  /** Set for an LLM agent: its model, prompt, tools and limits. */
  readonly llm?: AgentLlmConfig;
}

/** Who may join the swarm: see `src/registry/admission.ts`. */
export type AdmissionConfig = "declared" | "credential" | "vote";

/** One criterion of a multi-criteria auction. */
export interface AuctionCriterionConfig {
  /** The field of each bid's `criteria` it reads, e.g. `cost`. */
  readonly name: string;
  /** Relative weight; weights are normalised to sum 1. */
  readonly weight: number;
  /** `min`: lower is better (cost, latency); `max`: higher is better (quality). */
  readonly direction: "min" | "max";
}

/** Auction rule names. */
export type AuctionRuleName = "multi-criteria" | "first-price" | "vickrey" | "english" | "dutch";

/** How tasks of one type are allocated by auction (contract-net). */
export interface AuctionConfig {
  readonly rule: AuctionRuleName;
  /** `procurement`: bidders ask to be paid, lowest effective ask wins; `sale`: highest bid wins and pays. */
  readonly side: "procurement" | "sale";
  /** Procurement: the most the auctioneer pays; sale: the least it accepts. In credits. */
  readonly reserve?: number;
  /** How long each round takes bids, in ms. */
  readonly roundMs: number;
  /** Rounds of an English auction at most. */
  readonly maxRounds: number;
  /** English: the least a new bid must improve on the standing one. */
  readonly minIncrement?: number;
  /** Dutch: where the clock starts, how much it moves per step, and how often. */
  readonly startPrice?: number;
  readonly step?: number;
  readonly stepMs?: number;
  /** Multi-criteria: what bids are scored on. */
  readonly criteria: readonly AuctionCriterionConfig[];
  /** What happens to a task nobody won: queued to its role as usual, or dead-lettered. */
  readonly onUnsold: "queue" | "dead-letter";
}

/** How the tasks of one type are allocated. */
export interface TaskTypeConfig {
  /** `queue`: the first free agent of the role takes it; `auction`: the role's agents bid for it. */
  readonly allocation: "queue" | "auction";
  /** The role whose agents bid; the role listing the task when only one does. */
  readonly role: string;
  /** Set when `allocation` is `auction`. */
  readonly auction?: AuctionConfig;
}

/** Model prices as written in the swarm file. */
export interface PricesConfig {
  readonly version: string;
  readonly creditsPerUsd: number;
  readonly models: Readonly<
    Record<string, { readonly input: number | string; readonly output: number | string }>
  >;
}

/** PEM files for a TLS connection to the broker; absolute once loaded. */
export interface BrokerTlsConfig {
  /** The CA that signed the broker's certificate; unset: the system's trusted CAs. */
  readonly ca?: string;
  /** This node's client certificate, for brokers that verify clients (mutual TLS). */
  readonly cert?: string;
  /** The client certificate's private key. */
  readonly key?: string;
}

/**
 * How a node connects to its broker, beyond the transport URL. Every field
 * is optional in the file; what applies depends on the transport (the schema
 * refuses settings the transport cannot honour).
 */
export interface BrokerConfig {
  /** More servers of the NATS cluster (`nats://host:port` or `tls://host:port`), tried with the transport URL's. */
  readonly servers: readonly string[];
  /** Copies of each queue stream in a JetStream cluster (NATS); unset: 1. */
  readonly replicas?: 1 | 3 | 5;
  /** Where JetStream keeps queue streams (NATS); unset: file. */
  readonly storage?: "file" | "memory";
  /**
   * fsync every write of this node's SQLite files (the embedded transport's
   * journal, a `sqlite:` store) before acknowledging it: what survives a
   * power loss, at the cost of one fsync per commit. Brokers sync on their
   * own side (see the swarm file reference).
   */
  readonly syncEveryWrite: boolean;
  /** TLS files; with a `nats://`, `tls://` or `amqps://` transport only. */
  readonly tls?: BrokerTlsConfig;
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
  /** Broker connection settings beyond the transport URL (servers, replicas, TLS files, sync). */
  readonly broker: BrokerConfig;
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
  /** Task types answered by an ensemble of member agents. */
  readonly ensembles: Readonly<Record<string, EnsembleConfig>>;
  /** Autoscaling pools by role: workers spawned from a template agent, retired when idle. */
  readonly pools: Readonly<Record<string, PoolConfig>>;
  /** Roles staffed by their best agents, the others on standby. */
  readonly slots?: SlotsConfig;
  /** What outside callers (A2A, MCP) may start, and how they authenticate. */
  readonly gateway?: GatewayConfig;
  /** People who may vote on privileged actions, with the public keys their votes are signed with. */
  readonly humans: Readonly<Record<string, { readonly publicKey: string }>>;
  /** MCP servers whose tools LLM agents may call (`mcp:<server>` in `llm.tools`). */
  readonly mcp: Readonly<Record<string, McpServerConfig>>;
  /** Allocation settings by task type; types not listed are queued to their role. */
  readonly tasks: Readonly<Record<string, TaskTypeConfig>>;
  /** Who may join: declared agents only (default), or also by credential, or by vote. */
  readonly admission: AdmissionConfig;
  /** The swarm's authority: its key signs credentials and revocations. */
  readonly operator?: { readonly publicKey: string };
  /** Models by name, as written: `${VAR}` references are resolved when a node starts a model. */
  readonly models: Readonly<Record<string, ModelConfig>>;
}

const SWARM_NAME = /^[a-z][a-z0-9-]{0,62}$/;
const ROLE_NAME = /^[a-z][a-z0-9_-]{0,63}$/;
const AGENT_ID = /^[A-Za-z0-9_-]{1,128}$/;
const TASK_TYPE = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;
const PUBLIC_KEY = /^[A-Za-z0-9_-]{43}$/;
const PINNED_KEY = /^([A-Za-z0-9_-]{43}|SHA256:[A-Za-z0-9_-]{43})$/;
const TRANSPORT = /^(memory|(nats|tls|amqps?):\/\/.+)$/;
const STORE = /^(sqlite:.+|postgres(ql)?:\/\/.+)$/;

// Stated once so the schema, its messages and the JSON Schema agree.
const DEFAULT_DATA_DIR = ".conclave";
const SUSPECT_HEARTBEATS = 3;
const LEFT_EXTRA_HEARTBEATS = 7;

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

/**
 * What is wrong with a transport URL, as the swarm file's `transport` is
 * checked (the command line's `--transport` uses it too); undefined when it
 * is well formed.
 */
export function transportProblem(value: string): string | undefined {
  const result = transportSchema.safeParse(value);
  return result.success ? undefined : result.error.issues[0]?.message;
}

// A bare path is the likeliest slip: say how to write it.
function schemeHint(input: unknown): string {
  return typeof input === "string" && input !== "" && !/^[a-z][a-z0-9+.-]*:/i.test(input)
    ? `; for a SQLite file write sqlite:${input}`
    : "";
}

const STORE_EXPECTED = `"sqlite:<path>", "sqlite::memory:" or a postgres:// or postgresql:// URL`;
const storeSchema = z
  .string()
  .regex(STORE, {
    error: (issue: IssueInput) =>
      `expected ${STORE_EXPECTED}, got ${shownUrl(issue.input)}${schemeHint(issue.input)}`,
    // A value of the wrong form is not then also a malformed postgres URL.
    abort: true,
  })
  // Postgres accepts a host-less URL (a Unix socket given as ?host=...), so only well-formedness is checked.
  .refine((value) => value.startsWith("sqlite:") || isValidUrl(value, false), {
    error: (issue: IssueInput) =>
      `expected a well-formed postgres URL, got ${shownUrl(issue.input)}; percent-encode special characters in user names and passwords`,
  });

const freeForm = z.record(z.string(), z.unknown());
const label = z.string().min(1).max(128);

// A seed server of a NATS cluster: no credentials here (they come from the
// transport URL and apply to every server), no path.
const NATS_SERVER = /^(nats|tls):\/\/[^\s/@?#]+\/?$/;

const brokerTlsSchema = z
  .strictObject({
    ca: path
      .optional()
      .describe(
        "PEM file of the CA that signed the broker's certificate, relative to the swarm file. Default: the system's trusted CAs.",
      ),
    cert: path
      .optional()
      .describe(
        "PEM file of this node's client certificate, for a broker that verifies clients (mutual TLS); needs key.",
      ),
    key: path
      .optional()
      .describe(
        "PEM file of the client certificate's private key (keep it mode 0600); needs cert.",
      ),
  })
  .describe(
    "TLS files for the broker connection (nats://, tls:// or amqps:// transports), relative to the swarm file.",
  );

const brokerSchema = z
  .strictObject({
    servers: z
      .array(
        z.string().regex(NATS_SERVER, {
          error: (issue: IssueInput) =>
            `expected nats://host:port or tls://host:port without credentials (they come from transport), got ${shownUrl(issue.input)}`,
        }),
      )
      .default([])
      .describe(
        "More servers of the same NATS cluster, tried with the transport URL's (seeds: the client learns the rest of the cluster from them).",
      ),
    replicas: z
      .literal([1, 3, 5])
      .optional()
      .describe(
        "Copies of each queue stream in a JetStream cluster (1, 3 or 5; at most the cluster size). NATS only. Default: 1.",
      ),
    storage: z
      .enum(["file", "memory"])
      .optional()
      .describe(
        "Where JetStream keeps queue streams: file survives a server restart, memory does not. NATS only. Default: file.",
      ),
    syncEveryWrite: z
      .boolean()
      .default(false)
      .describe(
        "fsync every write of this node's SQLite files (embedded transport journal, sqlite store) before acknowledging it: survives a power loss, at one fsync per commit. On NATS also set jetstream { sync_interval: always } on the servers (2.10+) or use replicas: 3; RabbitMQ quorum queues always fsync before confirming.",
      ),
    tls: brokerTlsSchema.optional(),
  })
  .describe(
    "Broker connection settings beyond the transport URL: cluster servers, stream replicas and storage, write sync, TLS files.",
  );

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

// A card URL: http(s) with a host. Echoed redacted, since it may carry credentials.
function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname.length > 0;
  } catch {
    return false;
  }
}

const remoteRoleSchema = z
  .strictObject({
    a2a: z
      .string({ error: expecting("the URL of the remote A2A agent's card") })
      .refine(isHttpUrl, {
        error: (issue: IssueInput) =>
          `expected the http:// or https:// URL of the remote A2A agent's card, e.g. http://127.0.0.1:9000/.well-known/agent-card.json, got ${shownUrl(issue.input)}`,
      })
      .describe(
        "URL of the remote A2A agent's card (http:// or https://, e.g. http://host:9000/.well-known/agent-card.json).",
      ),
    token: z
      .string()
      .min(1)
      .optional()
      .describe(`Bearer token sent to the remote agent; write it as \${VAR}.`),
    timeoutMs: integer(100, 3_600_000)
      .default(60_000)
      .describe(
        "Longest one call to the remote agent may take, in ms; a call that takes longer fails and is retried like any task.",
      ),
  })
  .describe(
    "The role is served by an outside A2A agent: its agents answer each of the role's tasks by sending it to that agent (message/send) and returning its answer.",
  );

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
    remote: remoteRoleSchema.optional(),
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
    owner: label
      .optional()
      .describe(
        "Who operates the agent (a team, a key fingerprint); agents with one owner bidding in one auction are refused as shills.",
      ),
    publicKey: pattern(
      PINNED_KEY,
      "a base64url Ed25519 public key (43 characters) or a SHA256: fingerprint",
    )
      .optional()
      .describe(
        "Pins the agent's key (conclave keys gen prints it): a card with another key is refused. Without it the key is pinned on first sight.",
      ),
    credential: path
      .optional()
      .describe(
        "A membership credential file (conclave admit) the agent's card carries, so that nodes whose swarm file does not declare it admit it (admission: credential).",
      ),
    llm: agentLlmSchema.optional(),
  })
  .describe("One agent of the swarm.");

const credits = integer(0, Number.MAX_SAFE_INTEGER);

const auctionSchema = z
  .strictObject({
    rule: z
      .enum(["multi-criteria", "first-price", "vickrey", "english", "dutch"])
      .default("vickrey")
      .describe(
        "multi-criteria: weighted, normalised criteria; first-price: sealed, best bid pays/is paid its own; vickrey: sealed, second price; english: open rounds with a minimum increment; dutch: a moving price clock, first taker wins.",
      ),
    side: z
      .enum(["procurement", "sale"])
      .default("procurement")
      .describe(
        "procurement (tasks): bidders ask to be paid, the lowest effective ask wins; sale: the highest effective bid wins and pays.",
      ),
    reserve: credits
      .optional()
      .describe("Procurement: the most the auctioneer pays; sale: the least it accepts. Credits."),
    roundMs: integer(1, 3_600_000).default(200).describe("How long each round takes bids, in ms."),
    maxRounds: integer(1, 1000).default(5).describe("Rounds of an English auction at most."),
    minIncrement: integer(1, Number.MAX_SAFE_INTEGER)
      .optional()
      .describe("English: the least a new bid must improve on the standing one, in credits."),
    startPrice: credits.optional().describe("Dutch: the clock's first price, in credits."),
    step: integer(1, Number.MAX_SAFE_INTEGER)
      .optional()
      .describe("Dutch: how much the clock moves per step, in credits."),
    stepMs: integer(1, 3_600_000).optional().describe("Dutch: how often the clock moves, in ms."),
    criteria: z
      .array(
        z.strictObject({
          name: z.string().min(1).describe("The bid field it reads, e.g. cost."),
          weight: z
            .number({ error: expecting("a number > 0") })
            .positive({ error: expecting("a number > 0") })
            .describe("Relative weight; weights are normalised to sum 1."),
          direction: z
            .enum(["min", "max"])
            .describe("min: lower is better; max: higher is better."),
        }),
      )
      .default([])
      .describe("Multi-criteria: what bids are scored on."),
    onUnsold: z
      .enum(["queue", "dead-letter"])
      .default("queue")
      .describe(
        "A task nobody won: queued to its role as usual, or dead-lettered with the reason.",
      ),
  })
  .describe("Auction settings (contract-net): a call for proposals, signed bids, an award.");

const taskTypeSchema = z
  .strictObject({
    allocation: z
      .enum(["queue", "auction"])
      .default("queue")
      .describe(
        "queue: the first free agent of the role takes it; auction: the role's agents bid.",
      ),
    role: z
      .string()
      .min(1)
      .optional()
      .describe("The role whose agents bid. Default: the one role listing the task."),
    auction: auctionSchema.optional(),
  })
  .describe("How tasks of this type are allocated.");

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
  broker: brokerSchema.prefault({}),
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
  tasks: z
    .record(
      pattern(TASK_TYPE, "a task type of lowercase letters, digits, '_' or '-', dot-separated"),
      taskTypeSchema,
    )
    .default({})
    .describe(
      "Allocation by task type: types not listed here are queued to their role; allocation: auction runs a contract-net auction among the role's agents.",
    ),
  admission: z
    .enum(["declared", "credential", "vote"])
    .default("declared")
    .describe(
      "Who may join: declared (only the agents listed here, with the role, weight and owner given here), credential (also agents carrying a credential the operator signed), vote (also agents the swarm admits by a swarm.admit decision).",
    ),
  operator: z
    .strictObject({
      publicKey: pattern(PUBLIC_KEY, "a base64url Ed25519 public key (43 characters)").describe(
        "The operator's public key (conclave keys gen operator prints it).",
      ),
    })
    .optional()
    .describe(
      "The swarm's authority: signs membership credentials (conclave admit) and revocations (conclave revoke).",
    ),
  models: modelsSchema,
  ensembles: ensemblesSchema,
  pools: poolsSchema,
  slots: slotsSchema,
  gateway: gatewaySchema,
  humans: humansSchema,
  mcp: mcpSchema,
});

type ParsedSwarm = z.output<typeof swarmObjectSchema>;
type Context = z.RefinementCtx;

function numberAt(value: Record<string, unknown>, key: string): number | undefined {
  const found = value[key];
  return typeof found === "number" ? found : undefined;
}

// Runs even when single fields failed (see `when` below), so the object may be
// partly malformed: every check looks before it leaps.
function checkCrossFields(parsed: ParsedSwarm, ctx: Context): void {
  const value: unknown = parsed;
  if (!isRecord(value)) return;
  checkBroker(value, ctx);
  const defaults = value["defaults"];
  if (isRecord(defaults)) {
    checkLiveness(defaults, ctx);
    const backoff = defaults["backoff"];
    if (isRecord(backoff)) checkBackoff(backoff, undefined, ["defaults", "backoff"], ctx);
  }
  const roles = value["roles"];
  if (isRecord(roles)) {
    for (const [name, role] of Object.entries(roles)) {
      const tasks = isRecord(role) ? role["tasks"] : undefined;
      if (
        isRecord(role) &&
        isRecord(role["remote"]) &&
        Array.isArray(tasks) &&
        tasks.length === 0
      ) {
        ctx.addIssue({
          code: "custom",
          path: ["roles", name, "tasks"],
          message: `role "${name}" is served by a remote agent but lists no tasks to send it; list them under tasks`,
        });
      }
    }
  }
  if (isRecord(roles) && isRecord(defaults) && isRecord(defaults["backoff"])) {
    for (const [name, role] of Object.entries(roles)) {
      if (isRecord(role) && isRecord(role["backoff"])) {
        checkBackoff(defaults["backoff"], role["backoff"], ["roles", name, "backoff"], ctx);
      }
    }
  }
  const agents = value["agents"];
  if (Array.isArray(agents)) checkAgents(agents, isRecord(roles) ? roles : undefined, ctx);
  const tasks = value["tasks"];
  if (isRecord(tasks) && isRecord(roles)) {
    for (const [task, settings] of Object.entries(tasks)) {
      if (isRecord(settings)) checkTaskType(task, settings, roles, ctx);
    }
  }
  checkModels(value["models"], agents, (issue) => ctx.addIssue({ code: "custom", ...issue }));
  checkEnsembles(value["ensembles"], agents, roles, (issue) =>
    ctx.addIssue({ code: "custom", ...issue }),
  );
  checkPools(value["pools"], agents, roles, tasks, (issue) =>
    ctx.addIssue({ code: "custom", ...issue }),
  );
  checkSlots(value["slots"], roles, (issue) => ctx.addIssue({ code: "custom", ...issue }));
  checkHumans(value, (issue) => ctx.addIssue({ code: "custom", ...issue }));
  if (
    value["admission"] === "vote" &&
    !(isRecord(value["privileged"]) && "swarm.admit" in value["privileged"])
  ) {
    ctx.addIssue({
      code: "custom",
      path: ["admission"],
      message:
        "admission: vote needs the vote: declare privileged: { swarm.admit: { voters: [<roles>], threshold: … } } (the council that decides who joins)",
    });
  }
  checkGateway(value["gateway"], agents, roles, (issue) =>
    ctx.addIssue({ code: "custom", ...issue }),
  );
  checkMcp(value["mcp"], agents, (issue) => ctx.addIssue({ code: "custom", ...issue }));
  const privileged = value["privileged"];
  if (isRecord(privileged) && isRecord(roles)) {
    for (const [action, settings] of Object.entries(privileged)) {
      if (isRecord(settings)) {
        checkPrivileged(action, settings, roles, Array.isArray(agents) ? agents : [], ctx);
      }
    }
  }
}

/** Refuses broker settings the transport cannot honour, saying what to change. */
function checkBroker(value: Record<string, unknown>, ctx: Context): void {
  const broker = value["broker"];
  const transport = value["transport"];
  if (!isRecord(broker) || typeof transport !== "string") return;
  const scheme = transport === "memory" ? "memory" : transport.slice(0, transport.indexOf(":"));
  const isNats = scheme === "nats" || scheme === "tls";
  // Never the URL itself: it may hold credentials.
  const described = scheme === "memory" ? `"memory" (in-process, no broker)` : `a ${scheme}:// URL`;
  const at = (...rest: string[]) => ["broker", ...rest];
  const refuse = (key: string, message: string) =>
    ctx.addIssue({ code: "custom", path: at(key), message });
  const servers = broker["servers"];
  if (Array.isArray(servers) && servers.length > 0 && !isNats) {
    refuse(
      "servers",
      `servers lists more NATS servers, but the transport is ${described}; remove broker.servers or set transport to a nats:// or tls:// URL`,
    );
  }
  if (broker["replicas"] !== undefined && !isNats) {
    refuse(
      "replicas",
      scheme === "memory"
        ? `replicas sets the copies of JetStream streams, but the transport is ${described}; remove broker.replicas or set transport to a nats:// URL`
        : "replicas applies to NATS JetStream; RabbitMQ quorum queues replicate over the cluster's nodes by themselves, so remove broker.replicas",
    );
  }
  if (broker["storage"] !== undefined && !isNats) {
    refuse(
      "storage",
      scheme === "memory"
        ? `storage applies to JetStream streams, but the transport is ${described}; remove broker.storage (the embedded transport journals to dataDir)`
        : "storage applies to NATS JetStream; RabbitMQ quorum queues always keep messages on disk, so remove broker.storage",
    );
  }
  const tls = broker["tls"];
  if (!isRecord(tls)) return;
  if (scheme === "memory") {
    refuse(
      "tls",
      `tls files secure a broker connection, but the transport is ${described}; remove broker.tls or set transport to tls://host:4222 (NATS) or amqps://host:5671 (RabbitMQ)`,
    );
  } else if (scheme === "amqp") {
    refuse(
      "tls",
      "tls files need a TLS connection, but the transport is a plain amqp:// URL; change it to amqps:// (port 5671 by default)",
    );
  }
  const hasCert = tls["cert"] !== undefined;
  const hasKey = tls["key"] !== undefined;
  if (hasCert !== hasKey) {
    ctx.addIssue({
      code: "custom",
      path: at("tls", hasCert ? "cert" : "key"),
      message: hasCert
        ? "a client certificate needs its private key: add key: <file> next to cert"
        : "a private key needs its client certificate: add cert: <file> next to key",
    });
  }
}

/** The roles whose `tasks` list `task`. */
function rolesListing(task: string, roles: Record<string, unknown>): string[] {
  return Object.entries(roles)
    .filter(([, r]) => isRecord(r) && Array.isArray(r["tasks"]) && r["tasks"].includes(task))
    .map(([name]) => name);
}

function checkTaskType(
  task: string,
  settings: Record<string, unknown>,
  roles: Record<string, unknown>,
  ctx: Context,
): void {
  const at = (...rest: (string | number)[]) => ["tasks", task, ...rest];
  const listing = rolesListing(task, roles);
  const role = settings["role"];
  if (typeof role === "string") {
    if (!(role in roles)) {
      ctx.addIssue({
        code: "custom",
        path: at("role"),
        message: `role ${JSON.stringify(role)} is not defined under roles${didYouMean(role, Object.keys(roles))}; defined roles: ${quoteList(Object.keys(roles))}`,
      });
    } else if (!listing.includes(role)) {
      ctx.addIssue({
        code: "custom",
        path: at("role"),
        message: `role ${JSON.stringify(role)} does not list "${task}" under its tasks, so its agents could never run it; add the task to the role`,
      });
    }
  } else if (listing.length !== 1) {
    ctx.addIssue({
      code: "custom",
      path: at(),
      message:
        listing.length === 0
          ? `no role lists "${task}" under its tasks, so nobody could run it; add it to a role's tasks`
          : `several roles list "${task}" (${quoteList(listing)}); say which one allocates it with role:`,
    });
  }
  const auction = settings["auction"];
  if (settings["allocation"] === "auction" && !isRecord(auction)) {
    ctx.addIssue({
      code: "custom",
      path: at("auction"),
      message: `allocation: auction needs an auction: block (at least { rule: vickrey }); or use allocation: queue`,
    });
  }
  if (!isRecord(auction)) return;
  if (settings["allocation"] !== "auction") {
    ctx.addIssue({
      code: "custom",
      path: at("allocation"),
      message: `an auction: block is set but allocation is not auction; set allocation: auction or remove the block`,
    });
  }
  const rule = auction["rule"];
  const need = (key: string, why: string) => {
    if (auction[key] === undefined) {
      ctx.addIssue({ code: "custom", path: at("auction", key), message: `${why}; add ${key}` });
    }
  };
  if (rule === "multi-criteria") {
    const criteria = auction["criteria"];
    if (!Array.isArray(criteria) || criteria.length === 0) {
      ctx.addIssue({
        code: "custom",
        path: at("auction", "criteria"),
        message:
          "multi-criteria needs at least one criterion, e.g. [{ name: cost, weight: 1, direction: min }]",
      });
    }
  }
  if (rule === "english") need("minIncrement", "an english auction needs the minimum raise");
  if (rule === "dutch") {
    need("startPrice", "a dutch auction needs the clock's first price");
    need("step", "a dutch auction needs how much the clock moves per step");
    need("stepMs", "a dutch auction needs how often the clock moves");
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
    ...(role.remote === undefined
      ? {}
      : {
          remote: {
            a2a: role.remote.a2a,
            ...(role.remote.token === undefined ? {} : { token: role.remote.token }),
            timeoutMs: role.remote.timeoutMs,
          },
        }),
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
    store: parsed.store ?? defaultStoreUrl(parsed.swarm, parsed.dataDir),
    broker: {
      servers: parsed.broker.servers.map((url) => url.replace(/\/$/, "")),
      ...(parsed.broker.replicas === undefined ? {} : { replicas: parsed.broker.replicas }),
      ...(parsed.broker.storage === undefined ? {} : { storage: parsed.broker.storage }),
      syncEveryWrite: parsed.broker.syncEveryWrite,
      ...(parsed.broker.tls === undefined
        ? {}
        : { tls: stripUndefined(parsed.broker.tls) as BrokerTlsConfig }),
    },
    dataDir: parsed.dataDir,
    keysDir: parsed.keysDir ?? defaultKeysDir(parsed.dataDir),
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
          voters:
            p.voters?.filter((v): v is string => typeof v === "string") ??
            Object.keys(parsed.roles),
          humans: buildHumanVoters(p.voters, parsed.humans),
          vetoRoles: p.vetoRoles,
          deadlineMs: p.deadlineMs,
          ...(p.clusterSize === undefined ? {} : { clusterSize: p.clusterSize }),
          faultTolerance: p.faultTolerance,
        },
      ]),
    ),
    admission: parsed.admission,
    ...(parsed.operator === undefined ? {} : { operator: parsed.operator }),
    models: buildModels(parsed.models),
    ensembles: buildEnsembles(parsed.ensembles),
    pools: buildPools(parsed.pools, parsed.agents),
    ...(parsed.slots === undefined ? {} : { slots: parsed.slots }),
    ...(parsed.gateway === undefined ? {} : { gateway: buildGateway(parsed.gateway) }),
    humans: parsed.humans,
    mcp: buildMcp(parsed.mcp),
    tasks: Object.fromEntries(
      Object.entries(parsed.tasks).map(([task, t]): [string, TaskTypeConfig] => [
        task,
        {
          allocation: t.allocation,
          // The cross-field check guarantees exactly one role lists the task when none is named.
          role: t.role ?? rolesListing(task, parsed.roles)[0] ?? "",
          ...(t.auction === undefined
            ? {}
            : { auction: stripUndefined(t.auction) as unknown as AuctionConfig }),
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
