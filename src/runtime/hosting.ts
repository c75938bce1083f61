import type { KeyObject } from "node:crypto";
import { ConfigError, toError } from "../errors/index.js";
import { encodePublicKey } from "../identity/keys.js";
import { Agent, type AgentSpec } from "./agent.js";
import { AgentPool, type AgentPoolConfig } from "./agent-pool.js";
import type { NodeConfig, SwarmNode } from "./node.js";
import { handBackAwardedTasks, retireAgent } from "./retire-agent.js";
import { RoleSlots, type RoleSlotsConfig } from "./role-slots.js";
import { superviseAgent } from "./supervised-agent.js";
import type { Supervisor } from "./supervisor.js";
import { poolHost, roleSlotsHost } from "./team-hosts.js";

/** Where an agent's key pair comes from. */
export type KeyProvider = (agentId: string) => { publicKey: KeyObject; privateKey: KeyObject };

/** What hosting agents takes from the swarm's configuration. */
export interface HostingConfig extends Pick<NodeConfig, "roles" | "defaults"> {
  /** Gives each agent its key pair (files under keysDir, or fresh ones in tests). */
  readonly keys: KeyProvider;
  /** Restarts of a crashed agent allowed per minute before it is given up on. Default 5. */
  readonly maxRestartsPerMinute?: number;
}

/**
 * The agents one node hosts, and what keeps them running: each agent under
 * a supervisor that restarts it when it crashes, autoscaling pools that
 * spawn and retire workers, and role slots that staff roles with the best
 * of them. Agents added before `start()` start with it; agents added later
 * (a pool's workers) start at once.
 */
export class AgentHosting {
  readonly #node: SwarmNode;
  readonly #config: HostingConfig;
  readonly #supervisors = new Map<string, Supervisor>();
  readonly #pools: AgentPool[] = [];
  readonly #slots: RoleSlots[] = [];
  /** Roles sized by a pool, and roles staffed by slots: a role is one or the other. */
  readonly #pooledRoles = new Set<string>();
  readonly #slottedRoles = new Set<string>();
  /** Pool workers being set up: started once their handlers are registered, not when added. */
  readonly #spawning = new Set<string>();
  #running = false;

  /** @throws ConfigError for a `maxRestartsPerMinute` that is not a whole number ≥ 0. */
  constructor(node: SwarmNode, config: HostingConfig) {
    const restarts = config.maxRestartsPerMinute;
    // Checked here by the name the caller wrote, not at start by each agent's supervisor.
    if (restarts !== undefined && !(Number.isInteger(restarts) && restarts >= 0)) {
      throw new ConfigError(
        `maxRestartsPerMinute must be a whole number ≥ 0 (0: never restart a crashed agent), got ${restarts}`,
      );
    }
    this.#node = node;
    this.#config = config;
  }

