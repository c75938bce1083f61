import type { KeyObject } from "node:crypto";
import type { Decision } from "../consensus/seal.js";
import { ConclaveError, ConfigError } from "../errors/index.js";
import type { RegistryView } from "../registry/registry-view.js";
import type { Store, TaskOutcome } from "../store/port.js";
import type { QueueInfo, Transport } from "../transport/port.js";
import type { Agent, AgentSpec } from "./agent.js";
import type { AgentPool, AgentPoolConfig } from "./agent-pool.js";
import type { Budgets } from "./budget.js";
import type { AwaitingHumans } from "./consensus/human-votes.js";
import type { ProposeOptions } from "./consensus/types.js";
import type { SubmitOptions } from "./context.js";
import type { Redriven, RedriveOptions } from "./dead-letters.js";
import type { PublishOptions } from "./event-bus.js";
import type { EventHandler, SubscribeOptions } from "./event-subscription.js";
import type { SwarmEventListener } from "./events.js";
import { AgentHosting, type KeyProvider } from "./hosting.js";
import type { AuctionOptions, AuctionOutcome } from "./market/engine.js";
import type { SwarmMetrics } from "./metrics.js";
import { type NodeConfig, SwarmNode } from "./node.js";
import type { WaitOptions } from "./node-context.js";
import { queueDepths } from "./queues.js";
import type { RequestOptions } from "./requests.js";
import type { RoleSlots, RoleSlotsConfig } from "./role-slots.js";
import { RootTasks } from "./root-tasks.js";

export type { KeyProvider } from "./hosting.js";
export type { RoleConfig } from "./node.js";

/** How a swarm node is built: the node's parts, and the agents it hosts. */
export interface SwarmConfig extends NodeConfig {
  /** Gives each agent its key pair (files under keysDir, or fresh ones in tests). */
  readonly keys: KeyProvider;
  /** Restarts of a crashed agent allowed per minute before it is given up on. Default 5. */
  readonly maxRestartsPerMinute?: number;
}

/**
 * Builds a swarm node (not started). A swarm as one node sees it: the agents it hosts, the role queues they
 * share, the registry of every agent heard from, and the plumbing that makes
 * task handling effectively-once (see `SwarmNode` for the parts).
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

/**
 * A swarm as this node runs it: add agents, `start()`, submit root tasks,
 * read their results, then `drain()` or `close()`. Made by {@link createSwarm}.
 *
 * @example
 * ```ts
 * const swarm = createSwarm({ name: "demo", transport, store, keys, roles: { dev: { tasks: ["code"] } } });
 * swarm.agent({ id: "dev-1", role: "dev" }).handle("code", (ctx) => ctx.finish({ ok: true }));
 * await swarm.start();
 * const result = await swarm.submitAndWait("dev", "code", { file: "a.ts" }, { as: "dev-1" });
 * await swarm.close();
 * ```
 */
export class Swarm {
  readonly #node: SwarmNode;
  readonly #hosting: AgentHosting;
  readonly #roots: RootTasks;
  #state: "new" | "starting" | "running" | "stopping" | "stopped" = "new";

  constructor(config: SwarmConfig) {
    if (typeof config === "object" && config !== null && typeof config.keys !== "function") {
      throw new ConfigError(
        "swarm config: keys missing. Pass a function from agent id to its key pair: keys: (id) => loadOrCreateAgentKey(join(keysDir, id)), or generateAgentKeyPair() in tests",
      );
    }
    this.#node = new SwarmNode(config, { stopAgent: (id) => void this.#hosting.stopAgent(id) });
    this.#hosting = new AgentHosting(this.#node, config);
    this.#roots = new RootTasks(this.#node);
  }

