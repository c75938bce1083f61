import type { KeyObject } from "node:crypto";
import type { TaskTypeConfig } from "../config/schema.js";
import type { PrivilegedAction } from "../consensus/rule.js";
import { type Clock, systemClock } from "../core/clock.js";
import { type Random, systemRandom } from "../core/random.js";
import { assertBackoffPolicy, type BackoffPolicy, defaultBackoff } from "../delivery/backoff.js";
import { ConfigError } from "../errors/index.js";
import { createPriceTable, type PriceTableInput } from "../ledger/index.js";
import type { ModelPool } from "../llm/model-pool.js";
import type { AdmissionMode, DeclaredAgent } from "../registry/admission.js";
import { createRegistryView, type RegistryView } from "../registry/registry-view.js";
import type { RoutingStrategy } from "../routing/strategies.js";
import type { Store } from "../store/port.js";
import type { Transport } from "../transport/port.js";
import { DEFAULT_MAX_ENVELOPE_BYTES } from "../wire/codec.js";
import type { Envelope } from "../wire/envelope.js";
import { ulid } from "../wire/ulid.js";
import { verifyThreadWanted } from "../wire/verify-thread.js";
import { Gatekeeper } from "./admission.js";
import { VotedAdmission } from "./admission-vote.js";
import type { Agent } from "./agent.js";
import { Budgets } from "./budget.js";
import type { ClockOutlier } from "./clock-watch.js";
import { ConsensusEngine } from "./consensus/engine.js";
import { DeadLetters } from "./dead-letters.js";
import { EventBus } from "./event-bus.js";
import { EventHub } from "./event-hub.js";
import { LeaseKeeper } from "./lease.js";
import { type AuctionOptions, MarketEngine } from "./market/engine.js";
import type { McpTools } from "./mcp-tools.js";
import { Membership } from "./membership.js";
import type {
  ConsensusPort,
  LocalAgents,
  MarketPort,
  NodeContext,
  NodeLimits,
  RoleBook,
  RoleSettings,
} from "./node-context.js";
import { NodeOutbox } from "./outbox.js";
import { SENT_WATCH_DEFAULTS, type SentWatchSettings } from "./outbox-watch.js";
import { Outcomes } from "./outcomes.js";
import { ProvedSigners } from "./proved-signers.js";
import { declareQueues, hasAuctions } from "./queues.js";
import { Requests } from "./requests.js";
import { Revocations } from "./revocations.js";
import { establishRun } from "./run-identity.js";
import { queueNames } from "./subjects.js";
import { TaskClaims } from "./task-claims.js";
import { TeamBook, type TeamSpec } from "./teams.js";
import { TrustManager } from "./trust.js";

/** A role as the swarm is configured with it. */
export interface RoleConfig extends Partial<Omit<RoleSettings, "ordering">> {
  /** Task types the role handles. */
  readonly tasks?: readonly string[];
  /** Tasks each agent of the role handles at once, unless the agent sets its own. Default: `defaults.concurrency`, else 1. */
  readonly concurrency?: number;
  /** How a request to the role (`swarm.request`) picks one of its agents. Default `round-robin`; tasks always go through the role's shared queue. */
  readonly routing?: RoutingStrategy;
  /** Task order within a conversation; `causal` applies to event subscriptions only. */
  readonly ordering?: "none" | "conversation" | "causal";
}

