import type { KeyObject } from "node:crypto";
import type { CompiledPolicy } from "../consensus/policy.js";
import type { Decision } from "../consensus/seal.js";
import type { Clock } from "../core/clock.js";
import type { Random } from "../core/random.js";
import { type BackoffPolicy, backoffDelay } from "../delivery/backoff.js";
import {
  AgentCrashError,
  ConclaveError,
  PermanentError,
  SignatureError,
  toError,
  UnknownTaskTypeError,
} from "../errors/index.js";
import type { AgentCard } from "../registry/agent-card.js";
import type { Store } from "../store/port.js";
import type { Consumer, Delivery, Message, Transport } from "../transport/port.js";
import { decodeEnvelope, encodeEnvelope } from "../wire/codec.js";
import { createEnvelope, type Envelope } from "../wire/envelope.js";
import { signEnvelope, verifyEnvelope } from "../wire/signature.js";
import type { Budgets } from "./budget.js";
import type { ProposeOptions } from "./consensus/engine.js";
import type { VoteHandler } from "./consensus/voting.js";
import { type Sender, StagingContext, TaskContext } from "./context.js";
import type { SwarmEvent } from "./events.js";
import { keepLease } from "./lease.js";
import type { AuctionOptions, AuctionOutcome, BidHandler, OutboxDraft } from "./market/engine.js";
import { type HeartbeatBody, type SignedCard, signCard, signHeartbeat } from "./registry-gossip.js";
import { queueNames, subjects, taskName } from "./subjects.js";

/** Handles one task. Its return value is the task's result (the reply, for a request). */
export type TaskHandler<TBody = unknown, TResult = unknown> = (
  ctx: TaskContext<TBody>,
) => TResult | Promise<TResult>;

/** Runs when the agent starts (and again after each restart). */
export type StartHook = (ctx: StartContext) => unknown;

/** Settings of the role an agent plays, resolved from the swarm file. */
export interface RoleSettings {
  readonly ackWaitMs: number;
  readonly maxDeliver: number;
  readonly backoff: BackoffPolicy;
  /**
   * `conversation`: a task with `conv` and `seq > 0` runs only after task
   * `seq - 1` of its conversation completed (on any agent or node), or after
   * `gapTimeoutMs` of waiting, whichever comes first.
   */
  readonly ordering: "none" | "conversation";
  readonly gapTimeoutMs: number;
}

/** The completion marker a conversation task leaves for its successor. */
export const conversationMarker = (conv: string, seq: number) => `conv:${conv}:${seq}`;

/** What a node gives its agents: one transport, one store, one clock. */
export interface NodeServices {
  readonly swarm: string;
  readonly transport: Transport;
  readonly store: Store;
  readonly clock: Clock;
  readonly random: Random;
  readonly maxEnvelopeBytes: number;
  readonly signing: "required" | "optional";
  /** How often nodes announce their agents' cards. */
  readonly heartbeatMs: number;
  /** The public key of a trusted agent (local, or proven by handshake); undefined otherwise. */
  publicKey(agentId: string): KeyObject | undefined;
  /** Whether the agent's key was revoked: its messages are refused for good. */
  revoked(agentId: string): boolean;
  /** Whether a card for the agent has been heard (its trust may still be being established). */
  knownCard(agentId: string): boolean;
  role(role: string): RoleSettings;
  emit(event: SwarmEvent): void;
  /** Sends a task's committed outbox; failures are left for the relay. */
  sendOutbox(taskId: string): Promise<void>;
  /** Credit budgets of metered agents. */
  readonly budgets: Budgets;
  /** Starts a consensus round for a privileged action as a local agent. */
  readonly propose?: (
    as: string,
    action: string,
    data: unknown,
    options?: ProposeOptions,
  ) => Promise<Decision>;
  /** Throws `UnapprovedActionError` unless a privileged task carries a valid approval. */
  readonly checkApproval?: (task: string, envelope: Envelope) => Promise<void>;
  /** The role a task type is auctioned to, when the swarm allocates it by auction. */
  readonly auctioned?: (task: string) => string | undefined;
  /** Runs an auction as a local agent; the awarded task (if any) comes back to be staged. */
  readonly auction?: (
    as: string,
    id: string,
    task: string,
    body: unknown,
    parent: Envelope | undefined,
    options: AuctionOptions,
  ) => Promise<{ outcome: AuctionOutcome; draft?: OutboxDraft }>;
  /** After a task is committed (or found committed): settles an awarded task's escrow. */
  readonly completed?: (envelope: Envelope, agentId: string, firstTime: boolean) => Promise<void>;
}

