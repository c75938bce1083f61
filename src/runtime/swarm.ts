import type { KeyObject } from "node:crypto";
import type { TaskTypeConfig } from "../config/schema.js";
import type { Decision } from "../consensus/seal.js";
import { type Clock, systemClock } from "../core/clock.js";
import { type Random, systemRandom } from "../core/random.js";
import { type BackoffPolicy, backoffDelay, defaultBackoff } from "../delivery/backoff.js";
import { ConclaveError, ConfigError, toError } from "../errors/index.js";
import { encodePublicKey } from "../identity/keys.js";
import { createPriceTable, type PriceTableInput } from "../ledger/index.js";
import type { AgentCard } from "../registry/agent-card.js";
import { createRegistryView, type RegistryView } from "../registry/registry-view.js";
import { createRouter, type Router } from "../routing/router.js";
import type { RoutingStrategy } from "../routing/strategies.js";
import { createSupervisor, type Supervisor } from "../runtime/supervisor.js";
import type { Store, TaskCompletion } from "../store/port.js";
import {
  type Consumer,
  DeadLetterHeaders,
  type Delivery,
  type Message,
  type Transport,
} from "../transport/port.js";
import { DEFAULT_MAX_ENVELOPE_BYTES, decodeEnvelope, encodeEnvelope } from "../wire/codec.js";
import { createEnvelope, type Envelope } from "../wire/envelope.js";
import { ulid } from "../wire/ulid.js";
import {
  Agent,
  type AgentSpec,
  type NodeServices,
  type RoleSettings,
  verifySender,
} from "./agent.js";
import { Budgets } from "./budget.js";
import { ConsensusEngine, type LocalVoter, type ProposeOptions } from "./consensus/engine.js";
import type { PrivilegedAction } from "./consensus/rule.js";
import { buildMessage, escrowOf, StagingContext, type SubmitOptions } from "./context.js";
import {
  type EventHandler,
  EventSubscription,
  type SubscribeOptions,
  VECTOR_CLOCK_HEADER,
} from "./event-subscription.js";
import type { SwarmEvent, SwarmEventListener } from "./events.js";
import {
  type AuctionOptions,
  type AuctionOutcome,
  MarketEngine,
  type OutboxDraft,
  REQUEST_ACK_WAIT_MS,
} from "./market/engine.js";
import { SwarmMetrics } from "./metrics.js";
import {
  CardProofs,
  checkHeartbeat,
  checkLeave,
  KnownNodes,
  type SignedCard,
  signLeave,
  Throttle,
} from "./registry-gossip.js";
import { queueNames, subjects, taskType } from "./subjects.js";
import { TrustManager } from "./trust.js";

/** Where an agent's key pair comes from. */
export type KeyProvider = (agentId: string) => { publicKey: KeyObject; privateKey: KeyObject };

export interface RoleConfig extends Partial<Omit<RoleSettings, "ordering">> {
  /** Task types the role handles. */
  readonly tasks?: readonly string[];
  readonly concurrency?: number;
  readonly routing?: RoutingStrategy;
  /** Task order within a conversation; `causal` applies to event subscriptions only. */
  readonly ordering?: "none" | "conversation" | "causal";
}

export interface SwarmConfig {
  /** The swarm's name: the subject prefix. */
  readonly name: string;
  readonly transport: Transport;
  readonly store: Store;
  /** Gives each agent its key pair (files under keysDir, or fresh ones in tests). */
  readonly keys: KeyProvider;
  readonly roles: Readonly<Record<string, RoleConfig>>;
  readonly defaults?: Partial<RoleSettings> & {
    readonly concurrency?: number;
    readonly heartbeatMs?: number;
    readonly suspectAfterMs?: number;
    readonly leftAfterMs?: number;
  };
  readonly signing?: "required" | "optional";
  readonly maxEnvelopeBytes?: number;
  /** Names this node in heartbeats. Default: a fresh id. */
  readonly nodeId?: string;
  readonly clock?: Clock;
  readonly random?: Random;
  /** Model prices for `ctx.spend({ model, inputTokens, outputTokens })`. */
  readonly prices?: PriceTableInput;
  /** Restarts of a crashed agent allowed per minute before it is given up on. Default 5. */
  readonly maxRestartsPerMinute?: number;
  /**
   * Privileged actions by name (task types): each is decided by the
   * configured consensus protocol (`swarm.propose`, `ctx.propose`), and a
   * handler for one runs only with a sealed approval.
   */
  readonly privileged?: Readonly<Record<string, PrivilegedAction>>;
  /**
   * Allocation by task type: a type with `allocation: "auction"` is
   * auctioned among its role's agents (contract-net) when submitted.
   */
  readonly tasks?: Readonly<Record<string, TaskTypeConfig>>;
  /** Per-agent bid rate limit in auctions this node runs (token bucket). Default 200 at once, 100/s after. */
  readonly bidRate?: { readonly capacity: number; readonly refillPerSecond: number };
}

const HEARTBEAT_CHUNK = 500;

