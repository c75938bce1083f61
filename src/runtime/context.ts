import { createHash, type KeyObject } from "node:crypto";
import type { Decision } from "../consensus/seal.js";
import type { Clock } from "../core/clock.js";
import { ConfigError } from "../errors/index.js";
import type { OutboxEntry, TaskCompletion } from "../store/port.js";
import { encodeEnvelope } from "../wire/codec.js";
import { createEnvelope, type Envelope } from "../wire/envelope.js";
import { signEnvelope } from "../wire/signature.js";
import { type Budgets, EscrowHeaders, type SpendRequest } from "./budget.js";
import { APPROVAL_HEADER, type ProposeOptions } from "./consensus/engine.js";
import type { AuctionOptions, AuctionOutcome, OutboxDraft } from "./market/engine.js";
import { subjects, taskType } from "./subjects.js";

/** Effect kind recorded when a root task is submitted. */
export const ROOT_SUBMITTED = "root.submitted";
/** Effect kind recorded when a handler calls `ctx.finish()`. */
export const ROOT_COMPLETED = "root.completed";

/** What a context needs to create messages on behalf of its agent. */
export interface Sender {
  readonly swarm: string;
  readonly agentId: string;
  readonly privateKey: KeyObject;
  readonly maxEnvelopeBytes: number;
  readonly clock: Clock;
  /** Throws `ConfigError` for a role the swarm does not define: such a task could never be delivered. */
  readonly assertRole: (role: string) => void;
  /** The ledger budgets, when the swarm meters agents. */
  readonly budgets?: Budgets;
  /** Starts a consensus round as this agent, when the node runs consensus. */
  readonly propose?: (action: string, data: unknown, options?: ProposeOptions) => Promise<Decision>;
  /** The role a task type is auctioned to, when the swarm allocates it by auction. */
  readonly auctioned?: (task: string) => string | undefined;
  /** Runs an auction as this agent; returns the awarded task to stage, if any. */
  readonly auction?: (
    id: string,
    task: string,
    body: unknown,
    parent: Envelope | undefined,
    options: AuctionOptions,
  ) => Promise<{ outcome: AuctionOutcome; draft?: OutboxDraft }>;
}

export interface SubmitOptions {
  /** Absolute deadline (ms since epoch) after which the task is dead-lettered unhandled. */
  readonly deadline?: number;
  /** Conversation for ordered delivery. */
  readonly conv?: string;
  readonly seq?: number;
  readonly headers?: Record<string, string>;
  /**
   * The seal of the approved decision that authorises this task (a
   * privileged action); sent as the `conclave-approval` header.
   */
  readonly approval?: string;
}

/** Builds and signs an envelope from `sender`, and the bus message that carries it. */
export function buildMessage<TBody>(
  sender: Sender,
  mode: OutboxEntry["mode"],
  subject: string,
  type: string,
  body: TBody,
  parent: Envelope | undefined,
  options: SubmitOptions = {},
): { envelope: Envelope<TBody>; entry: Omit<OutboxEntry, "taskId"> } {
  const draft = createEnvelope<TBody>(
    {
      type,
      from: sender.agentId,
      body,
      ...(parent ? { corr: parent.corr ?? parent.id, cause: parent.id } : {}),
      ...(options.deadline === undefined ? {} : { deadline: options.deadline }),
      ...(options.conv === undefined ? {} : { conv: options.conv, seq: options.seq ?? 0 }),
      ...(options.headers === undefined && options.approval === undefined
        ? {}
        : {
            headers: {
              ...options.headers,
              ...(options.approval === undefined ? {} : { [APPROVAL_HEADER]: options.approval }),
            },
          }),
    },
    { clock: sender.clock },
  );
  const envelope = signEnvelope(draft, sender.privateKey);
  const data = encodeEnvelope(envelope, { maxBytes: sender.maxEnvelopeBytes });
  return { envelope, entry: { id: envelope.id, mode, subject, data } };
}

/**
 * What a handler may do while it runs. Messages it submits and effects it
 * records are staged, and committed together with the task's completion in
 * one store transaction, then sent: if the handler fails, none of it
 * happened; if the node crashes after the commit, the messages are sent on
 * the next start (transactional outbox).
 */
export class StagingContext {
  readonly #effects: TaskCompletion["effects"][number][] = [];
  readonly #outbox: Omit<OutboxEntry, "taskId">[] = [];
  #delegations = 0;

  constructor(
    protected readonly sender: Sender,
    /** The envelope being handled, if any: becomes the cause of what is sent. */
    protected readonly parent: Envelope | undefined,
    /** Stable across retries of this handler: the base of its escrow keys. */
    protected readonly stableId: string = parent?.id ?? "",
  ) {}

