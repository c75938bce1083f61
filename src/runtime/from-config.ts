import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { poolSlotIds } from "../config/pools.js";
import { redactUrl } from "../config/redact.js";
import type {
  AgentConfig,
  BrokerConfig,
  BrokerTlsConfig,
  RemoteRoleConfig,
  SwarmConfig as SwarmFile,
} from "../config/schema.js";
import type { Clock } from "../core/clock.js";
import { ConfigError } from "../errors/index.js";
import { type AgentKeyPair, decodePublicKey, loadOrCreateAgentKey } from "../identity/index.js";
import { loadAgentLlm, openModelPool } from "../llm/setup.js";
import { openStore } from "../store/open-store.js";
import type { DedupStore } from "../transport/amqp/dedup.js";
import { createMemoryTransport, MemoryTransport } from "../transport/memory/memory-transport.js";
import type { Transport } from "../transport/port.js";
import type { Agent } from "./agent.js";
import { storeDedup } from "./broker-dedup.js";
import { loadPolicyFile } from "./consensus/policy-file.js";
import { ensembleHandler, ensembleSpec, type WeightStore } from "./ensemble.js";
import { importUserModule } from "./import-module.js";
import { McpTools } from "./mcp-tools.js";
import { remoteA2AHandler } from "./remote-a2a.js";
import { bindRunState } from "./run-state.js";
import { createSwarm, type Swarm } from "./swarm.js";
import type { TeamSpec } from "./teams.js";

/**
 * A module named by the swarm file's `module`: it gives each hosted agent
 * its handlers.
 *
 * @example
 * ```js
 * // agents.mjs
 * export function setup(agent, { workload }) {
 *   if (agent.role === "developer") agent.handle("code", (ctx) => ctx.finish());
 * }
 * ```
 */
export interface SwarmModule {
  /**
   * Called once for each agent this process runs, before the swarm starts:
   * register its handlers (`agent.handle`), vote and bid handlers, start hooks.
   */
  setup(agent: Agent, context: SetupContext): void | Promise<void>;
}

/** What a swarm module's `setup` is told besides the agent. */
export interface SetupContext {
  /** The whole swarm file, validated. */
  readonly config: SwarmFile;
  /** The swarm file's `workload`, with command-line overrides applied. */
  readonly workload: Readonly<Record<string, unknown>>;
}

/** Options of {@link openSwarm}. */
export interface OpenSwarmOptions {
  /** Only these agents run in this process; default: every agent of the file. */
  readonly agents?: readonly string[];
  /** Overrides merged into the file's `workload`. */
  readonly workload?: Readonly<Record<string, unknown>>;
  /** Use this module instead of importing the file's `module`. */
  readonly module?: SwarmModule;
  /** Use this transport instead of the file's (tests). */
  readonly transport?: Transport;
  /** The runtime's clock; default the system clock (`conclave up` offsets it with `CONCLAVE_CLOCK_OFFSET_MS`). */
  readonly clock?: Clock;
  /**
   * Create the store when it does not exist (default true). Observers that
   * host no agent (`conclave top`, `conclave dashboard`) pass false: a
   * missing store is then a `StoreNotFoundError` and nothing is created.
   */
  readonly createStore?: boolean;
}

/** Options of {@link openTransport}. */
export interface OpenTransportOptions {
  /**
   * Where a RabbitMQ transport records enqueued ids for deduplication.
   * Default: in this process only. `openSwarm` passes one on the swarm store
   * (`storeDedup`), so duplicates are dropped across processes and restarts.
   */
  readonly dedup?: DedupStore;
}

/**
 * Opens the transport a swarm file names: `memory` (journaled in the data
 * folder), `nats://` / `tls://` (JetStream), or `amqp://` / `amqps://`
 * (RabbitMQ, one topic exchange per swarm), with the file's `broker`
 * settings. Broker drivers load only here.
 */
