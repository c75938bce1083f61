// The swarm file: the top-level schema, the cross-field checks that span
// sections, and the build of the frozen SwarmConfig. Each section has its own
// module with its schema, checks and build: connection.ts (transport, store,
// broker), delivery.ts (defaults), roles.ts, agents.ts, tasks.ts, prices.ts,
// privileged.ts, models.ts, ensembles.ts, pools.ts, slots.ts, gateway.ts,
// humans.ts, mcp.ts.
import { z } from "zod";
import { type AgentConfig, agentsSchema, buildAgents, checkAgents } from "./agents.js";
import {
  type BrokerConfig,
  brokerSchema,
  buildBroker,
  checkBroker,
  STORE_EXPECTED,
  storeSchema,
  TRANSPORT_EXPECTED,
  transportSchema,
} from "./connection.js";
import { defaultKeysDir, defaultStoreUrl } from "./defaults.js";
import {
  buildDefaults,
  checkBackoff,
  checkLiveness,
  type DefaultsConfig,
  defaultsSchema,
} from "./delivery.js";
import {
  buildEnsembles,
  checkEnsembles,
  type EnsembleConfig,
  ensemblesSchema,
} from "./ensembles.js";
import { freeForm, integer, isRecord, path, pattern, TASK_TYPE } from "./fields.js";
import { buildGateway, checkGateway, type GatewayConfig, gatewaySchema } from "./gateway.js";
import { buildHumanVoters, checkHumans, humansSchema } from "./humans.js";
import { buildMcp, checkMcp, type McpServerConfig, mcpSchema } from "./mcp.js";
import { buildModels, checkModels, type ModelConfig, modelsSchema } from "./models.js";
import { buildPools, checkPools, type PoolConfig, poolsSchema } from "./pools.js";
import { type PricesConfig, pricesSchema } from "./prices.js";
import {
  checkPrivileged,
  type PrivilegedActionConfig,
  privilegedActionSchema,
} from "./privileged.js";
import { buildRole, checkRoles, type RoleConfig, rolesSchema } from "./roles.js";
import { checkSlots, type SlotsConfig, slotsSchema } from "./slots.js";
import { buildTaskTypes, checkTaskType, type TaskTypeConfig, tasksSchema } from "./tasks.js";
import { buildTeams, checkTeams, type TeamConfig, teamsSchema } from "./teams.js";

// The swarm file's types, also importable from here.
export type { AgentConfig } from "./agents.js";
export {
  type BrokerConfig,
  type BrokerTlsConfig,
  transportProblem,
} from "./connection.js";
export type { BackoffConfig, DefaultsConfig } from "./delivery.js";
export type { PricesConfig } from "./prices.js";
export type { OrderingMode, RemoteRoleConfig, RoleConfig, RoutingStrategy } from "./roles.js";
export type {
  AuctionConfig,
  AuctionCriterionConfig,
  AuctionRuleName,
  TaskTypeConfig,
} from "./tasks.js";

/** Who may join the swarm: see `src/registry/admission.ts`. */
export type AdmissionConfig = "declared" | "credential" | "vote";

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
  /** Teams for hierarchical delegation: a lead and its members, by name. */
  readonly teams: Readonly<Record<string, TeamConfig>>;
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
const PUBLIC_KEY = /^[A-Za-z0-9_-]{43}$/;

// Stated once so the schema, its messages and the JSON Schema agree.
const DEFAULT_DATA_DIR = ".conclave";

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
  roles: rolesSchema,
  agents: agentsSchema,
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
  tasks: tasksSchema,
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
  teams: teamsSchema,
  gateway: gatewaySchema,
  humans: humansSchema,
  mcp: mcpSchema,
});

type ParsedSwarm = z.output<typeof swarmObjectSchema>;
type Context = z.RefinementCtx;

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
  if (isRecord(roles)) checkRoles(roles, defaults, ctx);
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
  checkPools(
    value["pools"],
    agents,
    roles,
    tasks,
    (issue) => ctx.addIssue({ code: "custom", ...issue }),
    { teams: value["teams"], ensembles: value["ensembles"], defaults: value["defaults"] ?? {} },
  );
  checkSlots(
    value["slots"],
    roles,
    agents,
    (issue) => ctx.addIssue({ code: "custom", ...issue }),
    value["pools"],
  );
  checkTeams(value["teams"], agents, roles, (issue) => ctx.addIssue({ code: "custom", ...issue }));
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
  // Nodes check credentials against operator.publicKey: without it they accept none.
  if (value["admission"] === "credential" && value["operator"] === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["admission"],
      message:
        "admission: credential needs the key that signs the credentials: add operator: { publicKey: … } (conclave keys gen operator prints it), or use admission: declared",
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

function build(parsed: ParsedSwarm): SwarmConfig {
  const defaults = buildDefaults(parsed.defaults);
  const roles: Record<string, RoleConfig> = {};
  for (const [name, role] of Object.entries(parsed.roles)) {
    roles[name] = buildRole(name, role, defaults);
  }
  const agents = buildAgents(parsed.agents, roles, defaults.concurrency);
  return deepFreeze({
    swarm: parsed.swarm,
    ...(parsed.description === undefined ? {} : { description: parsed.description }),
    transport: parsed.transport,
    store: parsed.store ?? defaultStoreUrl(parsed.swarm, parsed.dataDir),
    broker: buildBroker(parsed.broker),
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
    teams: buildTeams(parsed.teams),
    ...(parsed.gateway === undefined ? {} : { gateway: buildGateway(parsed.gateway) }),
    humans: parsed.humans,
    mcp: buildMcp(parsed.mcp),
    tasks: buildTaskTypes(parsed.tasks, parsed.roles),
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