  /** Adds an agent: its key pair, its budget, its place in a team. */
  add(spec: AgentSpec): Agent {
    const node = this.#node;
    if (node.hosted.has(spec.id)) {
      throw new ConfigError(
        `agent id "${spec.id}" is already used in this swarm; ids must be unique`,
      );
    }
    if (!(spec.role in this.#config.roles)) {
      throw new ConfigError(
        `agent "${spec.id}" has role "${spec.role}", which the swarm does not define; add it under roles`,
      );
    }
    const pair = this.#config.keys(spec.id);
    if (
      typeof pair !== "object" ||
      pair === null ||
      typeof (pair as { then?: unknown }).then === "function" ||
      pair.privateKey?.type !== "private" ||
      pair.publicKey?.type !== "public"
    ) {
      throw new ConfigError(
        `agent "${spec.id}": keys("${spec.id}") must return its key pair ({ publicKey, privateKey } KeyObjects) at once; load key files before creating the swarm (await loadOrCreateAgentKey(dir, id)) and return them from a map`,
      );
    }
    const concurrency =
      spec.concurrency ??
      this.#config.roles[spec.role]?.concurrency ??
      this.#config.defaults?.concurrency ??
      1;
    const agent = new Agent(
      { ...spec, concurrency },
      { publicKey: encodePublicKey(pair.publicKey), privateKey: pair.privateKey },
      node.teams.placement(spec.id, spec.role),
    );
    node.hosted.set(spec.id, agent);
    node.keys.trustLocal(spec.id, pair.publicKey);
    if (spec.budget) node.budgets.add(spec.id, spec.budget);
    // Slots fix how many of a staffed role's agents take tasks: a newcomer
    // waits on standby like the other non-holders until the slots hand it a
    // vacancy (on its agent.joined). Before start, the slots' start does this.
    if (this.#running && this.#slottedRoles.has(spec.role)) agent.pause("standby");
    if (this.#running && !this.#spawning.has(spec.id)) void this.#startLate(agent);
    return agent;
  }

  /** An autoscaling pool of one role's workers (see `AgentPool`). */
  pool(config: AgentPoolConfig): AgentPool {
    this.#requireRole(config.role, `a pool of role "${config.role}":`);
    if (this.#slottedRoles.has(config.role)) {
      throw new ConfigError(
        `a pool of role "${config.role}": the role is staffed by slots; a pool sizes a role by its queue, slots fix how many of its agents take tasks, and the two fight: keep one`,
      );
    }
    if (this.#pooledRoles.has(config.role)) {
      throw new ConfigError(
        `a pool of role "${config.role}": the role already has a pool, and two would both scale its queue, each spawning workers of its own; keep one pool per role (use the one swarm.pool returned)`,
      );
    }
    // Built first: settings it refuses claim no role.
    const pool = new AgentPool(
      config,
      poolHost(this.#node, {
        spawn: (id, create) => this.#spawn(id, create),
        retire: (id) => this.#retire(id),
      }),
    );
    this.#pooledRoles.add(config.role);
    this.#pools.push(pool);
    if (this.#running) pool.start();
    return pool;
  }

  /** Role slots staffed with the best agents hosted here (see `RoleSlots`). */
  slots(config: RoleSlotsConfig): RoleSlots {
    for (const role of config.roles) {
      this.#requireRole(role.name, `slots for role "${role.name}":`);
      if (this.#pooledRoles.has(role.name)) {
        throw new ConfigError(
          `slots for role "${role.name}": the role is pooled; a pool sizes a role by its queue, slots fix how many of its agents take tasks, and the two fight: keep one`,
        );
      }
      if (this.#slottedRoles.has(role.name)) {
        throw new ConfigError(
          `slots for role "${role.name}": the role is already staffed by slots, and two would each pause and resume its agents by their own count; list the role in one swarm.slots() call`,
        );
      }
    }
    // Built first: settings it refuses claim no role.
    const slots = new RoleSlots(config, roleSlotsHost(this.#node));
    for (const role of config.roles) this.#slottedRoles.add(role.name);
    this.#slots.push(slots);
    if (this.#running) {
      slots.start().catch((error: unknown) =>
        this.#node.events.emit({
          type: "error",
          error: `starting role slots: ${toError(error).message}`,
        }),
      );
    }
    return slots;
  }

  /** Starts every agent under supervision, then the auctions, pools and slots. */
  async start(): Promise<void> {
    this.#running = true;
    await Promise.all([...this.#node.hosted.values()].map((a) => this.#supervise(a)));
    this.#node.takeAuctionRequests();
    for (const pool of this.#pools) pool.start();
    for (const slots of this.#slots) await slots.start();
  }

  /**
   * Stops pools and slots first (so none spawns or retires meanwhile), then
   * the agents the way the caller asked (drain or drop): their supervisors
   * then see a normal exit and do not restart them.
   */
  async stop(graceful: boolean): Promise<void> {
    this.#running = false;
    await Promise.all([...this.#pools, ...this.#slots].map((p) => p.stop()));
    await Promise.all([...this.#node.hosted.values()].map((a) => a.stop(graceful)));
    for (const sup of this.#supervisors.values()) await sup.stop().catch(() => undefined);
  }

  /**
   * Stops a revoked agent and its supervision at once (its in-flight tasks
   * are handed back) and takes it off this node: heartbeats no longer carry
   * it (nor are signed by it, which would make every other node refuse this
   * node's heartbeats), and a pool it belonged to replaces it.
   */
  async stopAgent(agentId: string): Promise<void> {
    const agent = this.#node.hosted.get(agentId);
    await agent?.stop(false);
    await this.#supervisors
      .get(agentId)
      ?.stop()
      .catch(() => undefined);
    this.#supervisors.delete(agentId);
    this.#node.hosted.delete(agentId);
    // Nobody else reads its award queue: what it won and never ran is handed
    // back. Called without waiting (a revocation): a failure is reported, never thrown.
    if (agent?.bidHandler !== undefined) {
      const bidsCloseAt = this.#node.marketEngine.takeBidsCloseAt(agent.id);
      await handBackAwardedTasks(this.#node, agent, {
        waitMs: this.#node.roles.settings(agent.role).ackWaitMs,
        ...(bidsCloseAt === undefined ? {} : { bidsCloseAt }),
      }).catch((error: unknown) =>
        this.#node.events.emit({
          type: "error",
          error: `handing back the tasks agent "${agentId}" won at auction: ${toError(error).message}; they stay in its queue until an agent with that id runs or is retired again`,
        }),
      );
    }
  }

  /** A hosted agent by id; throws for an id this node does not host. */
  local(id: string): Agent {
    const agent = this.#node.hosted.get(id);
    if (!agent) {
      throw new ConfigError(
        `agent "${id}" is not hosted by this node; messages must be signed by a local agent`,
      );
    }
    return agent;
  }

  #requireRole(role: string, who: string): void {
    if (role in this.#config.roles) return;
    throw new ConfigError(`${who} the swarm defines no such role; add it under roles`);
  }

  async #supervise(agent: Agent): Promise<void> {
    const refusal = this.#node.admission.refusal(agent.id);
    if (refusal?.code === "E_REVOKED") {
      this.#node.events.emit({
        type: "error",
        error: `agent "${agent.id}" is not started: ${refusal.reason}`,
      });
      return;
    }
    const supervisor = superviseAgent(this.#node, agent, this.#config.maxRestartsPerMinute ?? 5);
    this.#supervisors.set(agent.id, supervisor);
    await supervisor.start();
  }

  /** Adds pool worker `id` with `create` (its handlers too, maybe asynchronously), then starts it. */
  async #spawn(id: string, create: (id: string) => unknown): Promise<Agent> {
    const before = this.#node.hosted.get(id);
    try {
      return await this.#setUpWorker(id, create);
    } catch (error) {
      // A worker added and then failed (its setup threw) never runs: left
      // hosted, heartbeats would announce it live and its slot id would never
      // be reused, so a failing setup would leak one agent per tick.
      const added = this.#node.hosted.get(id);
      if (added !== undefined && added !== before && !this.#supervisors.has(id)) {
        this.#node.hosted.delete(id);
      }
      throw error;
    }
  }

  async #setUpWorker(id: string, create: (id: string) => unknown): Promise<Agent> {
    this.#spawning.add(id);
    try {
      await create(id);
    } finally {
      this.#spawning.delete(id);
    }
    const agent = this.#node.hosted.get(id);
    if (agent === undefined) {
      throw new ConfigError(
        `the pool's spawn(${id}) added no agent "${id}"; call swarm.agent({ id, ... }) in it`,
      );
    }
    if (agent.bidHandler !== undefined) {
      // Tasks won at auction wait in the winner's own queue: a worker retired
      // with some queued there would strand them, and their escrow.
      this.#node.hosted.delete(id);
      throw new ConfigError(
        `the pool's spawn(${id}) gave its worker a bid handler, and pool workers do not bid: a retired worker would strand the tasks awarded to it; queue the role's tasks instead of auctioning them, or bid with agents outside the pool`,
      );
    }
    await this.#node.admission.pinLocal(id, agent.card.publicKey);
    if (this.#running) {
      await this.#node.budgets.open(id);
      await this.#supervise(agent);
    }
    return agent;
  }

  /** An agent added to a running node: its budget opened (minted once), then started. */
  async #startLate(agent: Agent): Promise<void> {
    try {
      await this.#node.budgets.open(agent.id);
      await this.#supervise(agent);
    } catch (error) {
      this.#node.events.emit({
        type: "error",
        error: `starting agent "${agent.id}": ${toError(error).message}`,
      });
    }
  }

  /** Drains a hosted agent, stops its supervision, and takes it off this node and the registry. */
  async #retire(agentId: string): Promise<void> {
    const agent = this.#node.hosted.get(agentId);
    if (agent === undefined) return;
    await retireAgent(this.#node, agent, this.#supervisors.get(agentId));
    this.#supervisors.delete(agentId);
  }
}
