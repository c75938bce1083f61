import type { KeyObject } from "node:crypto";
import type { Clock } from "../core/clock.js";
import type { OutboxEntry, TaskCompletion } from "../store/port.js";
import { encodeEnvelope } from "../wire/codec.js";
import { createEnvelope, type Envelope } from "../wire/envelope.js";
import { signEnvelope } from "../wire/signature.js";
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
}

export interface SubmitOptions {
  /** Absolute deadline (ms since epoch) after which the task is dead-lettered unhandled. */
  readonly deadline?: number;
  /** Conversation for ordered delivery. */
  readonly conv?: string;
  readonly seq?: number;
  readonly headers?: Record<string, string>;
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
      ...(options.headers === undefined ? {} : { headers: options.headers }),
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

  constructor(
    protected readonly sender: Sender,
    /** The envelope being handled, if any: becomes the cause of what is sent. */
    protected readonly parent: Envelope | undefined,
  ) {}

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
    const subject = subjects.task(this.sender.swarm, role, task);
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

  /** The staged writes, for the runtime to commit. */
  staged(): Pick<TaskCompletion, "effects" | "outbox"> {
    return { effects: this.#effects, outbox: this.#outbox };
  }
}

/** The context of a task handler. */
export class TaskContext<TBody = unknown> extends StagingContext {
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

  /** Tells the bus the handler is alive; the runtime also does this on a timer. */
  working(): void {
    this.extend();
  }
}