/**
 * A swarm as one node sees it: the agents it hosts, the role queues they
 * share, the registry of every agent heard from, and the plumbing that makes
 * task handling effectively-once (outbox relay, dead-letter recorder).
 *
 * @example
 * ```ts
 * const swarm = createSwarm({ name: "demo", transport, store, keys, roles: { dev: { tasks: ["code"] } } });
 * swarm.agent({ id: "dev-1", role: "dev" }).handle("code", async (ctx) => { ctx.effect("done", ctx.root); });
 * await swarm.start();
 * await swarm.submit("dev", "code", { file: "a.ts" }, { as: "dev-1" });
 * ```
 */
export function createSwarm(config: SwarmConfig): Swarm {
  return new Swarm(config);
}

export class Swarm {
  readonly name: string;
  readonly nodeId: string;
  readonly transport: Transport;
  readonly store: Store;
  readonly registry: RegistryView;
  /** Counters of what this node observed (Prometheus naming). */
  readonly metrics = new SwarmMetrics();
  readonly #config: SwarmConfig;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #agents = new Map<string, Agent>();
  readonly #supervisors = new Map<string, Supervisor>();
  readonly #listeners = new Set<SwarmEventListener>();
  readonly #routers = new Map<string, Router>();
  readonly #sending = new Set<string>();
  readonly #eventSubs = new Set<EventSubscription>();
  /** Nodes heard recently; a new one is answered with our cards (see `#cardReplies`). */
  readonly #knownNodes: KnownNodes;
  readonly #cardReplies: Throttle;
  /** Our agents' cards as signed for this node (each agent signs its own once). */
  readonly #signedCards = new Map<string, SignedCard>();
  /** Card signatures checked in heartbeats heard. */
  readonly #cardProofs = new CardProofs();
  readonly #trust: TrustManager;
  readonly #consensus: ConsensusEngine;
  readonly #market: MarketEngine;
  /** Credit budgets of the metered agents hosted here. */
  readonly budgets: Budgets;
  /** Causally ordered events sent per local agent, for their vector clocks. */
  readonly #causalSent = new Map<string, number>();
  readonly #services: NodeServices;
  #deadLetters: Consumer | undefined;
  #subscriptions: { unsubscribe(): void }[] = [];
  #cancelHeartbeat: (() => void) | undefined;
  #cancelRelay: (() => void) | undefined;
  #state: "new" | "starting" | "running" | "stopping" | "stopped" = "new";

