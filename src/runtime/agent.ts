import type { KeyObject } from "node:crypto";
import type { CompiledPolicy } from "../consensus/policy.js";
import { ConclaveError } from "../errors/index.js";
import type { AgentCard } from "../registry/agent-card.js";
import type { Consumer } from "../transport/port.js";
import type { AgentLlm, LocalTool } from "./agent-llm.js";
import type { AgentBudget } from "./budget.js";
import type { VoteHandler } from "./consensus/voting.js";
import { StagingContext } from "./context.js";
import type { BidHandler } from "./market/engine.js";
import type { LocalAgent, NodeContext, Signer } from "./node-context.js";
import { queueNames, subjects } from "./subjects.js";
import { type TaskHandler, TaskPipeline } from "./task-pipeline.js";
import type { TeamPlacement } from "./teams.js";

export type { TaskHandler } from "./task-pipeline.js";

/** Runs when the agent starts (and again after each restart). */
export type StartHook = (ctx: StartContext) => unknown;

/**
 * Who an agent is: what `swarm.agent(spec)` (or an `agents:` entry of the
 * swarm file) is made from.
 *
 * @example
 * ```ts
 * swarm.agent({ id: "dev-1", role: "developer", tags: ["ts"], budget: { initial: 1000, minBalance: 0 } });
 * ```
 */
export interface AgentSpec {
  /** Unique in the swarm: lowercase letters, digits and `-`. */
  readonly id: string;
  /** The role whose durable queue the agent takes its tasks from. */
  readonly role: string;
  /** Labels the routers and auctions may match on (`tags:` in the swarm file). */
  readonly tags?: readonly string[];
  /** What the agent can do, advertised on its card. */
  readonly capabilities?: readonly string[];
  /** Vote weight. Default 1. */
  readonly weight?: number;
  /** Tasks handled at once. Default 1. */
  readonly concurrency?: number;
  /** Free-form settings handed to the handlers (`ctx.options`). */
  readonly options?: Readonly<Record<string, unknown>>;
  /** A credit account: minted `initial` once; halted below `minBalance`. */
  readonly budget?: AgentBudget;
  /** The agent's voter policy (CEL rules, see `compilePolicy`); asked before a vote handler. */
  readonly policy?: CompiledPolicy;
  /** Who operates the agent (the swarm file's `owner`): bidders sharing one are suspected shills. */
  readonly owner?: string;
  /** A membership credential its card carries (`conclave admit`), for nodes that do not declare it. */
  readonly credential?: unknown;
  /** The agent's model, prompt, tools and limits: what `ctx.llm` uses. */
  readonly llm?: AgentLlm;
}

/** What a start hook may do: send now, or stage work that must happen exactly once. */
export class StartContext {
  constructor(
    private readonly agent: Agent,
    readonly options: Readonly<Record<string, unknown>>,
  ) {}

  /** The id of the agent starting. */
  get agentId(): string {
    return this.agent.id;
  }

  /**
   * Runs `fn` at most once per `key` over the life of the store: its staged
   * tasks, events and effects are committed together, then sent. After a
   * crash and restart, a completed `once` only re-sends what was not yet
   * sent. Returns false when it had already run.
   */
  once(key: string, fn: (ctx: StagingContext) => void | Promise<void>): Promise<boolean> {
    return this.agent.once(key, fn);
  }
}

/**
 * Why an agent takes no work: `halted` (its credits fell below its minimum),
 * `standby` (its role's slots are held by others), `clock` (its node's clock
 * disagrees with every peer's, see `ClockWatch`).
 */
export type PauseReason = "halted" | "standby" | "clock";

/**
 * One agent: an identity, a role, handlers per task type. Its tasks come from
 * its role's durable queue, which it shares with the other agents of the
 * role; it acks a task only after the handler's effects are committed (see
 * `TaskPipeline`).
 */
export class Agent implements LocalAgent {
  /** The agent's id (its spec's `id`). */
  readonly id: string;
  /** The role the agent takes tasks for. */
  readonly role: string;
  /** What other agents learn of this one: role, tags, weight and public key. */
  readonly card: AgentCard;
  /** Tasks handled at once (the spec's `concurrency`, default 1). */
  readonly concurrency: number;
  /** Free-form settings from the spec, handed to handlers as `ctx.options`. */
  readonly options: Readonly<Record<string, unknown>>;
  /** The voter policy from the agent's spec (`policy:` in the swarm file). */
  readonly policy: CompiledPolicy | undefined;
  /** Signs every envelope the agent sends with its private key. */
  readonly signer: Signer;
  /** The team the agent is a member of (`teams:`): it also takes the tasks its lead delegates to the team. */
  readonly team: string | undefined;
  readonly #llm: AgentLlm | undefined;
  readonly #tools: Record<string, LocalTool> = {};
  #voteHandler: VoteHandler | undefined;
  #bidHandler: BidHandler | undefined;
  readonly #handlers = new Map<string, TaskHandler>();
  readonly #startHooks: StartHook[] = [];
  #node: NodeContext | undefined;
  #pipeline: TaskPipeline | undefined;
  #consumer: Consumer | undefined;
  #teamConsumer: Consumer | undefined;
  #awards: Consumer | undefined;
  /** Consumers a pause let go of, still finishing their tasks: a stop waits for (or closes) them too. */
  readonly #pausing = new Map<Consumer, Promise<void>>();
  #requests: { unsubscribe(): void } | undefined;
  #exit: ((error: Error | undefined) => void) | undefined;
  #started = false;
  /** Why the agent takes no work now; it does when this is empty. */
  readonly #pausedFor = new Set<PauseReason>();