/** What a node is built from (the swarm's configuration, see `SwarmConfig`). */
export interface NodeConfig {
  readonly name: string;
  readonly transport: Transport;
  readonly store: Store;
  readonly roles: Readonly<Record<string, RoleConfig>>;
  readonly defaults?: Partial<RoleSettings> & {
    readonly concurrency?: number;
    readonly heartbeatMs?: number;
    readonly suspectAfterMs?: number;
    readonly leftAfterMs?: number;
  };
  readonly signing?: "required" | "optional";
  readonly maxEnvelopeBytes?: number;
  /**
   * When the outbox looks again at sent tasks that nothing settled, on
   * transports whose broker may lose what it acknowledged (see `SentWatch`).
   */
  readonly sentWatch?: Partial<SentWatchSettings>;
  /**
   * A file where the node keeps the public keys its handshakes proved, so
   * that after a restart it still verifies what those agents signed while
   * their own node is down (see `ProvedSigners`). Processes sharing a
   * `keysDir` may share it. Default: none (proved again after a restart).
   */
  readonly provedSignersFile?: string;
  readonly nodeId?: string;
  readonly clock?: Clock;
  readonly random?: Random;
  readonly prices?: PriceTableInput;
  readonly privileged?: Readonly<Record<string, PrivilegedAction>>;
  readonly tasks?: Readonly<Record<string, TaskTypeConfig>>;
  readonly bidRate?: { readonly capacity: number; readonly refillPerSecond: number };
  /** The models of the node's LLM agents (`openModelPool` builds it from a swarm file). */
  readonly models?: ModelPool;
  /** MCP servers' tools for the node's LLM agents: connected when the node starts, closed when it stops. */
  readonly mcp?: McpTools;
  /** Teams for hierarchical delegation, by name (see `TeamBook`). */
  readonly teams?: Readonly<Record<string, TeamSpec>>;
  /**
   * Who may join (see `registry/admission.ts`). Default `open`: any agent
   * that proves its key, with the role and weight its card claims; a swarm
   * file defaults to `declared`.
   */
  readonly admission?: {
    readonly mode: AdmissionMode;
    readonly declared?: readonly DeclaredAgent[];
    /** The operator's public key: signs credentials and revocations. */
    readonly operatorKey?: KeyObject;
  };
}

/**
 * One node's parts, built once and wired through the one `NodeContext`
 * they all receive: the keys it trusts, the outbox, dead letters,
 * membership, budgets, consensus and market, events and requests.
 */
export class SwarmNode implements NodeContext {
  readonly swarm: string;
  readonly nodeId: string;
  readonly transport: Transport;
  readonly store: Store;
  readonly clock: Clock;
  readonly random: Random;
  readonly limits: NodeLimits;
  readonly registry: RegistryView;
  readonly roles: RoleBook;
  readonly teams: TeamBook;
  readonly events = new EventHub();
  /** Whether this node's agents are paused because its clock is the odd one out. */
  #clockOutlier = false;

  /**
   * Pauses every hosted agent while this node's clock disagrees with every
   * peer's (their tasks wait in the queues for the other nodes instead of
   * being taken and dead-lettered as unverifiable), and resumes them once a
   * peer's heartbeat is accepted again.
   */
  #judgeClock(outlier: ClockOutlier | undefined): void {
    if ((outlier !== undefined) === this.#clockOutlier) return;
    this.#clockOutlier = outlier !== undefined;
    for (const agent of this.hosted.values()) {
      if (outlier) agent.pause("clock");
      else agent.resume("clock");
    }
    this.events.emit(
      outlier
        ? { type: "clock.outlier", offsetMs: outlier.offsetMs, peers: outlier.peers }
        : { type: "clock.agreed" },
    );
  }

  /** The agents hosted here, by id. */
  readonly hosted = new Map<string, Agent>();
  readonly agents: LocalAgents = {
    get: (id) => this.hosted.get(id),
    all: () => this.hosted.values(),
    first: () => this.hosted.values().next().value,
  };
  readonly keys: TrustManager;
  readonly admission: Gatekeeper;
  /** Admission by vote: join requests proposed as `swarm.admit`, approved grants applied. */
  readonly votedAdmission: VotedAdmission;
  readonly outbox: NodeOutbox;
  readonly deadLetters: DeadLetters;
  readonly budgets: Budgets;
  readonly membership: Membership;
  readonly consensusEngine: ConsensusEngine;
  readonly marketEngine: MarketEngine;
  readonly consensus: ConsensusPort;
  readonly market: MarketPort;
  readonly eventBus: EventBus;
  readonly requests: Requests;
  readonly revocations: Revocations;
  readonly leases: LeaseKeeper;
  readonly claims: TaskClaims;
  runId: string | undefined;
  readonly outcomes: Outcomes;
  readonly models: ModelPool | undefined;
  readonly mcp: McpTools | undefined;
  /** The swarm's privileged actions (none: no decisions to audit). */
  readonly privileged: Readonly<Record<string, PrivilegedAction>>;

