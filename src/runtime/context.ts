import { createHash } from "node:crypto";
import type { Decision } from "../consensus/seal.js";
import { ChildTaskFailedError, ConfigError, PermanentError } from "../errors/index.js";
import { type LedgerOperation, operations } from "../ledger/index.js";
import { createLlmClient } from "../llm/client.js";
import type { LlmClient } from "../llm/ports.js";
import type { TaskCompletion } from "../store/port.js";
import type { TaskOutcome } from "../store/ports/tasks.js";
import type { Envelope } from "../wire/envelope.js";
import type { JsonValue } from "../wire/json-value.js";
import { assertPlainData } from "../wire/plain-data.js";
import { type AgentLlm, ledgerBudget, llmEventHooks, SwarmTools } from "./agent-llm.js";
import { type Escrow, EscrowHeaders, escrowOf, type SpendRequest } from "./budget.js";
import type { CallOptions, GatherCall, Gathered } from "./call-options.js";
import type { ProposeOptions } from "./consensus/types.js";
import type { AuctionOptions, AuctionOutcome, OutboxDraft } from "./market/engine.js";
import { handlerAuctionId } from "./market/settlement.js";
import { withMcpToolNames } from "./mcp-tools.js";
import { type MessageDraft, type SubmitOptions, signedMessage } from "./messages.js";
import type { NodeContext, Signer, StagedWrites } from "./node-context.js";
import { StagedHolds } from "./staged-holds.js";
import { childTaskId, StoreStepJournal } from "./step-journal.js";
import { inHandlerWhileStoreUnreachable } from "./store-outage.js";
import { subjects, taskType } from "./subjects.js";
import { TeamDelegation } from "./team-delegation.js";
import { TEAM_HEADER } from "./teams.js";
import { tracedModels } from "./tracing.js";

export type { CallOptions, GatherCall, Gathered } from "./call-options.js";
export type { SubmitOptions } from "./messages.js";

/** Effect kind recorded when a root task is submitted. */
export const ROOT_SUBMITTED = "root.submitted";
/** Effect kind recorded when a handler calls `ctx.finish()`. */
export const ROOT_COMPLETED = "root.completed";
/**
 * Effect kind recorded when a privileged task is submitted with its
 * approval (key: the task's id): work a run must see settled, even after
 * its root was finished.
 */
export const PRIVILEGED_SUBMITTED = "privileged.submitted";

/**
 * What a handler may do while it runs. Messages it submits and effects it
 * records are staged, and committed together with the task's completion in
 * one store transaction, then sent: if the handler fails, none of it
 * happened; if the node crashes after the commit, the messages are sent on
 * the next start (transactional outbox).
 */
export class StagingContext {
  readonly #effects: TaskCompletion["effects"][number][] = [];
  readonly #outbox: OutboxDraft[] = [];
  #holds: StagedHolds | undefined;

  constructor(
    protected readonly node: NodeContext,
    /** The agent the staged messages are signed as. */
    protected readonly signer: Signer,
    /** The envelope being handled, if any: becomes the cause of what is sent. */
    protected readonly parent: Envelope | undefined,
    /** Stable across retries of this handler: the base of its escrow keys. */
    protected readonly stableId: string = parent?.id ?? "",
  ) {}

  /** The id of the agent running this handler. */
  get agentId(): string {
    return this.signer.id;
  }

  /**
   * Submits a task to a role with a budget: `budget` credits move from this
   * agent into the task's escrow when this handler commits, with the task
   * (`InsufficientCreditsError` or `AgentHaltedError` at once, and nothing
   * is submitted, if it cannot pay), and the auditor's verdict later
   * releases them to the worker or refunds them (`ctx.settle`).
   */
  async delegate<TBody>(
    role: string,
    task: string,
    body: TBody,
    options: SubmitOptions & { budget: number },
  ): Promise<string> {
    // An unmetered agent delegates without escrow: a plain submit.
    if (!this.node.budgets.has(this.agentId)) return this.submit(role, task, body, options);
    const escrow = this.#staged().nextEscrow(this.stableId);
    return this.delegateInto(escrow, false, role, task, body, options);
  }