  /**
   * Submits a task to a role with a budget: `budget` credits move from this
   * agent into the task's escrow now (`InsufficientCreditsError` or
   * `AgentHaltedError`, and nothing is submitted, if it cannot), and the
   * auditor's verdict later releases them to the worker or refunds them
   * (`ctx.settle`). The escrow follows the task and everything it causes.
   */
  async delegate<TBody>(
    role: string,
    task: string,
    body: TBody,
    options: SubmitOptions & { budget: number },
  ): Promise<string> {
    const budgets = this.sender.budgets;
    // An unmetered agent delegates without escrow: a plain submit.
    if (!budgets?.has(this.sender.agentId)) return this.submit(role, task, body, options);
    // Stable across retries, so a retried handler re-holds nothing.
    const escrow = `${this.stableId || this.sender.agentId}.${++this.#delegations}`;
    await budgets.hold(this.sender.agentId, escrow, options.budget);
    return this.submit(role, task, body, {
      ...options,
      headers: {
        ...options.headers,
        [EscrowHeaders.key]: escrow,
        [EscrowHeaders.amount]: String(options.budget),
        [EscrowHeaders.delegator]: this.sender.agentId,
      },
    });
  }

  /** The id of the agent running this handler. */
  get agentId(): string {
    return this.sender.agentId;
  }

  /**
   * Submits a durable task to a role (`<swarm>.task.<role>.<task>`), sent
   * only if this handler succeeds. Returns the new task's envelope id.
   */
  submit<TBody>(role: string, task: string, body: TBody, options?: SubmitOptions): string {
    this.sender.assertRole(role);
    // A type the swarm allocates by auction waits in the market queue for
    // a node to auction it among the role's agents.
    const subject = this.sender.auctioned?.(task)
      ? subjects.auctionRequest(this.sender.swarm, role, task)
      : subjects.task(this.sender.swarm, role, task);
    // A task caused by a delegated one carries its escrow on, so whoever
    // audits the end of the chain can settle it.
    const inherited = escrowOf(this.parent);
    if (inherited && !options?.headers?.[EscrowHeaders.key]) {
      options = {
        ...options,
        headers: {
          ...options?.headers,
          [EscrowHeaders.key]: inherited.key,
          [EscrowHeaders.amount]: String(inherited.amount),
          [EscrowHeaders.delegator]: inherited.delegator,
        },
      };
    }
    const { envelope, entry } = buildMessage(
      this.sender,
      "enqueue",
      subject,
      taskType(task),
      body,
      this.parent,
      options,
    );
    this.#outbox.push(entry);
    // A task without a parent starts a workload item; tracked so a run can
    // tell what was submitted, completed, dead-lettered or lost.
    if (!this.parent) this.effect(ROOT_SUBMITTED, envelope.id, { role, task });
    return envelope.id;
  }

  /** Publishes an event to `<swarm>.event.<type>`, sent only if this handler succeeds. */
  emit<TBody>(type: string, body: TBody): string {
    const subject = subjects.event(this.sender.swarm, type);
    const { envelope, entry } = buildMessage(
      this.sender,
      "publish",
      subject,
      type,
      body,
      this.parent,
    );
    this.#outbox.push(entry);
    return envelope.id;
  }

  /**
   * Records an effect (what the handler changed in the world, keyed by what
   * it changed). Committed once with the task; a redelivered task never
   * records it twice.
   */
  effect(kind: string, key: string, data?: unknown): void {
    this.#effects.push(data === undefined ? { kind, key } : { kind, key, data });
  }

  /** Stages a message built elsewhere (an awarded task), sent only if this handler succeeds. */
  protected stage(entry: Omit<OutboxEntry, "taskId">): void {
    this.#outbox.push(entry);
  }

  /** The staged writes, for the runtime to commit. */
  staged(): Pick<TaskCompletion, "effects" | "outbox"> {
    return { effects: this.#effects, outbox: this.#outbox };
  }
}

/** A delegation's escrow, as carried by its tasks. */
export interface Escrow {
  readonly key: string;
  readonly amount: number;
  readonly delegator: string;
}

/** Reads the escrow headers of an envelope. */
export function escrowOf(envelope: Envelope | undefined): Escrow | undefined {
  const h = envelope?.headers;
  const key = h?.[EscrowHeaders.key];
  const amount = Number(h?.[EscrowHeaders.amount]);
  const delegator = h?.[EscrowHeaders.delegator];
  if (!key || !delegator || !Number.isSafeInteger(amount) || amount < 1) return undefined;
  return { key, amount, delegator };
}

/** The context of a task handler. */
export class TaskContext<TBody = unknown> extends StagingContext {
  #spends = 0;
  #proposals = 0;
  #auctions = 0;

  constructor(
    sender: Sender,
    /** The task's envelope, signature verified. */
    readonly task: Envelope<TBody>,
    /** 1 on the first delivery. */
    readonly attempt: number,
    /** Aborted when the node stops abruptly or the task's deadline passes. */
    readonly signal: AbortSignal,
    /** Free-form options of this agent from the swarm file. */
    readonly options: Readonly<Record<string, unknown>>,
    private readonly extend: () => void,
  ) {
    super(sender, task as Envelope);
  }