  constructor(
    spec: AgentSpec,
    keys: { publicKey: string; privateKey: KeyObject },
    /** Where the agent stands in the swarm's teams; its card says so. */
    placement: TeamPlacement = { leads: [] },
  ) {
    this.id = spec.id;
    this.role = spec.role;
    this.concurrency = spec.concurrency ?? 1;
    this.options = spec.options ?? {};
    this.policy = spec.policy;
    this.#llm = spec.llm;
    this.signer = { id: spec.id, privateKey: keys.privateKey };
    this.team = placement.team;
    this.card = {
      id: spec.id,
      role: spec.role,
      tags: spec.tags ?? [],
      capabilities: spec.capabilities ?? [],
      weight: spec.weight ?? 1,
      publicKey: keys.publicKey,
      ...(spec.owner === undefined ? {} : { owner: spec.owner }),
      ...(spec.credential === undefined ? {} : { credential: spec.credential }),
      ...(placement.team === undefined ? {} : { team: placement.team }),
      ...(placement.lead === undefined ? {} : { lead: placement.lead }),
      ...(placement.leads.length === 0 ? {} : { leads: placement.leads }),
    };
  }

  /**
   * Registers the handler of task type `task` (as named under the role's
   * `tasks`). Returns the agent for chaining.
   *
   * @example
   * ```ts
   * swarm.agent({ id: "dev-1", role: "developer" }).handle("code", async (ctx) => {
   *   ctx.effect("code.written", ctx.root);
   *   ctx.submit("auditor", "audit", { root: ctx.root });
   * });
   * ```
   */
  handle<TBody = unknown, TResult = unknown>(
    task: string,
    handler: TaskHandler<TBody, TResult>,
  ): this {
    this.#handlers.set(task, handler as TaskHandler);
    return this;
  }

  /**
   * Gives the agent's model a tool that is a function of this module rather
   * than a task of another role. Offer it by listing its name in the
   * agent's `llm.tools`. Its call is a journaled step like any tool's.
   *
   * @example
   * ```ts
   * agent.tool("notes.count", { description: "How many notes", run: async () => notes.length });
   * ```
   */
  tool(name: string, tool: LocalTool): this {
    this.#tools[name] = tool;
    return this;
  }