  /**
   * `delegate` into escrow account `escrow` (`swarm.delegate`'s). `held`:
   * an earlier version already moved the budget there, so only the task is staged.
   */
  protected async delegateInto<TBody>(
    escrow: string,
    held: boolean,
    role: string,
    task: string,
    body: TBody,
    options: SubmitOptions & { budget: number },
  ): Promise<string> {
    if (!held) await this.#staged().check(options.budget);
    const id = this.submit(role, task, body, {
      ...options,
      headers: {
        ...options.headers,
        [EscrowHeaders.key]: escrow,
        [EscrowHeaders.amount]: String(options.budget),
        [EscrowHeaders.delegator]: this.agentId,
      },
    });
    if (held) return id;
    const now = this.node.clock.now();
    const hold = operations.hold(
      `hold:${escrow}`,
      this.agentId,
      escrow,
      options.budget,
      now,
      id,
      this.agentId,
    );
    await this.#staged().stage(hold, true);
    return id;
  }

  /**
   * Submits a durable task to a role (`<swarm>.task.<role>.<task>`), sent
   * only if this handler succeeds. Returns the new task's envelope id.
   */
  submit<TBody>(role: string, task: string, body: TBody, options?: SubmitOptions): string {
    const { swarm, roles, market, teams } = this.node;
    // Throws for a role the swarm does not define: such a task could never be delivered.
    roles.settings(role);
    // A delegation to a team goes to its members' queue, never to an
    // auction: the lead chose whom it goes to. Throws for a sender that does
    // not lead the team, before anything is staged.
    const team =
      options?.team === undefined ? undefined : teams.route(this.agentId, options.team, task, role);
    if (team !== undefined) {
      options = { ...options, headers: { ...options?.headers, [TEAM_HEADER]: team.team } };
    }
    // A type the swarm allocates by auction waits in the market queue for
    // a node to auction it among the role's agents.
    const subject =
      team !== undefined
        ? team.subject
        : market.auctionRole(task)
          ? subjects.auctionRequest(swarm, role, task)
          : subjects.task(swarm, role, task);
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
    const id = this.#stageMessage({
      mode: "enqueue",
      subject,
      type: taskType(task),
      body,
      parent: this.parent,
      ...(options ? { options } : {}),
      ...(options?.id === undefined ? {} : { id: options.id }),
    });
    // A task without a parent starts a workload item; tracked so a run can
    // tell what was submitted, completed, dead-lettered or lost.
    if (!this.parent) this.effect(ROOT_SUBMITTED, id, { role, task });
    // An approved action is often queued as its root's last step: tracked
    // so a run is not done (nor "nothing lost") while it has not run.
    if (options?.approval !== undefined) this.effect(PRIVILEGED_SUBMITTED, id, { role, task });
    return id;
  }

  /** Publishes an event to `<swarm>.event.<type>`, sent only if this handler succeeds. */
  emit<TBody>(type: string, body: TBody): string {
    return this.#stageMessage({
      mode: "publish",
      subject: subjects.event(this.node.swarm, type),
      type,
      body,
      parent: this.parent,
    });
  }

  /**
   * Records an effect (what the handler changed in the world, keyed by what
   * it changed). Committed once with the task; a redelivered task never
   * records it twice. `data` must be plain JSON data (`NotJsonError`).
   */
  effect(kind: string, key: string, data?: unknown): void {
    if (typeof kind !== "string" || kind === "" || typeof key !== "string" || key === "") {
      throw new PermanentError(
        `ctx.effect(${JSON.stringify(kind)}, ${JSON.stringify(key)}): kind and key must be non-empty strings (the key names what the handler changed)`,
      );
    }
    assertPlainData(data, `ctx.effect(${JSON.stringify(kind)}, ${JSON.stringify(key)})`, "data");
    this.#effects.push(data === undefined ? { kind, key } : { kind, key, data });
  }

  /** Stages a hold built elsewhere (an auction's price), committed like a delegation's. */
  protected stageHold(hold: LedgerOperation): Promise<void> {
    return this.#staged().stage(hold);
  }

  #staged(): StagedHolds {
    this.#holds ??= new StagedHolds(this.node.budgets, this.agentId);
    return this.#holds;
  }

  /** Stages a message built elsewhere (an awarded task), sent only if this handler succeeds. */
  protected stage(entry: OutboxDraft): void {
    this.#outbox.push(entry);
  }

  /** The staged writes, for the runtime to commit. */
  staged(): StagedWrites {
    const ledger = this.#holds?.operations;
    return ledger === undefined || ledger.length === 0
      ? { effects: this.#effects, outbox: this.#outbox }
      : { effects: this.#effects, outbox: this.#outbox, ledger };
  }

  #stageMessage<TBody>(draft: MessageDraft<TBody>): string {
    const { clock, limits, transport, runId, swarm } = this.node;
    const { envelope, entry } = signedMessage(
      {
        swarm,
        clock,
        maxEnvelopeBytes: limits.maxEnvelopeBytes,
        transportKind: transport.kind,
        run: runId,
      },
      this.signer,
      draft,
    );
    this.#outbox.push(entry);
    return envelope.id;
  }
}