  /** The swarm's name: the subject prefix. */
  get name(): string {
    return this.#node.swarm;
  }
  /** This node's id, unique per process: what the registry and the audit log name. */
  get nodeId(): string {
    return this.#node.nodeId;
  }
  /** The transport the swarm was built with. */
  get transport(): Transport {
    return this.#node.transport;
  }
  /** The store the swarm was built with: tasks, effects, results, ledger, audit log. */
  get store(): Store {
    return this.#node.store;
  }
  /** Every agent heard from, with liveness. */
  get registry(): RegistryView {
    return this.#node.registry;
  }
  /** Counters of what this node observed (Prometheus naming). */
  get metrics(): SwarmMetrics {
    return this.#node.events.metrics;
  }
  /** Credit budgets of the metered agents hosted here. */
  get budgets(): Budgets {
    return this.#node.budgets;
  }
  /** The agents hosted by this node, in the order they were added. */
  get agents(): readonly Agent[] {
    return [...this.#node.hosted.values()];
  }

  /** Adds an agent hosted by this node. Call before `start()`. */
  agent(spec: AgentSpec): Agent {
    return this.#hosting.add(spec);
  }

  /**
   * Scales a pool of workers of one role between `min` and `max` by the
   * role queue's depth and the workers' latency (see `AgentPool`): spawns
   * workers with `spawn`, retires idle ones by draining them. Runs while the
   * swarm runs; call before or after `start()`.
   */
  pool(config: AgentPoolConfig): AgentPool {
    return this.#hosting.pool(config);
  }

  /**
   * Staffs roles with their best agents hosted here (see `RoleSlots`): the
   * holders take tasks, the others of the role wait on standby, and a slot
   * goes to the best standby when its holder is halted, leaves or gives up,
   * or falls below the reputation floor (`agent.reassigned`). Call before
   * `start()`.
   */
  slots(config: RoleSlotsConfig): RoleSlots {
    return this.#hosting.slots(config);
  }

  /** Listens to what this node observes. Returns the function that stops listening. */
  on(listener: SwarmEventListener): () => void {
    return this.#node.events.on(listener);
  }

  /**
   * Declares the queues, recovers what a crash left unsent, starts the
   * registry and every agent. Idempotent.
   */
  async start(): Promise<void> {
    if (this.#state !== "new") return;
    this.#state = "starting";
    await this.#node.start();
    this.#state = "running";
    await this.#hosting.start();
  }

  /**
   * Submits a durable root task to a role, signed as agent `as` (hosted
   * here). The task is recorded in the store's outbox before it is sent, so
   * it is tracked as a workload item and survives a crash. Resolves when
   * the bus has it: while the role's queue is full (`maxPending`) it waits,
   * sending again with backoff (a `queue.full` event says so), so a producer
   * slows to its consumers' pace. Returns the task id.
   */
  async submit<TBody>(
    role: string,
    task: string,
    body: TBody,
    options: SubmitOptions & { as: string },
  ): Promise<string> {
    return this.#roots.submit(this.#local(options.as), role, task, body, options);
  }

  /**
   * Submits a root task with a budget paid by local agent `as` (see
   * `ctx.delegate`): `budget` credits move into the task's escrow (key
   * `escrow`, default `root.<task id>`) in the store commit that records the
   * task, or neither happens (`InsufficientCreditsError` or
   * `AgentHaltedError` at once, and nothing is sent, when `as` cannot pay).
   * An agent without a budget submits without escrow. Idempotent by
   * `options.id`: delegated again, it holds nothing twice. Returns the task id.
   */
  async delegate<TBody>(
    role: string,
    task: string,
    body: TBody,
    options: SubmitOptions & { as: string; budget: number; escrow?: string },
  ): Promise<string> {
    return this.#roots.delegate(this.#local(options.as), role, task, body, options);
  }

  /**
   * Submits a task and waits for its handler's return value. Durable: the
   * outcome is read from the store, so it is found wherever the task ran.
   * To survive the caller's own restart, pass `id` (a ULID you keep): the
   * same id is never submitted twice, and `wait(id)` picks the wait up again.
   *
   * @throws ChildTaskFailedError when the task was dead-lettered (with the reason).
   * @throws TimeoutError after `timeoutMs` without an outcome (the task may still complete).
   * @example
   * ```ts
   * const summary = await swarm.submitAndWait<string>("writer", "summarise", { text }, { as: "lead", timeoutMs: 60_000 });
   * ```
   */
  async submitAndWait<TResult = unknown, TBody = unknown>(
    role: string,
    task: string,
    body: TBody,
    options: SubmitOptions & { as: string } & WaitOptions,
  ): Promise<TResult> {
    const { timeoutMs, signal, ...submit } = options;
    const id = await this.submit(role, task, body, submit);
    return this.wait<TResult>(id, {
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      ...(signal === undefined ? {} : { signal }),
    });
  }

  /**
   * Waits for task `id` to be completed (resolving with its handler's return
   * value) or dead-lettered (`ChildTaskFailedError` with the reason).
   */
  async wait<TResult = unknown>(id: string, options: WaitOptions = {}): Promise<TResult> {
    return this.#node.outcomes.result<TResult>(id, options);
  }

  /**
   * How task `id` ended — completed with its handler's return value, or
   * dead-lettered with the reason — or undefined while it has not. A task
   * allocated by auction reads as the task awarded for it.
   */
  outcome(id: string): Promise<TaskOutcome | undefined> {
    return this.#node.outcomes.outcome(id);
  }

  /**
   * What root task `rootId` was finished with (`ctx.finish(data)` by any task
   * of its tree), or undefined while it is not finished.
   */
  result(
    rootId: string,
  ): Promise<{ readonly data?: unknown; readonly by: string; readonly at: number } | undefined> {
    return this.#node.outcomes.finished(rootId);
  }

  /**
   * Publishes an event to `<swarm>.event.<type>`, signed as local agent `as`.
   * At-most-once fan-out: subscribers that are not listening miss it. With
   * `causal: true` it carries a vector clock, so causal subscribers never see
   * it before the events this node had delivered when it was sent.
   */
  publish<TBody>(type: string, body: TBody, options: PublishOptions & { as: string }): string {
    return this.#node.eventBus.publish(this.#local(options.as), type, body, options);
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
    return this.#node.eventBus.subscribe(type, handler, options);
  }

  /**
   * Sends a task to one live agent of `role` and waits for its result,
   * choosing by the role's routing strategy and failing over to the next
   * candidate when one fails or times out.
   */
  request<TResult = unknown>(
    role: string,
    task: string,
    body: unknown,
    options: RequestOptions & { as: string },
  ): Promise<TResult> {
    return this.#node.requests.request<TResult>(this.#local(options.as), role, task, body, options);
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
    const { as, ...rest } = options;
    return this.#node.consensus.propose(this.#local(as).id, action, data, rest);
  }

  /**
   * Mints `credits` to declared agent `agentId` (a top-up), recorded in the
   * audit log with `by`. Returns its balance.
   * @throws ConfigError for an id that is not an agent of the swarm, or an amount that is not a positive whole number.
   */
  async fund(agentId: string, credits: number, options: { by: string }): Promise<number> {
    if (!Number.isSafeInteger(credits) || credits <= 0) {
      throw new ConfigError(
        `fund ${agentId}: credits must be a positive whole number, got ${credits}`,
      );
    }
    const known = this.#node.hosted.has(agentId) || this.#node.registry.get(agentId) !== undefined;
    if (!known) {
      throw new ConfigError(
        `fund: "${agentId}" is not an agent of this swarm (hosted here or heard from)`,
      );
    }
    return this.#node.budgets.fund(agentId, credits, options.by);
  }

  /** The depth of the swarm's queues (each role's, the dead letters'), as the broker reports it. */
  queues(): Promise<QueueInfo[]> {
    return queueDepths(this.#node);
  }

  /**
   * Sends dead letter `id`'s task to its queue again, unchanged, once what
   * made it fail is fixed; recorded in the audit log with `by`. A task whose
   * escrow was refunded when it died needs `unpaid: true` (it runs without pay).
   * @throws RedriveRefusedError saying why it cannot.
   * @example
   * ```ts
   * await swarm.redrive("01J…", { by: "ops-oncall" });
   * ```
   */
  redrive(id: string, options: RedriveOptions): Promise<Redriven> {
    return this.#node.deadLetters.redrive(id, options);
  }

  /**
   * Proposals waiting for people's votes (`{ human: <name> }` voters of a
   * privileged action), as this node knows them: open and not decided.
   */
  awaitingHumans(): AwaitingHumans[] {
    return this.#node.consensusEngine.awaiting();
  }

  /**
   * The unsigned vote of person `human` on open proposal `proposalId`, and
   * the bytes to sign with their Ed25519 key (base64url): for a signer that
   * holds the key elsewhere (a browser). Send the signed envelope back with
   * {@link castHumanVote}.
   * @throws VoteRefusedError when no such open proposal waits for `human`.
   */
  humanBallot(proposalId: string, human: string, choice: "approve" | "reject", reason?: string) {
    return this.#node.consensusEngine.humanBallot(proposalId, human, choice, reason);
  }

  /**
   * Publishes a person's signed vote (a `consensus.vote` envelope signed
   * with the key the swarm file gives them) on open proposal `proposalId`.
   * @throws VoteRefusedError when it is not theirs to cast, not on this proposal, or badly signed.
   */
  castHumanVote(proposalId: string, vote: unknown): void {
    this.#node.consensusEngine.castHumanVote(proposalId, vote);
  }

  /**
   * Allocates a task by auction among the agents of its role, as local agent
   * `as`, and sends it to the winner (see `TaskContext.auction`). Resolves
   * with the outcome; `task` is the awarded task's id. Unsold: nothing is
   * sent. `id` (1-128 letters, digits, `_`, `-` or `:`, else
   * `AuctionTermsError`) names the auction: called again with it, the
   * call joins the running auction or is told its outcome.
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
    const { as, ...rest } = options;
    this.#local(as);
    return this.#roots.auction(as, task, body, rest);
  }

  /**
   * Revokes an agent: every node refuses it from then on (what it sends is
   * dead-lettered with `E_REVOKED`), drops it from the registry, and the node
   * hosting it stops it (its in-flight tasks go to the others). An agent may
   * revoke only itself (`{ as: agentId }`); the operator revokes any agent
   * with its key (`{ operatorKey }`, checked by every node against the
   * operator key it was configured with). Recorded in the audit log.
   * @throws SignatureError for an `operatorKey` that is not the configured
   *   operator's: every node would refuse it, so nothing is revoked.
   */
  async revoke(
    agentId: string,
    options: { readonly as: string } | { readonly operatorKey: KeyObject },
    reason?: string,
  ): Promise<void> {
    if ("as" in options && options.as !== agentId) {
      throw new ConfigError(
        `agent "${options.as}" may revoke only itself, not "${agentId}"; the operator revokes other agents (conclave revoke ${agentId} --operator-key FILE)`,
      );
    }
    const authority =
      "as" in options
        ? { self: this.#local(options.as).signer }
        : { operatorKey: options.operatorKey };
    await this.#node.revocations.revoke(agentId, authority, reason);
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
    this.#state = "stopping";
    await this.#hosting.stop(graceful);
    await this.#node.stop(graceful);
    this.#state = "stopped";
  }

  /** A hosted agent that may act now; throws for a stranger or a swarm not running. */
  #local(id: string): Agent {
    const agent = this.#hosting.local(id);
    if (this.#state !== "running") {
      throw new ConclaveError("E_NOT_STARTED", "the swarm is not running; call start() first");
    }
    return agent;
  }
}