export interface AgentSpec {
  readonly id: string;
  readonly role: string;
  readonly tags?: readonly string[];
  readonly capabilities?: readonly string[];
  /** Vote weight. Default 1. */
  readonly weight?: number;
  /** Tasks handled at once. Default 1. */
  readonly concurrency?: number;
  /** Free-form settings handed to the handlers (`ctx.options`). */
  readonly options?: Readonly<Record<string, unknown>>;
  /** A credit account: minted `initial` once; halted below `minBalance`. */
  readonly budget?: { readonly initial: number; readonly minBalance: number };
  /** The agent's voter policy (CEL rules, see `compilePolicy`); asked before a vote handler. */
  readonly policy?: CompiledPolicy;
  /** Who operates the agent (the swarm file's `owner`): bidders sharing one are suspected shills. */
  readonly owner?: string;
}

/** What a start hook may do: send now, or stage work that must happen exactly once. */
export class StartContext {
  constructor(
    private readonly agent: Agent,
    readonly options: Readonly<Record<string, unknown>>,
  ) {}

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
 * One agent: an identity, a role, handlers per task type. Its tasks come from
 * its role's durable queue, which it shares with the other agents of the
 * role; it acks a task only after the handler's effects are committed.
 */
export class Agent {
  readonly id: string;
  readonly role: string;
  readonly card: AgentCard;
  readonly concurrency: number;
  readonly options: Readonly<Record<string, unknown>>;
  /** The voter policy from the agent's spec (`policy:` in the swarm file). */
  readonly policy: CompiledPolicy | undefined;
  #voteHandler: VoteHandler | undefined;
  #bidHandler: BidHandler | undefined;
  #awards: Consumer | undefined;
  readonly #handlers = new Map<string, TaskHandler>();
  readonly #startHooks: StartHook[] = [];
  readonly #privateKey: KeyObject;
  #services: NodeServices | undefined;
  #consumer: Consumer | undefined;
  #requests: { unsubscribe(): void } | undefined;
  #exit: ((error: Error | undefined) => void) | undefined;
  #running = new Set<AbortController>();
  #started = false;
  #paused = false;