/**
 * A task's abort signal, made only when a handler asks for it: most never
 * do, and an AbortController per task is measurable on a fast path.
 */
export class TaskAbort {
  #controller: AbortController | undefined;
  #reason: unknown;
  #aborted = false;

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

/** What the runtime hands a task handler besides the node and the agent. */
export interface TaskRun<TBody> {
  /** The task's envelope, signature verified. */
  readonly task: Envelope<TBody>;
  /** 1 on the first delivery. */
  readonly attempt: number;
  /**
   * Which copy of the task this delivery is: "" for the message first sent,
   * else the redrive suffix of its message id (`.redrive.<n>`: a dead letter
   * redriven, a task sent again after the bus lost it), whose deliveries
   * count from 1 again.
   */
  readonly copy?: string;
  /** Aborted when the node stops abruptly or the task's deadline passes. */
  readonly abort: TaskAbort;
  /** Free-form options of this agent from the swarm file. */
  readonly options: Readonly<Record<string, unknown>>;
  /** Tells the bus the handler is alive. */
  readonly extend: () => void;
  /** The agent's LLM (model, prompt, tools), when it has one. */
  readonly llm?: AgentLlm;
}

/**
 * The context of a task handler (`ctx`): the task (`ctx.body`, `ctx.attempt`,
 * `ctx.root`, `ctx.signal`, `ctx.escrow`), what it may stage (`submit`,
 * `emit`, `effect`, `delegate`, from {@link StagingContext}), how it records
 * the root task's result (`finish`), and durable steps that survive a crash
 * of the agent (`step`, `call`, `gather`). Everything staged is committed
 * with the task's completion, or not at all.
 *
 * @example
 * ```ts
 * agent.handle<{ question: string }>("review", async (ctx) => {
 *   const parts = await ctx.gather([{ role: "researcher", task: "answer", body: ctx.body }]);
 *   ctx.finish({ answers: parts.length, attempt: ctx.attempt });
 * });
 * ```
 */
export class TaskContext<TBody = unknown> extends StagingContext {
  /** The task's envelope, signature verified. */
  readonly task: Envelope<TBody>;
  /** 1 on the first delivery. */
  readonly attempt: number;
  /** Free-form options of this agent from the swarm file. */
  readonly options: Readonly<Record<string, unknown>>;
  readonly #abort: TaskAbort;
  readonly #extend: () => void;
  readonly #agentLlm: AgentLlm | undefined;
  #journal: StoreStepJournal | undefined;
  #llm: LlmClient | undefined;
  #calls = 0;
  #spends = 0;
  readonly #copy: string;
  #proposals = 0;
  #auctions = 0;

  constructor(node: NodeContext, signer: Signer, run: TaskRun<TBody>) {
    super(node, signer, run.task as Envelope);
    this.task = run.task;
    this.attempt = run.attempt;
    this.#copy = run.copy ?? "";
    this.#abort = run.abort;
    this.options = run.options;
    this.#extend = run.extend;
    this.#agentLlm = run.llm;
  }

  /** Aborted when the node stops abruptly or the task's deadline passes. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** The task's body (`ctx.task.body`). */
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
   * again), and so does a copy of it (a redriven dead letter, whose
   * attempts count from 1 again); the same attempt never pays twice.
   */
  spend(request: SpendRequest): Promise<number> {
    return this.node.budgets.spend(
      this.agentId,
      `fee:${this.task.id}:${this.attempt}${this.#copy}:${++this.#spends}`,
      request,
    );
  }