  constructor(
    config: NodeConfig,
    hooks: {
      /** Stops a hosted agent at once (revoked): its in-flight tasks go back to the queue. */
      readonly stopAgent: (agentId: string) => void;
    },
  ) {
    checkNodeConfig(config);
    // A typo here would otherwise surface as one message refused, later.
    verifyThreadWanted(process.env["CONCLAVE_VERIFY_THREAD"]);
    this.swarm = config.name;
    this.transport = config.transport;
    this.store = config.store;
    this.clock = config.clock ?? systemClock;
    this.random = config.random ?? systemRandom;
    this.nodeId = config.nodeId ?? `node-${ulid(this.clock)}`;
    const d = config.defaults ?? {};
    const heartbeatMs = d.heartbeatMs ?? 1000;
    const leftAfterMs = d.leftAfterMs ?? heartbeatMs * 10;
    this.leases = new LeaseKeeper(this.clock);
    this.claims = new TaskClaims({
      store: this.store,
      clock: this.clock,
      events: this.events,
      // Unique per node instance even when two processes are given one node id.
      owner: `${this.nodeId}/${ulid(this.clock).slice(-8)}`,
      exclusive: this.transport.kind === "memory",
    });
    this.outcomes = new Outcomes(this);
    this.models = config.models;
    this.mcp = config.mcp;
    this.privileged = config.privileged ?? {};
    this.limits = {
      maxEnvelopeBytes: envelopeLimit(config.maxEnvelopeBytes, this.transport.maxMessageBytes),
      signing: config.signing ?? "required",
      heartbeatMs,
    };
    this.registry = createRegistryView({
      suspectAfterMs: d.suspectAfterMs ?? heartbeatMs * 3,
      leftAfterMs,
    });
    this.roles = roleBook(config);
    const admission = config.admission ?? { mode: "open" };
    const declaredRoles = new Map((admission.declared ?? []).map((a) => [a.id, a.role]));
    this.teams = new TeamBook(
      this.swarm,
      config.teams ?? {},
      (id) => this.hosted.get(id)?.role ?? declaredRoles.get(id),
      (role) => config.roles[role]?.tasks ?? [],
    );
    this.admission = new Gatekeeper(this, {
      mode: admission.mode,
      swarm: this.swarm,
      declared: new Map((admission.declared ?? []).map((a) => [a.id, a])),
      ...(admission.operatorKey ? { operatorKey: admission.operatorKey } : {}),
    });
    this.keys = new TrustManager(this, {
      timeoutMs: Math.max(1000, heartbeatMs * 2),
      // At least 10 s: a peer process restarting beside this one takes
      // seconds to start and announce itself (5 s seen on a loaded machine).
      settleMs: Math.max(leftAfterMs, 10_000),
      learn: (card) => this.membership.observeCard(card, "handshake"),
      ...(config.provedSignersFile === undefined
        ? {}
        : {
            proved: new ProvedSigners(config.provedSignersFile, config.name, (error) =>
              this.events.emit({ type: "error", error }),
            ),
          }),
    });
    this.revocations = new Revocations(this, {
      forget: (id) => this.keys.forget(id),
      stopLocal: hooks.stopAgent,
    });
    this.outbox = new NodeOutbox(this, { ...SENT_WATCH_DEFAULTS, ...config.sentWatch });
    this.deadLetters = new DeadLetters(this);
    this.requests = new Requests(this, (role) => config.roles[role]?.routing ?? "round-robin");
    this.membership = new Membership(this, this.keys, {
      leftAfterMs,
      onClock: (outlier) => this.#judgeClock(outlier),
      onLeft: (id) => {
        // Our own agents are heard through the broker like anyone's: their
        // silence means our link was down, not that they left.
        if (this.agents.get(id)) return;
        // Silence is not revocation: the key the agent's handshake proved is
        // kept (`TrustManager.forget` is for revoked agents), so the tasks it
        // queued before a long partition still verify, instead of dying as
        // from an unknown signer moments before it returns. Only routing
        // forgets it.
        this.requests.forget(id);
      },
    });
    this.budgets = new Budgets({
      store: this.store,
      clock: this.clock,
      prices: config.prices ? createPriceTable(config.prices) : undefined,
      emit: (event) => this.events.emit(event),
      halt: (id) => {
        this.hosted.get(id)?.pause();
        this.membership.announce("agent.halted", { agent: id });
      },
      resume: (id) => {
        this.hosted.get(id)?.resume();
        this.membership.announce("agent.resumed", { agent: id });
      },
    });
    this.eventBus = new EventBus(this);
    this.consensusEngine = new ConsensusEngine(this);
    this.consensus = this.consensusEngine;
    this.votedAdmission = new VotedAdmission(this, this.admission, this.consensusEngine);
    this.admission.whenNotAdmitted = (card) => this.votedAdmission.requested(card);
    this.marketEngine = new MarketEngine(this, config.bidRate ? { bidRate: config.bidRate } : {});
    this.market = marketPort(this, this.marketEngine);
  }