  constructor(spec: AgentSpec, keys: { publicKey: string; privateKey: KeyObject }) {
    this.id = spec.id;
    this.role = spec.role;
    this.concurrency = spec.concurrency ?? 1;
    this.options = spec.options ?? {};
    this.policy = spec.policy;
    this.#privateKey = keys.privateKey;
    this.card = {
      id: spec.id,
      role: spec.role,
      tags: spec.tags ?? [],
      capabilities: spec.capabilities ?? [],
      weight: spec.weight ?? 1,
      publicKey: keys.publicKey,
      ...(spec.owner === undefined ? {} : { owner: spec.owner }),
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

  /** Whether the agent is paused (halted): it takes no new work and does not bid. */
  get paused(): boolean {
    return this.#paused;
  }

  /** The handler registered with {@link Agent.vote}, if any. */
  get voteHandler(): VoteHandler | undefined {
    return this.#voteHandler;
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

  /** The agent's card on `node`, signed with its own key: what heartbeats carry. */
  signedCard(node: string): SignedCard {
    return signCard({ ...this.card, node }, this.#privateKey);
  }

  /** A heartbeat of this agent's node, signed by this agent (see `checkHeartbeat`). */
  signHeartbeat(body: HeartbeatBody, clock: Clock): Envelope<HeartbeatBody> {
    return signHeartbeat({ id: this.id, privateKey: this.#privateKey }, body, clock);
  }

  /** The signing identity the agent's messages go out with. */
  sender(): Sender {
    const s = this.#need();
    return {
      swarm: s.swarm,
      agentId: this.id,
      privateKey: this.#privateKey,
      maxEnvelopeBytes: s.maxEnvelopeBytes,
      clock: s.clock,
      assertRole: (role) => {
        s.role(role);
      },
      budgets: s.budgets,
      ...(s.propose
        ? {
            propose: (action: string, data: unknown, options?: ProposeOptions) =>
              (s.propose as NonNullable<NodeServices["propose"]>)(this.id, action, data, options),
          }
        : {}),
      ...(s.auctioned ? { auctioned: s.auctioned } : {}),
      ...(s.auction
        ? {
            auction: (
              id: string,
              task: string,
              body: unknown,
              parent: Envelope | undefined,
              options: AuctionOptions,
            ) =>
              (s.auction as NonNullable<NodeServices["auction"]>)(
                this.id,
                id,
                task,
                body,
                parent,
                options,
              ),
          }
        : {}),
    };
  }

  /**
   * Attaches to the node and starts taking work. Resolves with `exited`, a
   * promise that settles when the agent crashes, with the error.
   */
  async start(services: NodeServices): Promise<{ exited: Promise<Error | undefined> }> {
    this.#services = services;
    const exited = new Promise<Error | undefined>((resolve) => {
      this.#exit = resolve;
    });
    for (const hook of this.#startHooks) {
      await hook(new StartContext(this, this.options));
    }
    this.#started = true;
    if (this.#handlers.size > 0) {
      if (!this.#paused) this.#attach();
      // Tasks won at auction wait in the agent's own queue, paused or not:
      // it committed to them when it bid.
      if (this.#bidHandler) {
        this.#awards = services.transport.consume(
          queueNames.awarded(services.swarm, this.id),
          (delivery) => this.#onDelivery(delivery),
          { maxInFlight: this.concurrency },
        );
      }
      this.#requests = services.transport.subscribe(
        subjects.agentRequest(services.swarm, this.id),
        (message) => this.#onRequest(message),
      );
    }
    return { exited };
  }

  #attach(): void {
    const s = this.#need();
    this.#consumer = s.transport.consume(
      queueNames.role(s.swarm, this.role),
      (delivery) => this.#onDelivery(delivery),
      { maxInFlight: this.concurrency },
    );
  }

  /**
   * Stops taking tasks (halted: out of credits) without stopping the agent:
   * tasks in flight finish, queued ones go to the other agents of the role.
   * Does not wait for in-flight tasks: it may be called from inside one.
   */
  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    const consumer = this.#consumer;
    this.#consumer = undefined;
    consumer?.drain().catch(() => undefined);
  }

  /** Takes tasks again after `pause()`. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#started && this.#handlers.size > 0 && !this.#consumer) this.#attach();
  }

  /** Stops taking work; with `graceful`, waits for in-flight tasks to settle. */
  async stop(graceful: boolean): Promise<void> {
    this.#started = false;
    this.#exit?.(undefined);
    this.#requests?.unsubscribe();
    this.#requests = undefined;
    const consumers = [this.#consumer, this.#awards].filter((c) => c !== undefined);
    this.#consumer = undefined;
    this.#awards = undefined;
    if (consumers.length === 0) return;
    if (graceful) {
      await Promise.all(consumers.map((c) => c.drain()));
    } else {
      for (const controller of this.#running) controller.abort(new Error("agent stopped"));
      await Promise.all(consumers.map((c) => c.close()));
    }
  }

  async once(key: string, fn: (ctx: StagingContext) => void | Promise<void>): Promise<boolean> {
    const s = this.#need();
    const taskId = `once:${this.id}:${key}`;
    if (!(await s.store.isCompleted(taskId))) {
      const staging = new StagingContext(this.sender(), undefined, taskId);
      await fn(staging);
      const { duplicate } = await s.store.completeTask({
        taskId,
        agent: this.id,
        at: s.clock.now(),
        ...staging.staged(),
      });
      await s.sendOutbox(taskId);
      return !duplicate;
    }
    await s.sendOutbox(taskId);
    return false;
  }

  async #onDelivery(delivery: Delivery): Promise<void> {
    const s = this.#need();
    const settings = s.role(this.role);
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(delivery.data, { maxBytes: s.maxEnvelopeBytes });
      await this.#verifyWaitingForTrust(envelope, delivery);
    } catch (error) {
      await this.#reject(delivery, error, settings);
      return;
    }
    const name = taskName(envelope.type);
    const handler = name === undefined ? undefined : this.#handlers.get(name);
    if (!handler || name === undefined) {
      await this.#reject(delivery, new UnknownTaskTypeError(envelope.type), settings);
      return;
    }
    if (envelope.deadline !== undefined && s.clock.now() > envelope.deadline) {
      await delivery.term(`deadline passed at ${new Date(envelope.deadline).toISOString()}`);
      return;
    }
    if (settings.ordering === "conversation" && envelope.conv !== undefined) {
      await this.#awaitPredecessor(envelope, delivery, settings);
    }
    if (await s.store.isCompleted(envelope.id)) {
      // Redelivered after it was committed (crash between commit and ack):
      // finish the send and the ack, never the effects.
      await s.sendOutbox(envelope.id);
      try {
        await s.completed?.(envelope, this.id, false);
      } catch (error) {
        await delivery.nak({ delayMs: 1000, reason: toError(error).message });
        return;
      }
      await delivery.ack();
      s.emit({ type: "task.duplicate", id: envelope.id, agent: this.id });
      return;
    }
    try {
      // A privileged action runs only with a sealed approval: otherwise dead-lettered.
      await s.checkApproval?.(name, envelope);
    } catch (error) {
      await this.#reject(delivery, error, settings);
      return;
    }
    const started = s.clock.now();
    const controller = new AbortController();
    this.#running.add(controller);
    const ctx = new TaskContext(
      this.sender(),
      envelope,
      delivery.deliveryCount,
      controller.signal,
      this.options,
      () => delivery.working(),
    );
    const cancelLease = keepLease(s.clock, delivery, settings.ackWaitMs);
    try {
      await handler(ctx);
      const at = s.clock.now();
      const done = s.store.completeTask({
        taskId: envelope.id,
        agent: this.id,
        at,
        ...ctx.staged(),
      });
      // Committed in the same group commit as the task in practice; if a crash
      // split them, the successor waits out its gap timeout and runs anyway.
      const marker =
        envelope.conv === undefined
          ? undefined
          : s.store.completeTask({
              taskId: conversationMarker(envelope.conv, envelope.seq ?? 0),
              agent: this.id,
              at,
              effects: [],
              outbox: [],
            });
      await done;
      await marker;
    } catch (error) {
      cancelLease();
      this.#running.delete(controller);
      await this.#failed(delivery, envelope, name, error, settings);
      return;
    }
    cancelLease();
    this.#running.delete(controller);
    await s.sendOutbox(envelope.id);
    try {
      await s.completed?.(envelope, this.id, true);
    } catch (error) {
      // Committed: the redelivery takes the duplicate path and settles again (idempotent).
      s.emit({ type: "error", error: `settling ${envelope.id}: ${toError(error).message}` });
      await delivery.nak({ delayMs: 1000, reason: toError(error).message });
      return;
    }
    await delivery.ack();
    s.emit({
      type: "task.completed",
      id: envelope.id,
      agent: this.id,
      task: name,
      durationMs: s.clock.now() - started,
      attempt: delivery.deliveryCount,
    });
  }

  async #onRequest(message: Message): Promise<void> {
    const s = this.#need();
    if (!message.reply) return;
    const reply = (body: unknown, type: string, parent?: Envelope) => {
      const draft = createEnvelope(
        {
          type,
          from: this.id,
          body: body === undefined ? null : (body as never),
          ...(parent ? { corr: parent.corr ?? parent.id, cause: parent.id } : {}),
        },
        { clock: s.clock },
      );
      const data = encodeEnvelope(signEnvelope(draft, this.#privateKey), {
        maxBytes: s.maxEnvelopeBytes,
      });
      if (message.reply) s.transport.publish(message.reply, data);
    };
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(message.data, { maxBytes: s.maxEnvelopeBytes });
      this.#verify(envelope);
    } catch (error) {
      const e = toError(error);
      s.emit({
        type: "message.rejected",
        subject: message.subject,
        code: codeOf(e),
        reason: e.message,
      });
      reply({ error: { code: codeOf(e), message: e.message } }, "reply.error");
      return;
    }
    const name = taskName(envelope.type);
    const handler = name === undefined ? undefined : this.#handlers.get(name);
    if (!handler || name === undefined) {
      const e = new UnknownTaskTypeError(envelope.type);
      reply({ error: { code: e.code, message: e.message } }, "reply.error", envelope);
      return;
    }
    try {
      await s.checkApproval?.(name, envelope);
    } catch (error) {
      const e = toError(error);
      s.emit({
        type: "message.rejected",
        subject: message.subject,
        code: codeOf(e),
        reason: e.message,
      });
      reply({ error: { code: codeOf(e), message: e.message } }, "reply.error", envelope);
      return;
    }
    const controller = new AbortController();
    const ctx = new TaskContext(
      this.sender(),
      envelope,
      1,
      controller.signal,
      this.options,
      () => {},
    );
    try {
      const result = await handler(ctx);
      await s.store.completeTask({
        taskId: envelope.id,
        agent: this.id,
        at: s.clock.now(),
        ...ctx.staged(),
      });
      await s.sendOutbox(envelope.id);
      reply(result, "reply.ok", envelope);
    } catch (error) {
      const e = toError(error);
      reply({ error: { code: codeOf(e), message: e.message } }, "reply.error", envelope);
    }
  }