export async function openTransport(
  config: SwarmFile,
  options: OpenTransportOptions = {},
): Promise<Transport> {
  const broker = config.broker ?? NO_BROKER_SETTINGS;
  if (config.transport === "memory") {
    return createMemoryTransport({
      journalPath: journalPath(config),
      dedupWindowMs: config.defaults.dedupWindowMs,
      ...(broker.syncEveryWrite ? { journal: { synchronous: "full" } } : {}),
    });
  }
  let url: URL;
  try {
    url = new URL(config.transport);
  } catch (cause) {
    throw new ConfigError(
      `transport ${JSON.stringify(redactUrl(config.transport))} is not a well-formed URL; write nats://host:port or amqp://user:pass@host:port (percent-encode special characters in user names and passwords)`,
      [],
      { cause },
    );
  }
  if (url.protocol === "nats:" || url.protocol === "tls:") {
    const { createNatsTransport } = await import("../transport/nats/index.js");
    const user = decodeURIComponent(url.username);
    const pass = decodeURIComponent(url.password);
    const servers = [`${url.protocol}//${url.host}`];
    for (const server of broker.servers) if (!servers.includes(server)) servers.push(server);
    // tls:// without files: TLS with the system's trusted CAs.
    const tls = broker.tls ?? (url.protocol === "tls:" ? {} : undefined);
    return createNatsTransport({
      servers,
      name: `conclave-${config.swarm}`,
      dedupWindowMs: config.defaults.dedupWindowMs,
      ...(user && pass ? { user, pass } : user ? { token: user } : {}),
      ...(tls === undefined ? {} : { tls }),
      ...(broker.replicas === undefined ? {} : { replicas: broker.replicas }),
      ...(broker.watchSent === undefined ? {} : { watchSent: broker.watchSent }),
      ...(broker.storage === undefined ? {} : { storage: broker.storage }),
      ...(broker.syncEveryWrite ? { syncEveryWrite: true } : {}),
    });
  }
  if (url.protocol === "amqp:" || url.protocol === "amqps:") {
    const { createAmqpTransport } = await import("../transport/amqp/index.js");
    if (broker.tls && url.protocol === "amqp:") {
      throw new ConfigError(
        "broker.tls needs a TLS connection, but the transport is a plain amqp:// URL; change it to amqps://",
      );
    }
    const tls = broker.tls ? await readTlsFiles(broker.tls) : undefined;
    return createAmqpTransport({
      url: config.transport,
      exchange: config.swarm,
      dedupWindowMs: config.defaults.dedupWindowMs,
      ...(options.dedup ? { dedup: options.dedup } : {}),
      ...(tls ? { tls } : {}),
    });
  }
  throw new ConfigError(
    `transport "${url.protocol}//" is not supported; use memory, nats://, tls://, amqp:// or amqps://`,
  );
}

/** Where the embedded transport journals a swarm's durable queues. */
export function journalPath(config: SwarmFile): string {
  return join(config.dataDir, `${config.swarm}.journal.db`);
}

const NO_BROKER_SETTINGS: BrokerConfig = Object.freeze({ servers: [], syncEveryWrite: false });