  /**
   * Starts every part but the agents: declares the queues, records dead
   * letters, answers handshakes, listens for consensus and market traffic,
   * announces the agents, recovers the outbox, mints budgets.
   */
  async start(): Promise<void> {
    // First: a server that cannot be reached fails the start before anything is announced.
    await this.mcp?.start();
    this.runId ??= await establishRun(this.store, this.clock);
    await declareQueues(this);
    this.deadLetters.start();
    for (const agent of this.hosted.values()) {
      await this.admission.pinLocal(agent.id, agent.card.publicKey);
    }
    await this.keys.start();
    await this.revocations.start();
    this.consensusEngine.start();
    await this.votedAdmission.start();
    this.marketEngine.start();
    if (Object.keys(this.privileged).length > 0) {
      // Decisions to audit. The registry snapshot: the keys an offline audit checks votes against.
      for (const agent of this.hosted.values()) {
        await this.store.saveAgentCard(
          { ...agent.card, node: this.nodeId },
          { updatedAt: this.clock.now() },
        );
      }
    }
    this.membership.start();
    await this.outbox.start();
    await this.budgets.start();
  }

  /** Once the agents run: this node auctions the tasks waiting for an auction. */
  takeAuctionRequests(): void {
    if (hasAuctions(this) && this.hosted.size > 0) {
      this.marketEngine.consumeRequests(queueNames.auctionRequests(this.swarm), 32);
    }
  }

  /** Stops every part (after the agents), then closes the transport and the store. */
  async stop(graceful: boolean): Promise<void> {
    this.membership.stop(graceful);
    this.keys.close();
    this.revocations.close();
    this.votedAdmission.stop();
    await this.consensusEngine.close();
    this.marketEngine.close();
    this.eventBus.close();
    this.leases.close();
    this.claims.close();
    await this.outbox.stop();
    await this.deadLetters.stop(graceful);
    await this.mcp?.close();
    if (graceful) await this.transport.drain();
    else await this.transport.close();
    await this.store.close();
  }
}