  #verify(envelope: Envelope): void {
    verifySender(envelope, this.#need());
  }

  /**
   * Verifies a task's sender; when the sender is not trusted yet (its node
   * joined moments ago and the handshake is under way), holds the task,
   * keeping its lease, for a few heartbeats instead of spending deliveries.
   */
  async #verifyWaitingForTrust(envelope: Envelope, delivery: Delivery): Promise<void> {
    const s = this.#need();
    const giveUpAt = s.clock.now() + Math.max(5000, s.heartbeatMs * 5);
    for (;;) {
      try {
        verifySender(envelope, s);
        return;
      } catch (error) {
        // Wait only for a signer whose card is known (a handshake can make it
        // trusted); a stranger's task must not hold a slot.
        if (
          !(error instanceof UnknownSignerError) ||
          !s.knownCard(envelope.from) ||
          s.clock.now() >= giveUpAt
        ) {
          throw error;
        }
      }
      delivery.working();
      await new Promise<void>((resolve) => s.clock.setTimer(resolve, 50));
    }
  }

  /** Bad input: dead-letter it with the reason, except a signer we may not know yet. */
  async #reject(delivery: Delivery, error: unknown, settings: RoleSettings): Promise<void> {
    const s = this.#need();
    const e = toError(error);
    s.emit({
      type: "message.rejected",
      subject: delivery.subject,
      code: codeOf(e),
      reason: e.message,
    });
    if (e instanceof UnknownSignerError && delivery.deliveryCount < settings.maxDeliver) {
      // Its card may still be on the way (a new agent on another node): retry
      // after at least a heartbeat interval, when the card will have arrived.
      await delivery.nak({
        delayMs: Math.max(
          s.heartbeatMs,
          backoffDelay(delivery.deliveryCount, settings.backoff, s.random),
        ),
        reason: `${e.name}: ${e.message}`,
      });
      return;
    }
    await delivery.term(`${e.name}: ${e.message}`);
  }

  async #failed(
    delivery: Delivery,
    envelope: Envelope,
    task: string,
    error: unknown,
    settings: RoleSettings,
  ): Promise<void> {
    const s = this.#need();
    const e = toError(error);
    const permanent = e instanceof PermanentError;
    const willRetry = !permanent && delivery.deliveryCount < settings.maxDeliver;
    s.emit({
      type: "task.failed",
      id: envelope.id,
      agent: this.id,
      task,
      attempt: delivery.deliveryCount,
      error: e.message,
      willRetry,
    });
    const reason = `${e.name}: ${e.message}`;
    if (permanent) {
      await delivery.term(reason);
    } else if (e instanceof AgentCrashError) {
      // The task is not at fault: hand it back at once, then let the supervisor restart us.
      await delivery.nak({ reason });
      this.#exit?.(e);
    } else {
      await delivery.nak({
        delayMs: backoffDelay(delivery.deliveryCount, settings.backoff, s.random),
        reason,
      });
    }
  }

  /**
   * Holds a conversation task (keeping its lease) until its predecessor has
   * completed, polling the store, for at most the gap timeout.
   */
  async #awaitPredecessor(
    envelope: Envelope,
    delivery: Delivery,
    settings: RoleSettings,
  ): Promise<void> {
    const s = this.#need();
    const seq = envelope.seq ?? 0;
    if (seq === 0 || envelope.conv === undefined) return;
    const previous = conversationMarker(envelope.conv, seq - 1);
    const giveUpAt = s.clock.now() + settings.gapTimeoutMs;
    while (!(await s.store.isCompleted(previous))) {
      if (s.clock.now() >= giveUpAt) {
        s.emit({
          type: "error",
          error: `conversation "${envelope.conv}": seq ${seq - 1} did not complete within ${settings.gapTimeoutMs} ms; running seq ${seq} anyway`,
        });
        return;
      }
      delivery.working();
      await new Promise<void>((resolve) => s.clock.setTimer(resolve, 20));
    }
  }

  /** Extends the lease while the handler runs, so a long task keeps its slot. */
  #need(): NodeServices {
    if (!this.#services) {
      throw new ConclaveError(
        "E_NOT_STARTED",
        `agent "${this.id}" is not started; call swarm.start() first`,
      );
    }
    return this.#services;
  }
}