  get body(): TBody {
    return this.task.body;
  }

  /** The root task this one descends from (its correlation id), or its own id. */
  get root(): string {
    return this.task.corr ?? this.task.id;
  }

  /**
   * Marks the root task this one descends from as completed: the workload
   * item is done. Committed with this task, so it counts once.
   */
  finish(data?: unknown): void {
    this.effect(ROOT_COMPLETED, this.root, data);
  }

  /** The escrow of the delegation this task belongs to, if any. */
  get escrow(): Escrow | undefined {
    return escrowOf(this.task as Envelope);
  }

  /**
   * Charges a metered operation (credits, or a model's tokens at the price
   * table) to this agent, before the work: fails closed with
   * `InsufficientCreditsError`. A retried task pays again (it did the work
   * again); the same attempt never pays twice.
   */
  spend(request: SpendRequest): Promise<number> {
    const budgets = this.sender.budgets;
    if (!budgets) return Promise.resolve(0);
    return budgets.spend(
      this.agentId,
      `fee:${this.task.id}:${this.attempt}:${++this.#spends}`,
      request,
    );
  }

  /**
   * The auditor's verdict on this task's delegation: `pass` releases the
   * escrow to `worker`, `fail` refunds it to the delegator. Applies once.
   */
  async settle(verdict: "pass" | "fail", worker: string): Promise<void> {
    const escrow = this.escrow;
    const budgets = this.sender.budgets;
    // Delegated without a budget (unmetered): nothing to settle.
    if (!escrow || !budgets) return;
    await budgets.settle(
      escrow.key,
      escrow.amount,
      verdict,
      verdict === "pass" ? worker : escrow.delegator,
    );
  }

  /**
   * Proposes a privileged action (declared under `privileged` in the swarm
   * file) and waits for the sealed decision. Run the action only when
   * `decision.outcome === "approved"`, by submitting its task with
   * `{ approval: decision.seal }`. A retried handler gets the first
   * attempt's decision back rather than starting another round.
   *
   * @throws ConfigError if the action is not privileged or nobody can vote on it.
   *
   * @example
   * ```ts
   * const decision = await ctx.propose({ action: "funds.transfer", data: { to: "dev-1", amount: 500 } });
   * if (decision.outcome === "approved") {
   *   ctx.submit("treasury", "funds.transfer", decision.proposal.data, { approval: decision.seal });
   * }
   * ```
   */
  propose(
    request: { readonly action: string; readonly data: unknown },
    options: Omit<ProposeOptions, "key"> = {},
  ): Promise<Decision> {
    const propose = this.sender.propose;
    if (!propose) {
      return Promise.reject(
        new ConfigError("this node runs no consensus; create the swarm with privileged actions"),
      );
    }
    return propose(request.action, request.data, {
      ...options,
      key: `${this.task.id}:${this.agentId}:${++this.#proposals}`,
    });
  }

  /**
   * Allocates a task by auction (contract-net) among the agents of its role
   * and waits for the end: a call for proposals, signed bids until the
   * deadline, an award. When awarded, the task is sent to the winner only if
   * this handler succeeds (with the clearing price in escrow: released to
   * the winner when it completes the task, refunded if the task dies);
   * `outcome.task` is its id. When unsold nothing is sent: submit it
   * yourself or give up. Settings come from the task type's `auction:` in
   * the swarm file, overridden by `options`. A retried handler gets the
   * first attempt's outcome back instead of a new auction.
   *
   * @example
   * ```ts
   * const won = await ctx.auction("review", { pr: 42 }, { rule: "vickrey", reserve: 500 });
   * if (won.status === "unsold") ctx.submit("reviewer", "review", { pr: 42 });
   * ```
   */
  async auction(
    task: string,
    body: unknown,
    options: AuctionOptions = {},
  ): Promise<AuctionOutcome & { readonly task?: string }> {
    const auction = this.sender.auction;
    if (!auction) {
      throw new ConfigError("this node runs no market; auctions need a running swarm");
    }
    // Stable across retries of this handler, so a retry finds the recorded auction.
    const stable = `${this.task.id}-${this.agentId}-${++this.#auctions}`;
    const id =
      stable.length <= 128
        ? stable
        : `${this.task.id}-${createHash("sha256").update(stable).digest("hex").slice(0, 32)}`;
    const { outcome, draft } = await auction(id, task, body, this.task as Envelope, options);
    if (!draft) return outcome;
    this.stage(draft);
    return { ...outcome, task: draft.id };
  }

  /** Tells the bus the handler is alive; the runtime also does this on a timer. */
  working(): void {
    this.extend();
  }
}