function checkNodeConfig(config: NodeConfig): void {
  if (typeof config !== "object" || config === null) {
    throw new ConfigError(
      "createSwarm needs a config object: { name, transport, store, keys, roles }",
    );
  }
  const missing = (["transport", "store", "roles"] as const).filter(
    (key) => typeof config[key] !== "object" || config[key] === null,
  );
  if (missing.length > 0) {
    throw new ConfigError(
      `swarm config: ${missing.join(", ")} missing. Pass a transport (createMemoryTransport(), or openTransport("nats://…")), a store (openSqliteStore({ path })) and roles ({ worker: { tasks: ["job"] } }); or open a swarm file with openSwarm`,
    );
  }
  if (typeof config.name !== "string" || !/^[a-z][a-z0-9-]{0,62}$/.test(config.name)) {
    throw new ConfigError(
      `swarm name "${config.name}" must be lowercase letters, digits and '-', starting with a letter`,
    );
  }
  if (config.defaults?.backoff !== undefined)
    assertBackoffPolicy(config.defaults.backoff, "defaults.backoff");
  for (const [role, r] of Object.entries(config.roles)) {
    if (r.backoff !== undefined) assertBackoffPolicy(r.backoff, `roles.${role}.backoff`);
    if (r.ordering === "causal") {
      throw new ConfigError(
        `role "${role}": causal ordering applies to event subscriptions (swarm.subscribe(..., { ordering: "causal" })); order a role's tasks with ordering: conversation`,
      );
    }
  }
  for (const [key, value] of Object.entries(config.sentWatch ?? {})) {
    const least = key === "maxResends" ? 0 : 1;
    if (!(key in SENT_WATCH_DEFAULTS) || !Number.isSafeInteger(value) || value < least) {
      throw new ConfigError(
        `sentWatch.${key} = ${String(value)}: expected one of ${Object.keys(SENT_WATCH_DEFAULTS).join(", ")}, a whole number from ${least}`,
      );
    }
  }
}

function roleBook(config: NodeConfig): RoleBook {
  const d = config.defaults ?? {};
  const tasks = config.tasks ?? {};
  return {
    names: Object.keys(config.roles),
    tasks,
    settings(role: string): RoleSettings {
      const r = config.roles[role];
      if (!r) throw new ConfigError(`role "${role}" is not defined in the swarm`);
      const backoff: BackoffPolicy = r.backoff ?? d.backoff ?? defaultBackoff;
      const ackWaitMs = r.ackWaitMs ?? d.ackWaitMs ?? 30_000;
      const maxPending = r.maxPending ?? d.maxPending;
      return {
        ackWaitMs,
        maxDeliver: r.maxDeliver ?? d.maxDeliver ?? 5,
        backoff,
        ordering: r.ordering === "conversation" ? "conversation" : "none",
        gapTimeoutMs: r.gapTimeoutMs ?? Math.min(10_000, ackWaitMs),
        ...(maxPending === undefined ? {} : { maxPending }),
      };
    },
    listing(task: string): string | undefined {
      const listing = Object.entries(config.roles).filter(([, r]) => r.tasks?.includes(task));
      return listing.length === 1 ? listing[0]?.[0] : undefined;
    },
  };
}

function marketPort(node: NodeContext, engine: MarketEngine): MarketPort {
  return {
    auctionRole: (task) => (engine.isAuctioned(task) ? engine.roleOf(task) : undefined),
    async auction(
      as: string,
      id: string,
      task: string,
      body: unknown,
      parent: Envelope | undefined,
      options: AuctionOptions,
    ) {
      const agent = node.agents.get(as);
      if (!agent) {
        throw new ConfigError(`agent "${as}" is not hosted by this node; it cannot run an auction`);
      }
      const won = await engine.run({ id, auctioneer: as, task, item: body, options });
      if (won.outcome.status !== "awarded") return { outcome: won.outcome };
      const { draft, hold } = engine.awardedTask(agent.signer, task, body, parent, won, as);
      return { outcome: won.outcome, draft, ...(hold === undefined ? {} : { hold }) };
    },
    completed: (envelope, agentId, firstTime) => engine.completed(envelope, agentId, firstTime),
    failed: (envelope) => engine.failed(envelope),
  };
}

/** Room left in a broker message for the transport's own headers (message id, dead-letter reasons). */
const HEADER_ROOM_BYTES = 4096;

/**
 * The envelope size limit: the configured one (default 1 MiB), lowered to
 * what the broker accepts with room for its headers, so that a message too
 * big for the broker is refused where it is made rather than committed and
 * refused by the broker at every send.
 */
function envelopeLimit(configured: number | undefined, brokerMax: number | undefined): number {
  const limit = configured ?? DEFAULT_MAX_ENVELOPE_BYTES;
  if (brokerMax === undefined || !Number.isFinite(brokerMax) || brokerMax <= 0) return limit;
  return Math.min(limit, Math.max(1024, brokerMax - HEADER_ROOM_BYTES));
}
