import { backoffDelay } from "../delivery/backoff.js";
import {
  AgentCrashError,
  ClockSkewError,
  ConclaveError,
  PermanentError,
  StoreFullError,
  TimeoutError,
  toError,
  UnknownSignerError,
  UnknownTaskTypeError,
} from "../errors/index.js";
import { ModelUnavailableError } from "../errors/llm.js";
import { isStoreUnreachable } from "../store/unreachable.js";
import type { Delivery, Message } from "../transport/port.js";
import { redriveSuffix } from "../transport/settlement.js";
import { decodeEnvelope, encodeEnvelope } from "../wire/codec.js";
import { createEnvelope, type Envelope, MAX_FUTURE_SKEW_MS } from "../wire/envelope.js";
import { assertPlainData } from "../wire/plain-data.js";
import { signEnvelope } from "../wire/signature.js";
import type { AgentLlm } from "./agent-llm.js";
import { TaskAbort, TaskContext } from "./context.js";
import type { NodeContext, RoleSettings, Signer } from "./node-context.js";
import { settledBy } from "./outbox.js";
import { parkOtherRun, strayRun } from "./run-identity.js";
import { MAX_OUTAGE_RERUNS, waitForStore, whileStoreUnreachable } from "./store-outage.js";
import { taskName } from "./subjects.js";
import { type ProcessSpan, startProcessSpan } from "./tracing.js";

/**
 * Handles one task. Its return value is the task's result (the reply, for a
 * request): plain JSON data, or the task is dead-lettered with `NotJsonError`.
 */
export type TaskHandler<TBody = unknown, TResult = unknown> = (
  ctx: TaskContext<TBody>,
) => TResult | Promise<TResult>;

/** The completion marker a conversation task leaves for its successor. */
export const conversationMarker = (conv: string, seq: number) => `conv:${conv}:${seq}`;

/** The agent a pipeline runs tasks for. */
export interface PipelineAgent {
  readonly id: string;
  readonly role: string;
  readonly signer: Signer;
  readonly options: Readonly<Record<string, unknown>>;
  /** The agent's LLM, when it has one (`ctx.llm`). */
  readonly llm: AgentLlm | undefined;
  handler(task: string): TaskHandler | undefined;
}

/**
 * One agent's way from a delivery to an ack: decode, verify the sender
 * (waiting a little for one whose trust is being established), refuse what
 * cannot run (dead-lettered with the reason), skip what a previous delivery
 * committed, check a privileged task's approval, run the handler while
 * keeping the lease, commit its writes with the completion marker through
 * the outbox, settle, ack. A handler that throws naks the task with backoff
 * (dead-lettered at the role's `maxDeliver`, at once for `PermanentError`);
 * `AgentCrashError` hands it back and reports the crash.
 */

/** The longest wait a task waits for a provider's Retry-After: an hour. */
const MAX_PROVIDER_WAIT_MS = 3_600_000;

/** How long the provider behind `error` asked to be left alone (Retry-After), or 0. */
function providerWait(error: Error): number {
  const unavailable =
    error instanceof ModelUnavailableError
      ? error
      : error.cause instanceof ModelUnavailableError
        ? error.cause
        : undefined;
  return Math.min(unavailable?.retryAfterMs ?? 0, MAX_PROVIDER_WAIT_MS);
}

/** A request's claim on its envelope id: held this long before a dead process's run is taken over (a request's default timeout). */
const REQUEST_CLAIM_MS = 30_000;

export class TaskPipeline {
  readonly #node: NodeContext;
  readonly #agent: PipelineAgent;
  readonly #crashed: (error: Error) => void;
  readonly #running = new Set<TaskAbort>();

  constructor(node: NodeContext, agent: PipelineAgent, crashed: (error: Error) => void) {
    this.#node = node;
    this.#agent = agent;
    this.#crashed = crashed;
  }

  /** Handlers running now (an autoscaling pool retires only agents with none). */
  get running(): number {
    return this.#running.size;
  }