  /** The agent's LLM (`ctx.llm`): its settings and tools, when it has settings. */
  get llm(): AgentLlm | undefined {
    if (this.#llm === undefined) return undefined;
    return { ...this.#llm, tools: { ...this.#llm.tools, ...this.#tools } };
  }

  /** The handler registered for task type `task`, if any. */
  handler(task: string): TaskHandler | undefined {
    return this.#handlers.get(task);
  }

  /**
   * Registers how this agent votes on proposals (e.g. an LLM judge). Its
   * policy file's rules, if any, are asked first; a rejection there stands.
   * Without either, the agent approves.
   *
   * @example
   * ```ts
   * agent.vote((proposal) =>
   *   proposal.action === "funds.transfer" && (proposal.data as { amount: number }).amount > 1000
   *     ? { choice: "reject", reasons: ["too much"] }
   *     : { choice: "approve", reasons: [] },
   * );
   * ```
   */
  vote(handler: VoteHandler): this {
    this.#voteHandler = handler;
    return this;
  }

  /**
   * Registers how this agent bids on calls for proposals to its role
   * (contract-net): return a price (and the auction's criteria), or
   * undefined not to bid. Without a bid handler the agent never bids. An
   * agent with one also takes the tasks it wins from its own queue.
   *
   * @example
   * ```ts
   * agent.bid((cfp) => (cfp.task === "review" ? { price: 120, criteria: { quality: 0.9, latency_ms: 800 } } : undefined));
   * ```
   */
  bid(handler: BidHandler): this {
    this.#bidHandler = handler;
    return this;
  }

  /** The handler registered with {@link Agent.bid}, if any. */
  get bidHandler(): BidHandler | undefined {
    return this.#bidHandler;
  }

  /** The handler registered with {@link Agent.vote}, if any. */
  get voteHandler(): VoteHandler | undefined {
    return this.#voteHandler;
  }

  /** Whether the agent is paused (for any reason): it takes no new work and does not bid. */
  get paused(): boolean {
    return this.#pausedFor.size > 0;
  }

  /** Whether the agent is paused for `reason` (among others, maybe). */
  isPausedFor(reason: PauseReason): boolean {
    return this.#pausedFor.has(reason);
  }

  /** Tasks whose handler is running now. */
  get inFlight(): number {
    return this.#pipeline?.running ?? 0;
  }

  /** Registers a hook that runs when the agent starts. */
  onStart(hook: StartHook): this {
    this.#startHooks.push(hook);
    return this;
  }

  /** Task types this agent handles. */
  get tasks(): string[] {
    return [...this.#handlers.keys()];
  }

  /**
   * Attaches to the node and starts taking work. Resolves with `exited`, a
   * promise that settles when the agent crashes, with the error.
   */
  async start(node: NodeContext): Promise<{ exited: Promise<Error | undefined> }> {
    this.#node = node;
    const exited = new Promise<Error | undefined>((resolve) => {
      this.#exit = resolve;
    });
    this.#pipeline = new TaskPipeline(node, this, (error) => this.#exit?.(error));
    for (const hook of this.#startHooks) {
      await hook(new StartContext(this, this.options));
    }
    this.#started = true;
    if (this.#handlers.size > 0) {
      if (this.#pausedFor.size === 0) this.#attach();
      const pipeline = this.#pipeline;
      // Tasks won at auction wait in the agent's own queue, paused or not:
      // it committed to them when it bid.
      if (this.#bidHandler) {
        this.#awards = node.transport.consume(
          queueNames.awarded(node.swarm, this.id),
          (delivery) => pipeline.deliver(delivery),
          { maxInFlight: this.concurrency },
        );
      }
      this.#requests = node.transport.subscribe(
        subjects.agentRequest(node.swarm, this.id),
        (message) => pipeline.request(message),
      );
    }
    return { exited };
  }

  #attach(): void {
    const node = this.#need();
    const pipeline = this.#pipeline as TaskPipeline;
    this.#consumer = node.transport.consume(
      queueNames.role(node.swarm, this.role),
      (delivery) => pipeline.deliver(delivery),
      { maxInFlight: this.concurrency },
    );
    // A member takes its lead's delegations too, and only while it takes
    // work at all (a paused or standby member leaves them to the others).
    if (this.team !== undefined) {
      this.#teamConsumer = node.transport.consume(
        queueNames.team(node.swarm, this.team, this.role),
        (delivery) => pipeline.deliver(delivery),
        { maxInFlight: this.concurrency },
      );
    }
  }

  /**
   * Stops taking tasks without stopping the agent, for `reason` (default
   * `halted`: out of credits): tasks in flight finish, queued ones go to the
   * other agents of the role. Does not wait for in-flight tasks: it may be
   * called from inside one. Reasons add up: the agent takes work again once
   * each was lifted by `resume` with the same reason.
   */
  pause(reason: PauseReason = "halted"): void {
    const wasPaused = this.#pausedFor.size > 0;
    this.#pausedFor.add(reason);
    if (wasPaused) return;
    const consumers = [this.#consumer, this.#teamConsumer];
    this.#consumer = undefined;
    this.#teamConsumer = undefined;
    for (const consumer of consumers) {
      if (consumer === undefined) continue;
      const drained = consumer
        .drain()
        .catch(() => undefined)
        .finally(() => this.#pausing.delete(consumer));
      this.#pausing.set(consumer, drained);
    }
  }

  /** Lifts a `pause(reason)`; takes tasks again when no other reason is left. */
  resume(reason: PauseReason = "halted"): void {
    if (!this.#pausedFor.delete(reason) || this.#pausedFor.size > 0) return;
    if (this.#started && this.#handlers.size > 0 && !this.#consumer) this.#attach();
  }

  /** Stops taking work; with `graceful`, waits for in-flight tasks to settle. */
  async stop(graceful: boolean): Promise<void> {
    this.#started = false;
    this.#exit?.(undefined);
    this.#requests?.unsubscribe();
    this.#requests = undefined;
    const consumers = [this.#consumer, this.#teamConsumer, this.#awards].filter(
      (c) => c !== undefined,
    );
    this.#consumer = undefined;
    this.#teamConsumer = undefined;
    this.#awards = undefined;
    const pausing = [...this.#pausing];
    if (consumers.length === 0 && pausing.length === 0) return;
    if (graceful) {
      await Promise.all([...consumers.map((c) => c.drain()), ...pausing.map(([, done]) => done)]);
    } else {
      this.#pipeline?.abortAll(new Error("agent stopped"));
      await Promise.all([...consumers, ...pausing.map(([c]) => c)].map((c) => c.close()));
    }
  }

  /** See {@link StartContext.once}. */
  async once(key: string, fn: (ctx: StagingContext) => void | Promise<void>): Promise<boolean> {
    const node = this.#need();
    const taskId = `once:${this.id}:${key}`;
    if (await node.store.isCompleted(taskId)) {
      await node.outbox.resend(taskId);
      return false;
    }
    const staging = new StagingContext(node, this.signer, undefined, taskId);
    await fn(staging);
    const { duplicate } = await node.outbox.commit(taskId, this.id, staging.staged());
    return !duplicate;
  }

  #need(): NodeContext {
    if (!this.#node) {
      throw new ConclaveError(
        "E_NOT_STARTED",
        `agent "${this.id}" is not started; call swarm.start() first`,
      );
    }
    return this.#node;
  }
}