  /**
   * The auditor's verdict on this task's delegation: `pass` releases the
   * escrow to `worker`, `fail` refunds it to the delegator. Applies once.
   */
  async settle(verdict: "pass" | "fail", worker: string): Promise<void> {
    const escrow = this.escrow;
    // Delegated without a budget (unmetered): nothing to settle.
    if (!escrow) return;
    const party = verdict === "pass" ? worker : escrow.delegator;
    const problem = await this.node.budgets.settleEscrow(escrow, verdict, party, this.task);
    if (problem !== undefined) throw new PermanentError(`task ${this.task.id}: ${problem}`);
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
    options: Omit<ProposeOptions, "key" | "parent"> = {},
  ): Promise<Decision> {
    return this.node.consensus.propose(this.agentId, request.action, request.data, {
      ...options,
      key: `${this.task.id}:${this.agentId}:${++this.#proposals}`,
      parent: this.task as Envelope,
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
    const id = handlerAuctionId(this.task.id, this.agentId, ++this.#auctions);
    const parent = this.task as Envelope;
    const won = await this.node.market.auction(this.agentId, id, task, body, parent, options);
    const { outcome, draft, hold } = won;
    if (!draft) return outcome;
    if (hold !== undefined) await this.stageHold(hold);
    this.stage(draft);
    return { ...outcome, task: draft.id };
  }

  /**
   * Runs `fn` as a durable step of this task: its result is journaled in the
   * store under (task, `name`), and when the task is redelivered (a crash,
   * a retry) the step returns the recorded result without running `fn`
   * again. Steps must be taken in the same order on every run (branch only
   * on step results); another order stops the task with
   * `NonDeterminismError`. Results are JSON.
   *
   * @example
   * ```ts
   * const page = await ctx.step("fetch", () => fetchPage(ctx.body.url));
   * ```
   */
  step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.#steps().step(name, fn);
  }

  /**
   * Calls another role durably and waits for its handler's result: a child
   * task with an id derived from this task and the step, submitted now (so
   * a retry never submits it twice) and awaited through the store (so a
   * restarted caller finds the result). With `budget`, credits go into the
   * child's escrow as `delegate` does. Throws `ChildTaskFailedError` when
   * the child is dead-lettered.
   *
   * @example
   * ```ts
   * const summary = await ctx.call<string>("writer", "summarise", { text });
   * ```
   */
  call<TResult = unknown>(
    role: string,
    task: string,
    body: unknown,
    options: CallOptions = {},
  ): Promise<TResult> {
    const step = options.step ?? `call/${role}.${task}/${++this.#calls}`;
    return this.step(step, async () => {
      const outcome = await this.#callChild(role, task, body, step, options);
      if (outcome.status !== "completed")
        throw new ChildTaskFailedError(outcome.taskId, outcome.reason);
      return outcome.result as TResult;
    });
  }

  /**
   * Fans out to several children and joins them, durably: each child is a
   * task with an id derived from this task and its place (submitted once,
   * even if this handler runs again), and the join waits through the store,
   * so a caller restarted mid-join (a crash, `kill -9`, a retry) picks it up
   * where it was — children that finished are not run again, nor waited for
   * again. Resolves when every child has completed or been dead-lettered,
   * in the order given; a dead-lettered child is a result here, not an
   * error, so the caller decides what a partial answer is worth.
   *
   * @example
   * ```ts
   * const parts = await ctx.gather(questions.map((q) => ({ role: "researcher", task: "answer", body: { q } })));
   * const answers = parts.flatMap((p) => (p.status === "completed" ? [p.result] : []));
   * ```
   */
  gather<TResult = unknown>(
    calls: readonly GatherCall[],
    options: { readonly timeoutMs?: number } = {},
  ): Promise<Gathered<TResult>[]> {
    const join = ++this.#calls;
    // Every step is taken now, in order, before any await: the journal's positions stay the same on replay.
    return Promise.all(
      calls.map((call, i) => {
        const step = `gather/${join}/${i}/${call.role}.${call.task}`;
        return this.step(step, async (): Promise<Gathered<TResult>> => {
          const outcome = await this.#callChild(call.role, call.task, call.body, step, {
            ...(call.budget === undefined ? {} : { budget: call.budget }),
            ...(call.team === undefined ? {} : { team: call.team }),
            ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
          });
          return outcome.status === "completed"
            ? { status: "completed", taskId: outcome.taskId, result: outcome.result as TResult }
            : { status: "dead_lettered", taskId: outcome.taskId, reason: outcome.reason };
        });
      }),
    );
  }

  /**
   * The team this agent leads (`teams:` in the swarm file), to delegate to
   * its members only; `name` may be left out when it leads one team.
   *
   * @throws NotTeamLeadError when this agent does not lead team `name`.
   * @throws ConfigError when there is no such team, or it leads none or several and named none.
   *
   * @example
   * ```ts
   * const answer = await ctx.team().call<string>("investigate", { topic: ctx.body });
   * ```
   */
  team(name?: string): TeamDelegation {
    return new TeamDelegation(this, this.node.teams, this.node.teams.teamFor(this.agentId, name));
  }

  /**
   * The agent's model (its `llm:` settings): `generate` and `stream` run
   * the durable agent loop, each model call and tool call a step of this
   * task, each call's most it can cost held from the agent's budget before
   * it is sent and its actual cost charged after.
   *
   * @throws ConfigError when the agent has no `llm:` settings or the node no models.
   */
  get llm(): LlmClient {
    this.#llm ??= this.#createLlm();
    return this.#llm;
  }

