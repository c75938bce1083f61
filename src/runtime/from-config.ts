import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { SwarmConfig as SwarmFile } from "../config/schema.js";
import { ConfigError } from "../errors/index.js";
import { type AgentKeyPair, loadOrCreateAgentKey } from "../identity/index.js";
import type { Store } from "../store/port.js";
import { openSqliteStore } from "../store/sqlite-store.js";
import { createMemoryTransport } from "../transport/memory/memory-transport.js";
import type { Transport } from "../transport/port.js";
import type { Agent } from "./agent.js";
import { loadPolicyFile } from "./consensus/policy-file.js";
import { createSwarm, type Swarm } from "./swarm.js";

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
  setup(agent: Agent, context: SetupContext): void | Promise<void>;
}

export interface SetupContext {
  readonly config: SwarmFile;
  /** The swarm file's `workload`, with command-line overrides applied. */
  readonly workload: Readonly<Record<string, unknown>>;
}

export interface OpenSwarmOptions {
  /** Only these agents run in this process; default: every agent of the file. */
  readonly agents?: readonly string[];
  /** Overrides merged into the file's `workload`. */
  readonly workload?: Readonly<Record<string, unknown>>;
  /** Use this module instead of importing the file's `module`. */
  readonly module?: SwarmModule;
  /** Use this transport instead of the file's (tests). */
  readonly transport?: Transport;
}

/**
 * Opens the transport a swarm file names: `memory` (journaled in the data
 * folder), `nats://` / `tls://` (JetStream), or `amqp://` / `amqps://`
 * (RabbitMQ, one topic exchange per swarm). Broker drivers load only here.
 */
export async function openTransport(config: SwarmFile): Promise<Transport> {
  if (config.transport === "memory") {
    return createMemoryTransport({
      journalPath: join(config.dataDir, `${config.swarm}.journal.db`),
      dedupWindowMs: config.defaults.dedupWindowMs,
    });
  }
  const url = new URL(config.transport);
  if (url.protocol === "nats:" || url.protocol === "tls:") {
    const { createNatsTransport } = await import("../transport/nats/index.js");
    const user = decodeURIComponent(url.username);
    const pass = decodeURIComponent(url.password);
    return createNatsTransport({
      servers: `${url.protocol}//${url.host}`,
      name: `conclave-${config.swarm}`,
      dedupWindowMs: config.defaults.dedupWindowMs,
      ...(user && pass ? { user, pass } : user ? { token: user } : {}),
      ...(url.protocol === "tls:" ? { tls: {} } : {}),
    });
  }
  if (url.protocol === "amqp:" || url.protocol === "amqps:") {
    const { createAmqpTransport } = await import("../transport/amqp/index.js");
    return createAmqpTransport({
      url: config.transport,
      exchange: config.swarm,
      dedupWindowMs: config.defaults.dedupWindowMs,
    });
  }
  throw new ConfigError(
    `transport "${url.protocol}//" is not supported; use memory, nats://, tls://, amqp:// or amqps://`,
  );
}

/** Opens the store a swarm file names: `sqlite:<path>` or a `postgres://` URL (pg loads only then). */
export async function openStore(config: SwarmFile): Promise<Store> {
  if (config.store.startsWith("sqlite:")) {
    return openSqliteStore({ path: config.store.slice("sqlite:".length) });
  }
  if (/^postgres(ql)?:\/\//.test(config.store)) {
    const { openPostgresStore } = await import("../store/postgres-store.js");
    const url = new URL(config.store);
    const schema = url.searchParams.get("schema") ?? undefined;
    url.searchParams.delete("schema");
    return openPostgresStore({ url: url.toString(), ...(schema ? { schema } : {}) });
  }
  throw new ConfigError(
    `store "${config.store.split(":")[0]}:" is not supported; use sqlite:<path> or postgres://…`,
  );
}

/** Imports the handler module a swarm file names. */
export async function loadSwarmModule(config: SwarmFile): Promise<SwarmModule> {
  if (!config.module) {
    throw new ConfigError(
      `swarm "${config.swarm}" names no module; set module: ./agents.mjs to the file that registers the handlers`,
    );
  }
  let loaded: Partial<SwarmModule>;
  try {
    loaded = (await import(pathToFileURL(config.module).href)) as Partial<SwarmModule>;
  } catch (cause) {
    throw new ConfigError(`cannot import the swarm module ${config.module}`, [], { cause });
  }
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
  const module = options.module ?? (await loadSwarmModule(config));
  const wanted = options.agents ? new Set(options.agents) : undefined;
  const agents = config.agents.filter((a) => !wanted || wanted.has(a.id));
  if (wanted) {
    for (const id of wanted) {
      if (!config.agents.some((a) => a.id === id)) {
        throw new ConfigError(
          `agent "${id}" is not in the swarm file; agents are: ${config.agents.map((a) => a.id).join(", ")}`,
        );
      }
    }
  }
  const keys = new Map<string, AgentKeyPair>();
  for (const a of agents) keys.set(a.id, await loadOrCreateAgentKey(config.keysDir, a.id));
  const transport = options.transport ?? (await openTransport(config));
  const store = await openStore(config);
  const swarm = createSwarm({
    name: config.swarm,
    transport,
    store,
    keys: (id) => {
      const pair = keys.get(id);
      if (!pair) throw new ConfigError(`no key loaded for agent "${id}"`);
      return pair;
    },
    roles: config.roles,
    defaults: config.defaults,
    signing: config.signing,
    maxEnvelopeBytes: config.limits.maxEnvelopeBytes,
    prices: config.prices,
    ...(config.privileged ? { privileged: config.privileged } : {}),
  });
  const workload = { ...config.workload, ...options.workload };
  for (const a of agents) {
    const agent = swarm.agent({
      id: a.id,
      role: a.role,
      tags: a.tags,
      capabilities: a.capabilities,
      weight: a.weight,
      concurrency: a.concurrency,
      options: a.options,
      ...(a.budget ? { budget: a.budget } : {}),
      ...(a.policy ? { policy: await loadPolicyFile(a.policy) } : {}),
    });
    await module.setup(agent, { config, workload });
  }
  return swarm;
}