  /** Aborts every running handler's signal (an abrupt stop). */
  abortAll(reason: Error): void {
    for (const controller of this.#running) controller.abort(reason);
  }

  async deliver(delivery: Delivery): Promise<void> {
    const node = this.#node;
    const agent = this.#agent;
    const settings = node.roles.settings(agent.role);
    let envelope: Envelope | undefined;
    try {
      envelope = decodeEnvelope(delivery.data, { maxBytes: node.limits.maxEnvelopeBytes });
      const now = node.clock.now();
      if (envelope.ts > now + MAX_FUTURE_SKEW_MS) {
        throw new ClockSkewError(envelope.ts, now, MAX_FUTURE_SKEW_MS);
      }
      await this.#verifyWaitingForTrust(envelope, delivery);
    } catch (error) {
      // Another run's leftover that cannot verify here (src/runtime/run-identity.ts):
      // parked, never recorded in this run's store.
      const stray = strayRun(envelope, node.runId, error);
      if (
        stray !== undefined &&
        envelope !== undefined &&
        !willRetryTrust(error, delivery, settings)
      ) {
        await parkOtherRun(node, delivery, envelope, stray, agent.role);
        return;
      }
      await this.#reject(delivery, error, settings);
      return;
    }
    // The handling's span: a child of the sender's, whose context the headers carry.
    const span = startProcessSpan(envelope, {
      transportKind: node.transport.kind,
      subject: delivery.subject,
      group: delivery.queue,
      agent: agent.id,
      attempt: delivery.deliveryCount,
    });
    try {
      await this.#handle(delivery, envelope, settings, span);
    } finally {
      span.end();
    }
  }

  /** A verified task: run it, commit, ack; or refuse, nak or dead-letter it. */
  async #handle(
    delivery: Delivery,
    envelope: Envelope,
    settings: RoleSettings,
    span: ProcessSpan,
    outageReruns = 0,
  ): Promise<void> {
    const node = this.#node;
    const agent = this.#agent;
    const name = taskName(envelope.type);
    const handler = name === undefined ? undefined : agent.handler(name);
    if (!handler || name === undefined) {
      const error = new UnknownTaskTypeError(envelope.type);
      span.fail(error);
      await this.#reject(delivery, error, settings);
      return;
    }
    if (settings.ordering === "conversation" && envelope.conv !== undefined) {
      await this.#awaitPredecessor(envelope, delivery, settings);
    }
    // Each store call waits out an unreachable store in place (see store-outage.ts).
    const store = <T>(call: () => Promise<T>) => this.#store(delivery, envelope, settings, call);
    // Claimed for this delivery (src/runtime/task-claims.ts): undefined when the
    // task is completed, here or by another live delivery this one waited for.
    const claim = await store(() =>
      node.claims.acquire(envelope.id, settings.ackWaitMs, delivery, agent.id),
    );
    if (claim === undefined) {
      // Redelivered after it was committed (crash between commit and ack), or
      // a second delivery of it: finish the send and the ack, never the
      // effects; the copy's outbox entry is settled as a completion would.
      await store(() => node.outbox.resend(envelope.id));
      const settled = settledBy(node.transport, delivery.msgId);
      if (settled.length > 0) await store(() => node.store.deleteOutbox(settled));
      span.set("conclave.task.outcome", "duplicate");
      await this.#settleAndAck(delivery, envelope, false, undefined);
      node.events.emit({ type: "task.duplicate", id: envelope.id, agent: agent.id });
      return;
    }
    // Checked once the task is known not to be completed: a redelivery of a
    // committed task (its ack lost) is acked as a duplicate, whatever its deadline.
    if (envelope.deadline !== undefined && node.clock.now() > envelope.deadline) {
      claim.release();
      span.set("conclave.task.outcome", "expired");
      await delivery.term(`deadline passed at ${new Date(envelope.deadline).toISOString()}`);
      return;
    }
    try {
      // A team's task runs only when its lead sent it: checked first, so a
      // task refused here does not use up the approval it carries.
      node.teams.assertFromLead(delivery.subject, envelope.from);
      // A privileged action runs only with a sealed approval: otherwise dead-lettered.
      await store(() => node.consensus.checkApproval(name, envelope));
    } catch (error) {
      claim.release();
      span.fail(error);
      await this.#reject(delivery, error, settings);
      return;
    }
    const started = node.clock.now();
    const abort = new TaskAbort();
    // `ctx.signal` is aborted when the task's deadline passes while it runs.
    const { deadline } = envelope;
    const cancelDeadline =
      deadline === undefined
        ? undefined
        : node.clock.setTimer(() => {
            const at = new Date(deadline).toISOString();
            abort.abort(new TimeoutError(`task ${envelope.id} passed its deadline (${at})`));
          }, deadline - node.clock.now());
    this.#running.add(abort);
    const ctx = new TaskContext(node, agent.signer, {
      task: envelope,
      attempt: delivery.deliveryCount,
      copy: redriveSuffix(delivery.msgId),
      abort,
      options: agent.options,
      extend: () => delivery.working(),
      ...(agent.llm ? { llm: agent.llm } : {}),
    });
    const cancelLease = node.leases.keep(delivery, settings.ackWaitMs);
    let outcome: { readonly firstTime: boolean } | { readonly error: unknown };
    try {
      // Run in the span's context, so the user's own spans nest under the task's.
      const result = await span.run(() => handler(ctx));
      assertPlainData(result, `task ${envelope.id}: the handler's result`, "result");
      // Revoked (or expired) while the handler ran: its work does not count.
      node.admission.assertAdmitted(agent.id);
      // Idempotent by task id: a commit retried after an outage that finds
      // itself committed resends its outbox.
      const { duplicate } = await store(() =>
        node.outbox.commit(envelope.id, agent.id, {
          ...ctx.staged(),
          ...(result === undefined ? {} : { result }),
          corr: envelope.corr ?? envelope.id,
          ...(envelope.cause === undefined ? {} : { cause: envelope.cause }),
          sender: envelope.from,
          settles: settledBy(node.transport, delivery.msgId),
        }),
      );
      // The conversation's marker only once the task is committed: its
      // successor must not run while this commit can still fail. A crash
      // between the two makes the successor wait out its gap timeout.
      const conv = envelope.conv;
      if (conv !== undefined) {
        await store(() =>
          node.store.completeTask({
            taskId: conversationMarker(conv, envelope.seq ?? 0),
            agent: agent.id,
            at: node.clock.now(),
            effects: [],
            outbox: [],
          }),
        );
      }
      node.outcomes.decided(envelope.id);
      outcome = { firstTime: !duplicate };
    } catch (error) {
      outcome = { error };
    }
    cancelLease();
    cancelDeadline?.();
    if ("error" in outcome) claim.release();
    else claim.done();
    this.#running.delete(abort);
    if (
      "error" in outcome &&
      isStoreUnreachable(outcome.error) &&
      outageReruns < MAX_OUTAGE_RERUNS
    ) {
      // Not the task's fault: once the store answers, run it again on this delivery.
      const task = { delivery, ackWaitMs: settings.ackWaitMs, agent: agent.id, id: envelope.id };
      await waitForStore(node, task, () => node.store.isCompleted(envelope.id));
      return this.#handle(delivery, envelope, settings, span, outageReruns + 1);
    }
    if ("error" in outcome) {
      span.fail(outcome.error);
      await this.#failed(delivery, envelope, name, outcome.error, settings);
      return;
    }
    if (!(await this.#settleAndAck(delivery, envelope, outcome.firstTime, "settling"))) return;
    node.events.emit({
      type: "task.completed",
      id: envelope.id,
      agent: agent.id,
      role: agent.role,
      task: name,
      durationMs: node.clock.now() - started,
      attempt: delivery.deliveryCount,
    });
  }

  /**
   * Settles a committed task (an awarded task's escrow) and acks it. When the
   * settlement fails the task is nak'ed: its redelivery finds it committed
   * and settles again (idempotent). Returns whether it was acked.
   */
  async #settleAndAck(
    delivery: Delivery,
    envelope: Envelope,
    firstTime: boolean,
    report: string | undefined,
  ): Promise<boolean> {
    try {
      await this.#store(delivery, envelope, undefined, () =>
        this.#node.market.completed(envelope, this.#agent.id, firstTime),
      );
    } catch (error) {
      const reason = toError(error).message;
      if (report)
        this.#node.events.emit({ type: "error", error: `${report} ${envelope.id}: ${reason}` });
      await delivery.nak({ delayMs: 1000, reason });
      return false;
    }
    await delivery.ack();
    return true;
  }