  #steps(): StoreStepJournal {
    this.#journal ??= new StoreStepJournal(
      this.node.store,
      this.task.id,
      () => this.node.clock.now(),
      (write) =>
        inHandlerWhileStoreUnreachable(
          this.node,
          { agent: this.agentId, id: this.task.id, signal: this.signal },
          write,
        ),
    );
    return this.#journal;
  }

  /**
   * The escrow key of the child submitted at `step` with a budget: the first
   * delegation of the staging context `#callChild` opens for that step
   * (`StagingContext.delegate` names escrows `<stableId>.<n>`).
   */
  #childEscrowKey(step: string): string {
    return `${this.#childStableId(step)}.1`;
  }

  /**
   * The stable id of the staging context of the child at `step`: the task
   * and a digest of the step (step names hold `/`, which ledger account
   * names may not).
   */
  #childStableId(step: string): string {
    return `${this.task.id}.${createHash("sha256").update(step).digest("hex").slice(0, 16)}`;
  }

  /** Submits (once) and awaits a child task; not a step itself (callers journal it). */
  async #callChild(
    role: string,
    task: string,
    body: unknown,
    step: string,
    options: CallOptions,
  ): Promise<TaskOutcome> {
    const { node } = this;
    const id = childTaskId(this.task.id, step);
    const staging = new StagingContext(
      node,
      this.signer,
      this.task as Envelope,
      this.#childStableId(step),
    );
    const { budget, step: _step, timeoutMs, ...submit } = options;
    if (budget !== undefined) await staging.delegate(role, task, body, { ...submit, id, budget });
    else staging.submit(role, task, body, { ...submit, id });
    await node.outbox.commit(`call:${id}`, this.agentId, staging.staged());
    return node.outcomes.wait(id, {
      signal: this.signal,
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    });
  }

  #createLlm(): LlmClient {
    const { node } = this;
    const agentLlm = this.#agentLlm;
    if (agentLlm === undefined) {
      throw new ConfigError(
        `agent "${this.agentId}" has no llm: settings; give it llm: { model: … } in the swarm file (or AgentSpec.llm)`,
      );
    }
    if (node.models === undefined) {
      throw new ConfigError(
        "this node has no models; add models: to the swarm file (or SwarmConfig.models)",
      );
    }
    const taskId = this.task.id;
    const agent = this.agentId;
    const mcp = node.mcp;
    const tools = agentLlm.settings.tools ?? [];
    // `mcp:<server>` entries stand for the server's tools, listed when the node started.
    const settings =
      mcp === undefined ? agentLlm.settings : { ...agentLlm.settings, tools: mcp.expand(tools) };
    const client = createLlmClient({
      // Each model call a span in this task's trace.
      pool: tracedModels(node.models, this.task as Envelope),
      journal: this.#steps(),
      budget: ledgerBudget(node, agent, taskId),
      tools: new SwarmTools(
        node,
        settings.tools ?? [],
        agentLlm.tools ?? {},
        async (role, name, input, context) => {
          const budget = agentLlm.toolBudget ?? 0;
          const outcome = await this.#callChild(
            role,
            name,
            input,
            context.step,
            budget > 0 ? { budget } : {},
          );
          // The tool's answer is what its escrow paid for: released to whoever gave it
          // (a dead-lettered tool task was refunded when it died).
          if (budget > 0 && node.budgets.has(agent) && outcome.status === "completed") {
            await node.budgets.settle(
              this.#childEscrowKey(context.step),
              budget,
              "pass",
              outcome.agent,
            );
          }
          // The model sees a failed tool as a result it can react to.
          return outcome.status === "completed"
            ? ((outcome.result ?? null) as JsonValue)
            : { error: `task ${name} was dead-lettered: ${outcome.reason}` };
        },
        mcp === undefined
          ? undefined
          : { tools: mcp, for: { budgets: node.budgets, agentId: agent, taskId } },
      ),
      settings,
      // A call still running when the task's deadline passes (or the node stops) is
      // cut off, not paid for while the task is retried elsewhere.
      signal: this.signal,
      ...llmEventHooks(node, this.signer, this.task as Envelope, agent, agentLlm.publishDeltas),
    });
    return mcp === undefined ? client : withMcpToolNames(client, mcp);
  }

  /** Tells the bus the handler is alive; the runtime also does this on a timer. */
  working(): void {
    this.#extend();
  }
}