/** Reads the PEM files of `broker.tls` (amqplib wants their contents, not paths). */
export async function readTlsFiles(
  tls: BrokerTlsConfig,
): Promise<{ ca?: Buffer; cert?: Buffer; key?: Buffer }> {
  const read = async (field: "ca" | "cert" | "key") => {
    const file = tls[field];
    if (file === undefined) return {};
    try {
      return { [field]: await readFile(file) };
    } catch (cause) {
      const reason =
        (cause as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(cause);
      throw new ConfigError(
        `cannot read broker.tls.${field} (${file}): ${reason}; check the path, relative to the swarm file`,
        [],
        { cause },
      );
    }
  };
  return Object.assign({}, await read("ca"), await read("cert"), await read("key"));
}

/** Imports the handler module a swarm file names. */
export async function loadSwarmModule(config: SwarmFile): Promise<SwarmModule> {
  if (!config.module) {
    throw new ConfigError(
      `swarm "${config.swarm}" names no module; set module: ./agents.mjs to the file that registers the handlers`,
    );
  }
  const loaded = (await importUserModule(config.module, "swarm module")) as Partial<SwarmModule>;
  if (typeof loaded.setup !== "function") {
    throw new ConfigError(
      `the swarm module ${config.module} must export a function setup(agent, context)`,
    );
  }
  return loaded as SwarmModule;
}

/**
 * Builds (does not start) the swarm a swarm file describes: transport,
 * store, keys (created under keysDir on first use), agents and handlers.
 */
export async function openSwarm(config: SwarmFile, options: OpenSwarmOptions = {}): Promise<Swarm> {
  const wanted = options.agents ? new Set(options.agents) : undefined;
  const agents = config.agents.filter((a) => !wanted || wanted.has(a.id));
  // A swarm of LLM agents and remote roles needs no module: each answers
  // with its model, or by calling its remote agent.
  const module =
    options.module ??
    (config.module === undefined &&
    agents.every((a) => a.llm !== undefined || config.roles[a.role]?.remote !== undefined)
      ? NO_MODULE
      : await loadSwarmModule(config));
  // Fails here, before anything opens, naming the variables a model needs.
  const models = agents.some((a) => a.llm)
    ? openModelPool(config, { agents: agents.map((a) => a.id) })
    : undefined;
  if (wanted) {
    for (const id of wanted) {
      if (!config.agents.some((a) => a.id === id)) {
        throw new ConfigError(
          `agent "${id}" is not in the swarm file; agents are: ${config.agents.map((a) => a.id).join(", ")}`,
        );
      }
    }
  }
  // Only the MCP servers this process's agents name are connected (when the swarm starts).
  const mcpReferences = agents.flatMap((a) =>
    (a.llm?.tools ?? []).filter((t) => t.startsWith("mcp:")),
  );
  const mcp =
    mcpReferences.length > 0
      ? new McpTools({
          servers: config.mcp ?? {},
          references: mcpReferences,
          clientName: `conclave-${config.swarm}`,
        })
      : undefined;
  const keys = new Map<string, AgentKeyPair>();
  for (const a of agents) keys.set(a.id, await loadOrCreateAgentKey(config.keysDir, a.id));
  const store = await openStore(config.store, {
    synchronous: config.broker?.syncEveryWrite ? "full" : "normal",
    create: options.createStore ?? true,
  });
  let transport: Transport;
  try {
    // A failed prune of the dedup's keys is reported as the transport reports
    // its own background failures (its default onError): a process warning.
    // (The swarm's error events do not exist yet, and take no outside events.)
    const onError = (error: Error) =>
      process.emitWarning(
        `conclave amqp dedup: pruning old enqueue keys of swarm "${config.swarm}" failed: ${error.message}`,
      );
    transport =
      options.transport ?? (await openTransport(config, { dedup: storeDedup(store, { onError }) }));
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  // A journal resumed against another run's store would redeliver or repeat work.
  const journal = transport instanceof MemoryTransport ? transport.broker.journal : undefined;
  if (journal && !options.transport) {
    try {
      await bindRunState({
        journal,
        journalPath: journalPath(config),
        store,
        storeName: redactUrl(config.store),
      });
    } catch (error) {
      await transport.close().catch(() => undefined);
      await store.close().catch(() => undefined);
      throw error;
    }
  }
  const swarm = createSwarm({
    name: config.swarm,
    transport,
    store,
    ...(options.clock ? { clock: options.clock } : {}),
    keys: (id) => {
      const pair = keys.get(id);
      if (!pair) throw new ConfigError(`no key loaded for agent "${id}"`);
      return pair;
    },
    roles: config.roles,
    defaults: config.defaults,
    // Beside the keys: processes sharing a keysDir share what they proved.
    provedSignersFile: join(config.keysDir, `proved-signers.${config.swarm}.json`),
    signing: config.signing,
    maxEnvelopeBytes: config.limits.maxEnvelopeBytes,
    prices: config.prices,
    ...(models ? { models } : {}),
    ...(mcp ? { mcp } : {}),
    ...(config.privileged ? { privileged: config.privileged } : {}),
    ...(config.tasks ? { tasks: config.tasks } : {}),
    teams: teamsWithPoolWorkers(config),
    admission: {
      mode: config.admission,
      declared: [
        ...config.agents.map((a) => ({
          id: a.id,
          role: a.role,
          weight: a.weight,
          ...(a.owner === undefined ? {} : { owner: a.owner }),
          ...(a.publicKey === undefined ? {} : { publicKey: a.publicKey }),
        })),
        ...declaredPoolWorkers(config),
      ],
      ...(config.operator ? { operatorKey: decodePublicKey(config.operator.publicKey) } : {}),
    },
  });
  const workload = { ...config.workload, ...options.workload };
  // One way to add an agent, for the declared ones and for pool workers copied from a template.
  const addAgent = async (a: AgentConfig, id: string): Promise<Agent> => {
    const llm = a.llm
      ? {
          settings: await loadAgentLlm(a.llm, {
            baseDir: config.dataDir,
            path: `agents.${config.agents.indexOf(a)}.llm`,
          }),
          ...(a.llm.toolBudget > 0 ? { toolBudget: a.llm.toolBudget } : {}),
          ...(a.llm.publishDeltas ? { publishDeltas: true } : {}),
        }
      : undefined;
    const agent = swarm.agent({
      id,
      role: a.role,
      tags: a.tags,
      capabilities: a.capabilities,
      weight: a.weight,
      concurrency: a.concurrency,
      options: a.options,
      ...(a.budget ? { budget: a.budget } : {}),
      ...(a.owner ? { owner: a.owner } : {}),
      ...(a.policy ? { policy: await loadPolicyFile(a.policy) } : {}),
      ...(a.credential ? { credential: await loadCredentialFile(a.credential) } : {}),
      ...(llm ? { llm } : {}),
    });
    await module.setup(agent, { config, workload });
    askEnsembles(agent, config, swarm.store);
    if (llm) answerWithModel(agent, config.roles[a.role]?.tasks ?? []);
    const remote = config.roles[a.role]?.remote;
    if (remote) answerRemotely(agent, remote, config.roles[a.role]?.tasks ?? []);
    return agent;
  };
  for (const a of agents) await addAgent(a, a.id);
  // A pool runs in the process that hosts its template.
  for (const [role, pool] of Object.entries(config.pools)) {
    const template = agents.find((a) => a.id === pool.template);
    if (template === undefined) continue;
    const { template: _, ...scaling } = pool;
    swarm.pool({
      role,
      ...scaling,
      members: [template.id],
      workerId: (n) => `${template.id}-p${n}`,
      spawn: async (id) => {
        // A fresh key for a new slot, kept under keysDir: a slot spawned again
        // runs with the key pinned for it.
        keys.set(id, await loadOrCreateAgentKey(config.keysDir, id));
        return addAgent(template, id);
      },
    });
  }
  if (config.slots) {
    const { roles, ...watch } = config.slots;
    swarm.slots({
      ...watch,
      roles: Object.entries(roles).map(([name, r]) => ({ name, ...r })),
    });
  }
  return swarm;
}

/** Pool worker slots are declared like their template (role, weight, owner), each with its own key. */
function declaredPoolWorkers(config: SwarmFile) {
  return Object.values(config.pools).flatMap((pool) => {
    const template = config.agents.find((a) => a.id === pool.template);
    if (template === undefined) return [];
    return poolSlotIds(template.id, pool.max).map((id) => ({
      id,
      role: template.role,
      weight: template.weight,
      ...(template.owner === undefined ? {} : { owner: template.owner }),
    }));
  });
}

/** Teams as the runtime takes them: a pooled template's workers are members where the template is. */
function teamsWithPoolWorkers(config: SwarmFile): Record<string, TeamSpec> {
  return Object.fromEntries(
    Object.entries(config.teams).map(([name, team]): [string, TeamSpec] => [
      name,
      {
        lead: team.lead,
        roles: team.roles,
        members: team.members.flatMap((id) => {
          const pool = Object.values(config.pools).find((p) => p.template === id);
          return pool === undefined ? [id] : [id, ...poolSlotIds(id, pool.max)];
        }),
      },
    ]),
  );
}

/**
 * Gives a coordinating agent (one whose role lists an ensemble's task type
 * and is not a member's role) the ensemble's handler, unless its module
 * registered one. By role, not id: any other agent of a member's role (a
 * copy of the member) answers as the member, never asks the ensemble.
 */
function askEnsembles(agent: Agent, config: SwarmFile, store: WeightStore): void {
  for (const [task, ensemble] of Object.entries(config.ensembles)) {
    if (agent.handler(task) || isMemberRole(agent.role, ensemble.members, config)) continue;
    if (!(config.roles[agent.role]?.tasks ?? []).includes(task)) continue;
    agent.handle(task, ensembleHandler(ensembleSpec(task, ensemble, config.agents), store));
  }
}

/** Whether `role` is the role of one of `members` (declared agents). */
function isMemberRole(role: string, members: readonly string[], config: SwarmFile): boolean {
  return config.agents.some((a) => a.role === role && members.includes(a.id));
}

const NO_MODULE: SwarmModule = { setup: () => {} };

/**
 * Gives an LLM agent a handler for each task of its role its module left
 * without one: the task's body is the prompt, the model's answer (the
 * structured output when the agent has an output schema) is the task's
 * result, and a root task is finished with it.
 */
function answerWithModel(agent: Agent, tasks: readonly string[]): void {
  for (const task of tasks) {
    if (agent.handler(task)) continue;
    agent.handle(task, async (ctx) => {
      const body = ctx.body;
      const prompt = typeof body === "string" ? body : JSON.stringify(body);
      const answer = await ctx.llm.generate({ prompt });
      const result = answer.output ?? answer.text;
      if (ctx.task.corr === undefined) ctx.finish(result);
      return result;
    });
  }
}

/**
 * Gives an agent of a role served by an outside A2A agent a handler for
 * each task of its role its module left without one: the task is sent to
 * the remote agent and its answer is the task's result.
 */
function answerRemotely(agent: Agent, remote: RemoteRoleConfig, tasks: readonly string[]): void {
  for (const task of tasks) {
    if (!agent.handler(task)) agent.handle(task, remoteA2AHandler(remote, task));
  }
}

/** Reads a membership credential file (`conclave admit` writes one); its signature is checked by every node. */
async function loadCredentialFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new ConfigError(
      `cannot read the credential ${path}: ${(cause as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(cause)}; write it with conclave admit`,
      [],
      { cause },
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new ConfigError(`the credential ${path} is not JSON; write it with conclave admit`, [], {
      cause,
    });
  }
}