  /** A request routed to this agent (`swarm.request`): run the handler and reply. */
  async request(message: Message): Promise<void> {
    const node = this.#node;
    const agent = this.#agent;
    if (!message.reply) return;
    let envelope: Envelope | undefined;
    const reply = (body: unknown, type: string) => {
      const draft = createEnvelope(
        {
          type,
          from: agent.id,
          body: body === undefined ? null : (body as never),
          ...(envelope ? { corr: envelope.corr ?? envelope.id, cause: envelope.id } : {}),
        },
        { clock: node.clock },
      );
      const data = encodeEnvelope(signEnvelope(draft, agent.signer.privateKey), {
        maxBytes: node.limits.maxEnvelopeBytes,
      });
      if (message.reply) node.transport.publish(message.reply, data);
    };
    const refuse = (error: unknown) => {
      const e = toError(error);
      node.events.emit({
        type: "message.rejected",
        subject: message.subject,
        code: codeOf(e),
        reason: e.message,
      });
      reply({ error: { code: codeOf(e), message: e.message } }, "reply.error");
    };
    try {
      const decoded = decodeEnvelope(message.data, { maxBytes: node.limits.maxEnvelopeBytes });
      node.keys.verify(decoded);
      envelope = decoded;
    } catch (error) {
      refuse(error);
      return;
    }
    const name = taskName(envelope.type);
    const handler = name === undefined ? undefined : agent.handler(name);
    if (!handler || name === undefined) {
      const e = new UnknownTaskTypeError(envelope.type);
      reply({ error: { code: e.code, message: e.message } }, "reply.error");
      return;
    }
    let claim: Awaited<ReturnType<typeof node.claims.acquire>>;
    try {
      await node.consensus.checkApproval(name, envelope);
      // One run per request, as for a queued task: the same signed request
      // sent again (a client's retry, or a replay by anyone on the bus)
      // waits for a live run and gets its result, never a second run.
      claim = await node.claims.acquire(envelope.id, REQUEST_CLAIM_MS, { working() {} }, agent.id);
      if (claim === undefined) {
        const done = await node.store.taskOutcome(envelope.id);
        reply(done?.status === "completed" ? done.result : undefined, "reply.ok");
        return;
      }
    } catch (error) {
      refuse(error);
      return;
    }
    const ctx = new TaskContext(node, agent.signer, {
      task: envelope,
      attempt: 1,
      abort: new TaskAbort(),
      options: agent.options,
      extend: () => {},
      ...(agent.llm ? { llm: agent.llm } : {}),
    });
    const span = startProcessSpan(envelope, {
      transportKind: node.transport.kind,
      subject: message.subject,
      agent: agent.id,
    });
    try {
      const result = await span.run(() => handler(ctx));
      assertPlainData(result, `request ${envelope.id}: the handler's result`, "result");
      await node.outbox.commit(envelope.id, agent.id, {
        ...ctx.staged(),
        ...(result === undefined ? {} : { result }),
      });
      claim.done();
      reply(result, "reply.ok");
    } catch (error) {
      claim.release();
      const e = toError(error);
      span.fail(e);
      reply({ error: { code: codeOf(e), message: e.message } }, "reply.error");
    } finally {
      span.end();
    }
  }