  constructor(config: SwarmConfig) {
    if (!/^[a-z][a-z0-9-]{0,62}$/.test(config.name)) {
      throw new ConfigError(
        `swarm name "${config.name}" must be lowercase letters, digits and '-', starting with a letter`,
      );
    }
    for (const [role, r] of Object.entries(config.roles)) {
      if (r.ordering === "causal") {
        throw new ConfigError(
          `role "${role}": causal ordering applies to event subscriptions (swarm.subscribe(..., { ordering: "causal" })); order a role's tasks with ordering: conversation`,
        );
      }
    }
    this.#config = config;
    this.name = config.name;
    this.transport = config.transport;
    this.store = config.store;
    this.#clock = config.clock ?? systemClock;
    this.#random = config.random ?? systemRandom;
    this.nodeId = config.nodeId ?? `node-${ulid(this.#clock)}`;
    const d = config.defaults ?? {};
    const heartbeatMs = d.heartbeatMs ?? 1000;
    this.registry = createRegistryView({
      suspectAfterMs: d.suspectAfterMs ?? heartbeatMs * 3,
      leftAfterMs: d.leftAfterMs ?? heartbeatMs * 10,
    });
    // A node silent for as long as its agents take to be dropped is new again when it returns.
    this.#knownNodes = new KnownNodes({ expireAfterMs: d.leftAfterMs ?? heartbeatMs * 10 });
    // Extra card publications for new nodes: at most one per half heartbeat interval.
    this.#cardReplies = new Throttle(this.#clock, Math.max(1, heartbeatMs / 2), () => {
      if (this.#state === "running" || this.#state === "starting") this.#publishCards();
    });
    this.budgets = new Budgets({
      store: this.store,
      clock: this.#clock,
      prices: config.prices ? createPriceTable(config.prices) : undefined,
      emit: (event) => this.#emit(event),
      halt: (id) => {
        this.#agents.get(id)?.pause();
        this.#announce("agent.halted", { agent: id });
      },
      resume: (id) => {
        this.#agents.get(id)?.resume();
        this.#announce("agent.resumed", { agent: id });
      },
    });
    this.#services = {
      budgets: this.budgets,
      swarm: this.name,
      transport: this.transport,
      store: this.store,
      clock: this.#clock,
      random: this.#random,
      maxEnvelopeBytes: config.maxEnvelopeBytes ?? DEFAULT_MAX_ENVELOPE_BYTES,
      signing: config.signing ?? "required",
      heartbeatMs,
      publicKey: (id) => this.#trust.key(id),
      revoked: (id) => this.#trust.isRevoked(id),
      knownCard: (id) => this.registry.get(id) !== undefined,
      role: (role) => this.#roleSettings(role),
      emit: (event) => this.#emit(event),
      sendOutbox: (taskId) => this.#sendOutbox(taskId),
      propose: (as, action, data, options) => this.#consensus.propose(as, action, data, options),
      checkApproval: (task, envelope) => this.#consensus.checkApproval(task, envelope),
      auctioned: (task) => (this.#market.isAuctioned(task) ? this.#market.roleOf(task) : undefined),
      auction: (as, id, task, body, parent, options) =>
        this.#runAuction(as, id, task, body, parent, options),
      completed: (envelope, agent, firstTime) => this.#market.completed(envelope, agent, firstTime),
    };
    this.#trust = new TrustManager({
      swarm: this.name,
      nodeId: this.nodeId,
      transport: this.transport,
      clock: this.#clock,
      registry: this.registry,
      maxEnvelopeBytes: this.#services.maxEnvelopeBytes,
      timeoutMs: Math.max(1000, heartbeatMs * 2),
      signer: () => {
        const first = this.#agents.values().next().value;
        return first ? { id: first.id, privateKey: first.sender().privateKey } : undefined;
      },
      local: (id) => {
        const agent = this.#agents.get(id);
        return agent ? { id, privateKey: agent.sender().privateKey } : undefined;
      },
      card: (id) => {
        const agent = this.#agents.get(id);
        return agent ? { ...agent.card, node: this.nodeId } : undefined;
      },
      learn: (card) => this.#observeCard(card, "handshake"),
      emit: (event) => this.#emit(event),
    });
    this.#consensus = new ConsensusEngine({
      swarm: this.name,
      transport: this.transport,
      store: this.store,
      clock: this.#clock,
      maxEnvelopeBytes: this.#services.maxEnvelopeBytes,
      privileged: config.privileged ?? {},
      roles: Object.keys(config.roles),
      local: (id) => this.#localVoter(id),
      locals: () => [...this.#agents.keys()].map((id) => this.#localVoter(id) as LocalVoter),
      remotes: () =>
        this.registry
          .find()
          .filter((e) => !this.#agents.has(e.card.id) && this.#trust.key(e.card.id) !== undefined)
          .map(({ card }) => ({
            id: card.id,
            role: card.role,
            weight: card.weight,
            publicKey: card.publicKey,
          })),
      publicKey: (id) => this.#trust.key(id),
      revoked: (id) => this.#trust.isRevoked(id),
      verifySender: (envelope) => verifySender(envelope, this.#services),
      emit: (event) => this.#emit(event),
      park: (message, error) => this.#parkBadInput(message, error),
    });
    this.#market = new MarketEngine({
      swarm: this.name,
      transport: this.transport,
      store: this.store,
      clock: this.#clock,
      maxEnvelopeBytes: this.#services.maxEnvelopeBytes,
      registry: this.registry,
      budgets: this.budgets,
      tasks: config.tasks ?? {},
      ...(config.bidRate ? { bidRate: config.bidRate } : {}),
      roleListing: (task) => {
        const listing = Object.entries(config.roles).filter(([, r]) => r.tasks?.includes(task));
        return listing.length === 1 ? listing[0]?.[0] : undefined;
      },
      local: (id) => this.#marketAgent(id),
      bidders: (role) =>
        [...this.#agents.values()].flatMap((a) =>
          a.role === role && a.bidHandler ? (this.#marketAgent(a.id) ?? []) : [],
        ),
      anyLocal: () => {
        const first = this.#agents.keys().next();
        return first.done ? undefined : this.#marketAgent(first.value);
      },
      publicKey: (id) => this.#trust.key(id),
      revoked: (id) => this.#trust.isRevoked(id),
      owner: (id) => this.#agents.get(id)?.card.owner ?? this.registry.get(id)?.card.owner,
      verifySender: (envelope) => verifySender(envelope, this.#services),
      emit: (event) => this.#emit(event),
      park: (message, error) => this.#parkBadInput(message, error),
      commitAndSend: (taskId, agent, outbox) =>
        this.#commitAndSend(taskId, agent, { effects: [], outbox }),
    });
  }

  /** Commits what `taskId` staged (once: a repeat commits nothing) and sends its outbox. */
  async #commitAndSend(
    taskId: string,
    agent: string,
    staged: Pick<TaskCompletion, "effects" | "outbox">,
  ): Promise<void> {
    await this.store.completeTask({ taskId, agent, at: this.#clock.now(), ...staged });
    await this.#sendOutbox(taskId);
  }

  #marketAgent(id: string) {
    const agent = this.#agents.get(id);
    if (!agent) return undefined;
    return {
      id,
      role: agent.role,
      privateKey: agent.sender().privateKey,
      ...(agent.bidHandler ? { bid: agent.bidHandler } : {}),
      idle: agent.paused || this.budgets.isHalted(id),
    };
  }

  async #runAuction(
    as: string,
    id: string,
    task: string,
    body: unknown,
    parent: Envelope | undefined,
    options: AuctionOptions,
  ): Promise<{ outcome: AuctionOutcome; draft?: OutboxDraft }> {
    const agent = this.#agentOrThrow(as);
    const won = await this.#market.run({ id, auctioneer: as, task, item: body, options });
    if (won.outcome.status !== "awarded") return { outcome: won.outcome };
    const draft = this.#market.awardedTask(
      { id: as, privateKey: agent.sender().privateKey },
      task,
      body,
      parent,
      won,
      as,
    );
    return { outcome: won.outcome, draft };
  }

  #localVoter(id: string): LocalVoter | undefined {
    const agent = this.#agents.get(id);
    if (!agent) return undefined;
    return {
      id,
      role: agent.role,
      weight: agent.card.weight,
      publicKey: agent.card.publicKey,
      privateKey: agent.sender().privateKey,
      ...(agent.policy ? { rules: agent.policy } : {}),
      ...(agent.voteHandler ? { handler: agent.voteHandler } : {}),
    };
  }

  /** Adds an agent hosted by this node. Call before `start()`. */
  agent(spec: AgentSpec): Agent {
    if (this.#agents.has(spec.id)) {
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
    const agent = new Agent(
      {
        ...spec,
        concurrency:
          spec.concurrency ??
          this.#config.roles[spec.role]?.concurrency ??
          this.#config.defaults?.concurrency ??
          1,
      },
      { publicKey: encodePublicKey(pair.publicKey), privateKey: pair.privateKey },
    );
    this.#agents.set(spec.id, agent);
    this.#trust.trustLocal(spec.id, pair.publicKey);
    if (spec.budget) this.budgets.add(spec.id, spec.budget);
    if (this.#state === "running") void this.#startAgent(agent);
    return agent;
  }

  get agents(): readonly Agent[] {
    return [...this.#agents.values()];
  }

  /** Listens to what this node observes. Returns the function that stops listening. */
  on(listener: SwarmEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Declares the queues, recovers what a crash left unsent, starts the
   * registry and every agent. Idempotent.
   */
  async start(): Promise<void> {
    if (this.#state !== "new") return;
    this.#state = "starting";
    const t = this.transport;
    await t.ensureQueue({
      name: queueNames.deadLetters(this.name),
      subjects: subjects.allDeadLetters(this.name),
      ackWaitMs: 30_000,
      maxDeliver: 1_000_000,
      deadLetterSubject: subjects.deadLetter(this.name, "dlq"),
    });
    for (const role of Object.keys(this.#config.roles)) {
      const s = this.#roleSettings(role);
      await t.ensureQueue({
        name: queueNames.role(this.name, role),
        subjects: subjects.roleTasks(this.name, role),
        ackWaitMs: s.ackWaitMs,
        maxDeliver: s.maxDeliver,
        deadLetterSubject: subjects.deadLetter(this.name, role),
      });
    }
    this.#deadLetters = t.consume(
      queueNames.deadLetters(this.name),
      (d) => this.#recordDeadLetter(d),
      { maxInFlight: 16 },
    );
    // Each bidder has its own queue of the tasks it won.
    for (const agent of this.#agents.values()) {
      if (!agent.bidHandler) continue;
      const s = this.#roleSettings(agent.role);
      await t.ensureQueue({
        name: queueNames.awarded(this.name, agent.id),
        subjects: subjects.awardedTasks(this.name, agent.id),
        ackWaitMs: s.ackWaitMs,
        maxDeliver: s.maxDeliver,
        deadLetterSubject: subjects.deadLetter(this.name, `award-${agent.id}`),
      });
    }
    const auctioned = Object.values(this.#config.tasks ?? {}).some(
      (t) => t.allocation === "auction",
    );
    if (auctioned) {
      await t.ensureQueue({
        name: queueNames.auctionRequests(this.name),
        subjects: subjects.allAuctionRequests(this.name),
        ackWaitMs: REQUEST_ACK_WAIT_MS,
        maxDeliver: 20,
        deadLetterSubject: subjects.deadLetter(this.name, "market"),
      });
    }
    this.#trust.start();
    this.#consensus.start();
    this.#market.start();
    if (Object.keys(this.#config.privileged ?? {}).length > 0) {
      // The registry snapshot: the keys an offline audit checks votes against.
      await Promise.all(
        [...this.#agents.values()].map((agent) =>
          this.store.saveAgentCard(
            { ...agent.card, node: this.nodeId },
            { updatedAt: this.#clock.now() },
          ),
        ),
      );
    }
    this.#subscriptions.push(
      t.subscribe(subjects.heartbeat(this.name), (m) => this.#onHeartbeat(m)),
      t.subscribe(subjects.leave(this.name), (m) => this.#onLeave(m)),
    );
    await this.#relayOutbox();
    await this.budgets.start();
    this.#heartbeat();
    this.#state = "running";
    await Promise.all([...this.#agents.values()].map((a) => this.#startAgent(a)));
    if (auctioned && this.#agents.size > 0) {
      this.#market.consumeRequests(queueNames.auctionRequests(this.name), 32);
    }
    this.#scheduleRelay();
  }

  /**
   * Submits a durable root task to a role, signed as agent `as` (hosted
   * here). The task is recorded in the store's outbox before it is sent, so
   * it is tracked as a workload item and survives a crash. Resolves when
   * the bus has it. Returns the task id.
   */
  async submit<TBody>(
    role: string,
    task: string,
    body: TBody,
    options: SubmitOptions & { as: string },
  ): Promise<string> {
    const agent = this.#agentOrThrow(options.as);
    const staging = new StagingContext(agent.sender(), undefined);
    const id = staging.submit(role, task, body, options);
    await this.#commitAndSend(`submit:${id}`, agent.id, staging.staged());
    this.#emit({ type: "task.submitted", id, role, task });
    return id;
  }

  /**
   * Publishes an event to `<swarm>.event.<type>`, signed as local agent `as`.
   * At-most-once fan-out: subscribers that are not listening miss it. With
   * `causal: true` it carries a vector clock, so causal subscribers never see
   * it before the events this node had delivered when it was sent.
   */
  publish<TBody>(
    type: string,
    body: TBody,
    options: { as: string; conv?: string; seq?: number; causal?: boolean },
  ): string {
    const agent = this.#agentOrThrow(options.as);
    const headers: Record<string, string> = {};
    if (options.causal) {
      const clock: Record<string, number> = {};
      for (const sub of this.#eventSubs) {
        for (const [node, n] of Object.entries(sub.delivered() ?? {}))
          clock[node] = Math.max(clock[node] ?? 0, n);
      }
      const sent = (this.#causalSent.get(agent.id) ?? 0) + 1;
      this.#causalSent.set(agent.id, sent);
      clock[agent.id] = sent;
      headers[VECTOR_CLOCK_HEADER] = JSON.stringify(clock);
    }
    const { envelope, entry } = buildMessage(
      agent.sender(),
      "publish",
      subjects.event(this.name, type),
      type,
      body,
      undefined,
      {
        ...(options.conv === undefined ? {} : { conv: options.conv, seq: options.seq ?? 0 }),
      },
    );
    this.transport.publish(entry.subject, entry.data, { headers });
    return envelope.id;
  }

  /**
   * Subscribes to events whose type matches `type` (wildcards `*` and `>`
   * allowed), with opt-in ordering (see `SubscribeOptions`). Events that fail
   * to decode or verify are parked in the dead-letter queue with the reason.
   */
  subscribe<TBody = unknown>(
    type: string,
    handler: EventHandler<TBody>,
    options: SubscribeOptions = {},
  ): { unsubscribe(): void } {
    const sub = new EventSubscription(
      {
        transport: this.transport,
        clock: this.#clock,
        open: (message) => {
          const envelope = decodeEnvelope(message.data, {
            maxBytes: this.#services.maxEnvelopeBytes,
          });
          verifySender(envelope, this.#services);
          return envelope;
        },
        park: (message, error) => this.#parkBadInput(message, error),
        emit: (event) => this.#emit(event),
      },
      subjects.event(this.name, type),
      handler as EventHandler,
      options,
    );
    this.#eventSubs.add(sub);
    return {
      unsubscribe: () => {
        sub.close();
        this.#eventSubs.delete(sub);
      },
    };
  }

  /**
   * Sends a task to one live agent of `role` and waits for its result,
   * choosing by the role's routing strategy and failing over to the next
   * candidate when one fails or times out.
   */
  async request<TResult = unknown>(
    role: string,
    task: string,
    body: unknown,
    options: { as: string; timeoutMs?: number; tags?: readonly string[] },
  ): Promise<TResult> {
    const agent = this.#agentOrThrow(options.as);
    const candidates = this.registry
      .find({ role, cardStatus: "active", ...(options.tags ? { tags: options.tags } : {}) })
      .map((e) => e.card);
    const router = this.#router(role);
    const timeoutMs = options.timeoutMs ?? 30_000;
    return router.routeWithFailover(candidates, role, async (card) => {
      const { entry } = buildMessage(
        agent.sender(),
        "publish",
        subjects.agentRequest(this.name, card.id),
        taskType(task),
        body,
        undefined,
      );
      const reply = await this.transport.request(entry.subject, entry.data, { timeoutMs });
      const envelope = decodeEnvelope(reply.data, { maxBytes: this.#services.maxEnvelopeBytes });
      if (envelope.type === "reply.error") {
        const error = (envelope.body as { error?: { code?: string; message?: string } }).error;
        throw new ConclaveError(
          error?.code ?? "E_REMOTE",
          `agent "${card.id}" failed the request: ${error?.message ?? "unknown error"}`,
        );
      }
      return envelope.body as TResult;
    });
  }

  /**
   * Proposes privileged `action` with `data` as local agent `as`: a round of
   * the action's consensus protocol among the agents of its voter roles.
   * Resolves with the sealed decision (approved, rejected, vetoed or
   * no-quorum), recorded in the audit log; run the action with
   * `{ approval: decision.seal }` only if it was approved.
   *
   * @example
   * ```ts
   * const decision = await swarm.propose("funds.transfer", { to: "dev-1", amount: 500 }, { as: "lead" });
   * if (decision.outcome === "approved") {
   *   await swarm.submit("treasury", "funds.transfer", decision.proposal.data, { as: "lead", approval: decision.seal });
   * }
   * ```
   */
  async propose(
    action: string,
    data: unknown,
    options: ProposeOptions & { as: string },
  ): Promise<Decision> {
    const agent = this.#agentOrThrow(options.as);
    const { as: _as, ...rest } = options;
    return this.#consensus.propose(agent.id, action, data, rest);
  }

  /**
   * Allocates a task by auction among the agents of its role, as local agent
   * `as`, and sends it to the winner (see `TaskContext.auction`). Resolves
   * with the outcome; `task` is the awarded task's id. Unsold: nothing is
   * sent.
   *
   * @example
   * ```ts
   * const won = await swarm.auction("review", { pr: 42 }, { as: "lead", rule: "vickrey", reserve: 500 });
   * ```
   */
  async auction(
    task: string,
    body: unknown,
    options: AuctionOptions & { as: string; id?: string },
  ): Promise<AuctionOutcome & { readonly task?: string }> {
    const { as, id: given, ...rest } = options;
    this.#agentOrThrow(as);
    const id = given ?? ulid(this.#clock);
    const { outcome, draft } = await this.#runAuction(as, id, task, body, undefined, rest);
    if (!draft) return outcome;
    await this.#commitAndSend(`auction:${id}`, as, { effects: [], outbox: [draft] });
    return { ...outcome, task: draft.id };
  }

  /**
   * Revokes an agent's key at once: this node refuses its messages from now
   * on (tasks from it are dead-lettered), the registry drops it, and every
   * node that trusts `as` applies the signed revocation too.
   */
  revoke(agentId: string, options: { as: string }): void {
    const by = this.#agentOrThrow(options.as);
    this.#trust.revoke(agentId, { id: by.id, privateKey: by.sender().privateKey });
  }

  /**
   * Stops taking work, lets in-flight tasks finish and ack, announces the
   * agents' departure, then closes the transport and the store. Idempotent.
   */
  async drain(): Promise<void> {
    await this.#stop(true);
  }

  /** Stops at once: in-flight tasks go back to their queues for redelivery. Idempotent. */
  async close(): Promise<void> {
    await this.#stop(false);
  }

  async #stop(graceful: boolean): Promise<void> {
    if (this.#state === "stopping" || this.#state === "stopped") return;
    const wasRunning = this.#state === "running";
    this.#state = "stopping";
    this.#cancelHeartbeat?.();
    this.#cardReplies.cancel();
    this.#cancelRelay?.();
    // Agents first, the way the caller asked (drain or drop); their
    // supervisors then see a normal exit and do not restart them.
    await Promise.all([...this.#agents.values()].map((a) => a.stop(graceful)));
    for (const sup of this.#supervisors.values()) await sup.stop().catch(() => undefined);
    if (wasRunning && graceful) this.#announceLeave();
    for (const s of this.#subscriptions) s.unsubscribe();
    this.#subscriptions = [];
    this.#trust.close();
    this.#consensus.close();
    this.#market.close();
    for (const sub of this.#eventSubs) sub.close();
    this.#eventSubs.clear();
    if (graceful) await this.#deadLetters?.drain();
    else await this.#deadLetters?.close();
    if (graceful) await this.transport.drain();
    else await this.transport.close();
    await this.store.close();
    this.#state = "stopped";
  }

  // ---- agents ---------------------------------------------------------------

  async #startAgent(agent: Agent): Promise<void> {
    const sup = createSupervisor({
      name: agent.id,
      clock: this.#clock,
      random: this.#random,
      backoff: { ...defaultBackoff, baseMs: 200, maxMs: 10_000 },
      maxRestarts: this.#config.maxRestartsPerMinute ?? 5,
      windowMs: 60_000,
      start: async () => {
        const { exited } = await agent.start(this.#services);
        return {
          exited: exited.then(async (error) => {
            // A crash: stop taking work; unsettled tasks go back to the queue.
            if (error) await agent.stop(false);
            return error;
          }),
          stop: () => agent.stop(true),
        };
      },
      onEvent: (e) => {
        if (e.type === "crashed") {
          this.#emit({
            type: "agent.crashed",
            agent: agent.id,
            error: e.error.message,
            restart: e.restart,
          });
        } else if (e.type === "gave-up") {
          this.#emit({ type: "agent.gave_up", agent: agent.id, error: e.error.message });
        }
      },
    });
    this.#supervisors.set(agent.id, sup);
    await sup.start();
  }

  #agentOrThrow(id: string): Agent {
    const agent = this.#agents.get(id);
    if (!agent) {
      throw new ConfigError(
        `agent "${id}" is not hosted by this node; messages must be signed by a local agent`,
      );
    }
    if (this.#state !== "running") {
      throw new ConclaveError("E_NOT_STARTED", "the swarm is not running; call start() first");
    }
    return agent;
  }

  #roleSettings(role: string): RoleSettings {
    const r = this.#config.roles[role];
    const d = this.#config.defaults ?? {};
    if (!r) throw new ConfigError(`role "${role}" is not defined in the swarm`);
    const backoff: BackoffPolicy = r.backoff ?? d.backoff ?? defaultBackoff;
    const ackWaitMs = r.ackWaitMs ?? d.ackWaitMs ?? 30_000;
    return {
      ackWaitMs,
      maxDeliver: r.maxDeliver ?? d.maxDeliver ?? 5,
      backoff,
      ordering: r.ordering === "conversation" ? "conversation" : "none",
      gapTimeoutMs: r.gapTimeoutMs ?? Math.min(10_000, ackWaitMs),
    };
  }

  #router(role: string): Router {
    let router = this.#routers.get(role);
    if (!router) {
      router = createRouter({
        strategy: this.#config.roles[role]?.routing ?? "round-robin",
        random: this.#random,
        clock: this.#clock,
      });
      this.#routers.set(role, router);
    }
    return router;
  }

  // ---- keys and registry ----------------------------------------------------

  /**
   * Publishes our agents' cards, each signed by its own agent, in heartbeats
   * signed by the first of them (see `checkHeartbeat`). A node without
   * agents has nothing to announce.
   */
  #publishCards(): void {
    const agents = [...this.#agents.values()];
    const signer = agents[0];
    if (!signer) return;
    const cards = agents.map((a) => {
      let signed = this.#signedCards.get(a.id);
      if (signed === undefined) {
        signed = a.signedCard(this.nodeId);
        this.#signedCards.set(a.id, signed);
      }
      return signed;
    });
    for (let i = 0; i < cards.length; i += HEARTBEAT_CHUNK) {
      // Every chunk lists its signer's card, so that it can be checked alone.
      const chunk = cards.slice(i, i + HEARTBEAT_CHUNK);
      if (i > 0) chunk.push(cards[0] as SignedCard);
      const envelope = signer.signHeartbeat({ node: this.nodeId, cards: chunk }, this.#clock);
      this.transport.publish(
        subjects.heartbeat(this.name),
        encodeEnvelope(envelope, { maxBytes: this.#services.maxEnvelopeBytes }),
      );
    }
  }

  #heartbeat(): void {
    const now = this.#clock.now();
    this.#publishCards();
    this.#cardReplies.ran();
    this.#knownNodes.prune(now);
    // Someone may have funded a halted agent (conclave ledger fund, any node).
    this.budgets
      .poll()
      .catch((e: unknown) => this.#emit({ type: "error", error: toError(e).message }));
    for (const event of this.registry.tick(now)) {
      if (event.type === "agent.left") {
        this.#trust.forget(event.card.id);
        for (const r of this.#routers.values()) r.forget(event.card.id);
      }
      this.#emit(event);
    }
    const every = this.#config.defaults?.heartbeatMs ?? 1000;
    this.#cancelHeartbeat = this.#clock.setTimer(() => this.#heartbeat(), every);
  }

  /** Publishes a node-level event (`<swarm>.event.<type>`) for every node and dashboard to see. */
  #announce(type: string, body: unknown): void {
    try {
      this.transport.publish(subjects.event(this.name, type), this.#nodeMessage(type, body));
    } catch (error) {
      this.#emit({ type: "error", error: `publishing ${type}: ${toError(error).message}` });
    }
  }

  /** Tells every node our agents are leaving, signed by one of them (see `checkLeave`). */
  #announceLeave(): void {
    const ids = [...this.#agents.keys()];
    const signer = this.#agents.values().next().value;
    if (!signer) return;
    const envelope = signLeave(
      { id: signer.id, privateKey: signer.sender().privateKey },
      { node: this.nodeId, agents: ids },
      this.#clock,
    );
    this.transport.publish(
      subjects.leave(this.name),
      encodeEnvelope(envelope, { maxBytes: this.#services.maxEnvelopeBytes }),
    );
  }

  /** Heartbeats and node events are signed by no agent: they carry cards and news, not commands. */
  #nodeMessage(type: string, body: unknown): Uint8Array {
    return encodeEnvelope(
      createEnvelope({ type, from: this.nodeId, body: body as never }, { clock: this.#clock }),
      { maxBytes: this.#services.maxEnvelopeBytes },
    );
  }

  /** A heartbeat's cards are recorded once it checks out; anything else is dead-lettered with the reason. */
  #onHeartbeat(message: Message): void {
    let cards: AgentCard[];
    try {
      const env = decodeEnvelope(message.data, { maxBytes: this.#services.maxEnvelopeBytes });
      const now = this.#clock.now();
      const heard = checkHeartbeat(env, {
        keyOf: (id) => this.#trust.key(id),
        revoked: (id) => this.#trust.isRevoked(id),
        proofs: this.#cardProofs,
        now,
      });
      cards = heard.cards;
      // A node we have not heard from has just joined: answer with our cards
      // soon (throttled, so a burst of joins cannot make us republish per
      // heartbeat heard), so it can verify our agents' messages without
      // waiting a heartbeat interval.
      if (heard.node !== this.nodeId && this.#knownNodes.observe(heard.node, now)) {
        this.#cardReplies.request();
      }
    } catch (error) {
      this.#parkBadInput(message, error);
      return;
    }
    for (const card of cards) this.#observeCard(card, message.subject);
  }

  /**
   * Records a card heard in a heartbeat (or carried by a handshake) unless
   * it conflicts with the key pinned for that id; returns whether it was kept.
   */
  #observeCard(card: AgentCard, subject: string): boolean {
    const local = this.#agents.get(card.id);
    const known = this.registry.get(card.id);
    const pinned = local?.card.publicKey ?? known?.card.publicKey;
    if (pinned !== undefined && pinned !== card.publicKey) {
      this.#emit({
        type: "message.rejected",
        subject,
        code: "E_SIGNATURE",
        reason: `a card for "${card.id}" carries a different public key than the one pinned; ignored (revoke the agent first to rotate its key)`,
      });
      return false;
    }
    for (const event of this.registry.observe(card, this.#clock.now())) this.#emit(event);
    if (!local) this.#trust.consider(card);
    return true;
  }

  /** A signed leave removes the signer's node's agents; an unsigned or forged one is dead-lettered. */
  #onLeave(message: Message): void {
    try {
      const env = decodeEnvelope(message.data, { maxBytes: this.#services.maxEnvelopeBytes });
      const ids = checkLeave(env, {
        keyOf: (id) => this.#trust.key(id),
        entry: (id) => this.registry.get(id),
        revoked: (id) => this.#trust.isRevoked(id),
      });
      const now = this.#clock.now();
      for (const id of ids) for (const event of this.registry.leave(id, now)) this.#emit(event);
    } catch (error) {
      this.#parkBadInput(message, error);
    }
  }

  /** Core-bus input that fails to parse is parked in the dead-letter queue with the reason. */
  #parkBadInput(message: Message, error: unknown): void {
    const e = toError(error);
    const code = e instanceof ConclaveError ? e.code : "E_INVALID_ENVELOPE";
    this.#emit({ type: "message.rejected", subject: message.subject, code, reason: e.message });
    this.transport
      .enqueue(subjects.deadLetter(this.name, "input"), message.data, {
        msgId: `bad-${ulid(this.#clock)}`,
        headers: {
          [DeadLetterHeaders.reason]: `${e.name}: ${e.message}`,
          [DeadLetterHeaders.subject]: message.subject,
          [DeadLetterHeaders.deliveries]: "1",
          [DeadLetterHeaders.at]: String(this.#clock.now()),
        },
      })
      .catch((err: unknown) => this.#emit({ type: "error", error: toError(err).message }));
  }

  // ---- outbox and dead letters ---------------------------------------------

  /**
   * Sends what a committed task left in the outbox, in batches sent
   * concurrently (so a plan of thousands of tasks shares journal commits),
   * then clears what the bus accepted. What fails stays for the relay.
   */
  async #sendOutbox(taskId: string): Promise<void> {
    for (;;) {
      const entries = (await this.store.pendingOutbox({ taskId, limit: 1000 })).filter(
        (e) => !this.#sending.has(e.id),
      );
      if (entries.length === 0) return;
      for (const e of entries) this.#sending.add(e.id);
      const results = await Promise.allSettled(
        entries.map(async (entry) => {
          if (entry.mode === "enqueue") {
            await this.transport.enqueue(entry.subject, entry.data, { msgId: entry.id });
          } else {
            this.transport.publish(entry.subject, entry.data);
          }
          return entry.id;
        }),
      );
      for (const e of entries) this.#sending.delete(e.id);
      const sent = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
      if (sent.length > 0) await this.store.deleteOutbox(sent);
      const failed = results.find((r) => r.status === "rejected");
      if (failed) {
        // Left in the outbox: the relay retries it with backoff.
        this.#emit({
          type: "error",
          error: `sending outbox of ${taskId}: ${toError(failed.reason).message}`,
        });
        return;
      }
    }
  }

  async #relayOutbox(): Promise<void> {
    const pending = await this.store.pendingOutbox({ limit: 10_000 });
    const tasks = new Set(pending.map((p) => p.taskId));
    for (const taskId of tasks) await this.#sendOutbox(taskId);
  }

  #scheduleRelay(retry = 1): void {
    const delay = backoffDelay(
      retry,
      { baseMs: 1000, maxMs: 30_000, factor: 2, jitter: "equal" },
      this.#random,
    );
    this.#cancelRelay = this.#clock.setTimer(() => {
      if (this.#state !== "running") return;
      this.#relayOutbox().then(
        () => this.#scheduleRelay(1),
        (e: unknown) => {
          this.#emit({ type: "error", error: `outbox relay: ${toError(e).message}` });
          this.#scheduleRelay(retry + 1);
        },
      );
    }, delay);
  }

  async #recordDeadLetter(delivery: Delivery): Promise<void> {
    const h = delivery.headers;
    let envelope: Envelope | undefined;
    try {
      envelope = decodeEnvelope(delivery.data, { maxBytes: Number.MAX_SAFE_INTEGER });
    } catch {
      envelope = undefined;
    }
    const record = {
      id: h[DeadLetterHeaders.msgId] || delivery.msgId || `anonymous-${ulid(this.#clock)}`,
      subject: h[DeadLetterHeaders.subject] ?? delivery.subject,
      reason: h[DeadLetterHeaders.reason] ?? "unknown",
      deliveries: Number(h[DeadLetterHeaders.deliveries] ?? "0") || 0,
      at: Number(h[DeadLetterHeaders.at] ?? this.#clock.now()) || this.#clock.now(),
      data: Buffer.from(delivery.data).toString("base64"),
      ...(envelope ? { corr: envelope.corr ?? envelope.id, type: envelope.type } : {}),
    };
    try {
      await this.store.recordDeadLetter(record);
      // A delegated task that died never earns its budget: give it back.
      const escrow = escrowOf(envelope);
      if (escrow) await this.budgets.settle(escrow.key, escrow.amount, "fail", escrow.delegator);
      // A task won at auction and never done: its winner's reputation learns it.
      await this.#market.failed(envelope);
    } catch (error) {
      await delivery.nak({ delayMs: 1000, reason: toError(error).message });
      return;
    }
    await delivery.ack();
    this.#emit({
      type: "task.dead_lettered",
      id: record.id,
      subject: record.subject,
      reason: record.reason,
      deliveries: record.deliveries,
    });
  }

  #emit(event: SwarmEvent): void {
    this.metrics.observe(event);
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A broken listener must not break the swarm.
      }
    }
  }
}