/**
 * Checks an envelope's signature against the sender's known key, under the
 * swarm's signing policy. Throws `SignatureError` (or `UnknownSignerError`).
 */
export function verifySender(
  envelope: Envelope,
  s: Pick<NodeServices, "signing" | "publicKey" | "revoked">,
): void {
  if (s.revoked(envelope.from)) {
    throw new SignatureError(`agent "${envelope.from}" was revoked; its messages are refused`);
  }
  if (envelope.sig === undefined) {
    if (s.signing === "required") {
      throw new SignatureError(
        `envelope ${envelope.id} from "${envelope.from}" is unsigned and this swarm requires signatures; sign it with the sender's Ed25519 key (docs/PROTOCOL.md)`,
      );
    }
    return;
  }
  const key = s.publicKey(envelope.from);
  if (!key) throw new UnknownSignerError(envelope.from);
  verifyEnvelope(envelope, key);
}

/** A signed envelope from an agent id the node has no public key for. */
export class UnknownSignerError extends SignatureError {
  constructor(readonly agentId: string) {
    super(
      `no public key is known for agent "${agentId}"; it has not announced itself, was revoked, or is not part of this swarm`,
    );
  }
}

function codeOf(error: Error): string {
  return error instanceof ConclaveError ? error.code : "E_UNKNOWN";
}