  /**
   * Verifies a task's sender; when the sender is not trusted yet (its node
   * joined moments ago and the handshake is under way), holds the task,
   * keeping its lease, for a few heartbeats instead of spending deliveries.
   */
  async #verifyWaitingForTrust(envelope: Envelope, delivery: Delivery): Promise<void> {
    const { keys, clock, limits } = this.#node;
    const giveUpAt = clock.now() + Math.max(5000, limits.heartbeatMs * 5);
    for (;;) {
      try {
        const checking = keys.verifyOffThread(envelope);
        if (checking !== undefined) await checking;
        return;
      } catch (error) {
        // Wait only for a signer that may still become trusted (its card is
        // known and a handshake can prove it, or this node has just started
        // and not heard everyone yet); a stranger's task must not hold a slot.
        if (
          !(error instanceof UnknownSignerError) ||
          !keys.mayBecomeTrusted(envelope.from) ||
          clock.now() >= giveUpAt
        ) {
          throw error;
        }
      }
      delivery.working();
      await new Promise<void>((resolve) => clock.setTimer(resolve, 50));
    }
  }

  /** Calls the store for a task, waiting out an outage in place (`whileStoreUnreachable`). */
  #store<T>(
    delivery: Delivery,
    envelope: Envelope,
    settings: RoleSettings | undefined,
    call: () => Promise<T>,
  ): Promise<T> {
    const ackWaitMs = (settings ?? this.#node.roles.settings(this.#agent.role)).ackWaitMs;
    const task = { delivery, ackWaitMs, agent: this.#agent.id, id: envelope.id };
    return whileStoreUnreachable(this.#node, task, call);
  }

  /** Bad input: dead-letter it with the reason, except a signer we may not know yet. */
  async #reject(delivery: Delivery, error: unknown, settings: RoleSettings): Promise<void> {
    const node = this.#node;
    const e = toError(error);
    if (e instanceof UnknownSignerError && delivery.deliveryCount < settings.maxDeliver) {
      // Its card may still be on the way (a new agent on another node, a
      // restart): retry after a heartbeat interval, when the card will have
      // arrived. If it has not, the sender is unreachable from here for now
      // (its server stopped, a partition): later retries come an ack wait
      // apart, as a lost delivery's would, so its tasks are not spent within
      // a second (chaos nats-r3-pause; test/chaos/unheard-sender.test.ts).
      // Not rejected yet, so not reported as rejected.
      node.events.emit({ type: "trust.retrying", agent: e.agentId, reason: e.message });
      await delivery.nak({
        delayMs: Math.max(
          delivery.deliveryCount <= 1 ? node.limits.heartbeatMs : settings.ackWaitMs,
          backoffDelay(delivery.deliveryCount, settings.backoff, node.random),
        ),
        reason: `${e.name}: ${e.message}`,
      });
      return;
    }
    node.events.emit({
      type: "message.rejected",
      subject: delivery.subject,
      code: codeOf(e),
      reason: e.message,
    });
    await delivery.term(`${e.name}: ${e.message}`);
  }

  async #failed(
    delivery: Delivery,
    envelope: Envelope,
    task: string,
    error: unknown,
    settings: RoleSettings,
  ): Promise<void> {
    const node = this.#node;
    const e = toError(error);
    const permanent = e instanceof PermanentError;
    const willRetry = !permanent && delivery.deliveryCount < settings.maxDeliver;
    node.events.emit({
      type: "task.failed",
      id: envelope.id,
      agent: this.#agent.id,
      role: this.#agent.role,
      task,
      attempt: delivery.deliveryCount,
      error: e.message,
      willRetry,
    });
    if (e instanceof StoreFullError) {
      node.events.emit({ type: "store.full", agent: this.#agent.id, error: e.message });
    }
    const reason = `${e.name}: ${e.message}`;
    if (permanent) {
      await delivery.term(reason);
    } else if (e instanceof AgentCrashError) {
      // The task is not at fault: the agent stops first (its supervisor
      // restarts it), then the task goes back after the role's backoff, by
      // which time this agent takes no more; handed back at once, it came
      // straight back here and spent every delivery in milliseconds.
      this.#crashed(e);
      const delayMs = backoffDelay(delivery.deliveryCount, settings.backoff, node.random);
      await delivery.nak({ delayMs, reason });
    } else {
      const backoff = backoffDelay(delivery.deliveryCount, settings.backoff, node.random);
      // A provider that asked to be left alone for a while (429 Retry-After)
      // is not asked again sooner, nor a delivery spent on it meanwhile.
      await delivery.nak({ delayMs: Math.max(backoff, providerWait(e)), reason });
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
    const { store, clock, events } = this.#node;
    const seq = envelope.seq ?? 0;
    if (seq === 0 || envelope.conv === undefined) return;
    const previous = conversationMarker(envelope.conv, seq - 1);
    const giveUpAt = clock.now() + settings.gapTimeoutMs;
    while (!(await this.#store(delivery, envelope, settings, () => store.isCompleted(previous)))) {
      if (clock.now() >= giveUpAt) {
        events.emit({
          type: "error",
          error: `conversation "${envelope.conv}": seq ${seq - 1} did not complete within ${settings.gapTimeoutMs} ms; running seq ${seq} anyway`,
        });
        return;
      }
      delivery.working();
      await new Promise<void>((resolve) => clock.setTimer(resolve, 20));
    }
  }
}

/** An unknown signer with deliveries left: retried, as its card may be on the way. */
function willRetryTrust(error: unknown, delivery: Delivery, settings: RoleSettings): boolean {
  return error instanceof UnknownSignerError && delivery.deliveryCount < settings.maxDeliver;
}

function codeOf(error: Error): string {
  return error instanceof ConclaveError ? error.code : "E_UNKNOWN";
}
