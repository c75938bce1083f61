/**
 * The A2A request handler of the gateway: the SDK's `A2ARequestHandler`
 * contract (what `JsonRpcTransportHandler` dispatches to) answered by the
 * front door. Written against the contract rather than the SDK's
 * `DefaultRequestHandler` + `AgentExecutor`, because the swarm already is a
 * durable task system: the task id is the swarm task's, its state is read
 * from the store, and there is no second task store to keep in step.
 */
import type {
  AgentCard,
  CancelTaskRequest,
  DeleteTaskPushNotificationConfigRequest,
  GetExtendedAgentCardRequest,
  GetTaskPushNotificationConfigRequest,
  GetTaskRequest,
  ListTaskPushNotificationConfigsRequest,
  ListTaskPushNotificationConfigsResponse,
  ListTasksRequest,
  ListTasksResponse,
  Message,
  SendMessageRequest,
  StreamResponse,
  SubscribeToTaskRequest,
  Task,
  TaskPushNotificationConfig,
} from "@a2a-js/sdk";
import { TaskState } from "@a2a-js/sdk";
import {
  A2AError,
  ExtendedAgentCardNotConfiguredError,
  PushNotificationNotSupportedError,
  RequestMalformedError,
  TaskNotCancelableError,
  TaskNotFoundError,
  UnsupportedOperationError,
} from "@a2a-js/sdk/errors";
import type { A2ARequestHandler, ServerCallContext } from "@a2a-js/sdk/server";
import { ConclaveError } from "../errors/index.js";
import { ActionNotApprovedError, NotExposedError } from "../errors/interop.js";
import { ulid } from "../wire/ulid.js";
import { a2aTask, inputOf, rejectedTask, resultArtifact } from "./a2a-tasks.js";
import {
  type FrontDoor,
  type OfferedTask,
  type OutsideTaskState,
  taskIdProblem,
} from "./front-door.js";

/** Keys of `ServerCallContext.state` the gateway fills before dispatch. */
export const CallState = Object.freeze({
  /** The authenticated caller's name (`HttpGuard.admit`). */
  caller: "conclave.caller",
  /** Aborted when the HTTP client goes away (ends a stream's wait). */
  signal: "conclave.signal",
  /** The error a method threw, kept for the v0.3 answer (a2a-legacy.ts). */
  error: "conclave.error",
});

/**
 * A context id a task's envelope carries (as its `conclave-context`
 * header, printable ASCII), short enough that the gateway's memory of
 * contexts stays small.
 */
const CONTEXT_ID_MAX = 1024;
const CONTEXT_ID = new RegExp(`^[\\x20-\\x7e]{1,${CONTEXT_ID_MAX}}$`);

/** Prefix of the id of a task the council refused: never a swarm task. */
const REFUSED = "refused-";

/** What the handlers of one gateway share: refusals and contexts of the tasks they started. */
export class GatewayMemory {
  // Bounded: only a convenience for answers this process gives (a restarted
  // gateway falls back to the task id as context, and to the store).
  static readonly LIMIT = 10_000;
  readonly contexts = new Map<string, string>();
  readonly refused: Map<string, Task> = new Map();

  remember<V>(map: Map<string, V>, key: string, value: V): void {
    map.set(key, value);
    if (map.size > GatewayMemory.LIMIT) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
  }
}

/** A conclave error as the A2A error a client can read: its code travels in the error's metadata. */
export function a2aError(error: unknown): unknown {
  if (error instanceof NotExposedError) {
    return new RequestMalformedError({
      message: error.message,
      metadata: { code: error.code, offered: error.offered.join(",") },
    });
  }
  if (error instanceof ConclaveError) {
    return new A2AError({ message: error.message, metadata: { code: error.code }, cause: error });
  }
  return error;
}

/**
 * The task id a request names (`params.id`).
 * @throws RequestMalformedError (invalid params) when it names none: a v0.3
 *   client may send `tasks/get` without it, which the SDK passes on as is.
 */
export function requiredTaskId(params: { readonly id?: unknown } | undefined): string {
  const id = params?.id;
  if (typeof id === "string" && id !== "") return id;
  throw new RequestMalformedError(
    `params.id: the task's id is required; send the id message/send answered with, e.g. {"id":"01JD0000000000000000000000"}`,
  );
}

export interface A2AHandlerOptions {
  readonly frontDoor: FrontDoor;
  readonly memory: GatewayMemory;
  /** The card this endpoint serves. */
  readonly card: () => AgentCard;
  /** Only this role's tasks (a per-role endpoint); all offered tasks when unset. */
  readonly role?: string;
}

export class SwarmA2AHandler implements A2ARequestHandler {
  readonly #door: FrontDoor;
  readonly #memory: GatewayMemory;
  readonly #card: () => AgentCard;
  readonly #role: string | undefined;

  constructor(options: A2AHandlerOptions) {
    this.#door = options.frontDoor;
    this.#memory = options.memory;
    this.#card = options.card;
    this.#role = options.role;
  }

  async getAgentCard(): Promise<AgentCard> {
    return this.#card();
  }

  async getAuthenticatedExtendedAgentCard(
    _params: GetExtendedAgentCardRequest,
    _context: ServerCallContext,
  ): Promise<AgentCard> {
    throw new ExtendedAgentCardNotConfiguredError();
  }

  /**
   * Starts the task and waits up to `gateway.waitMs` for it (less with
   * `returnImmediately`): the task comes back completed with its result as
   * an artifact, failed, or still working (follow it with `tasks/get`).
   */
  async sendMessage(params: SendMessageRequest, context: ServerCallContext): Promise<Task> {
    const started = await this.#start(params, context);
    if ("refused" in started) return started.refused;
    const { taskId, contextId } = started;
    const signal = context.state.get(CallState.signal) as AbortSignal | undefined;
    const state = await this.#door.waitStarted(taskId, {
      immediately: params.configuration?.returnImmediately === true,
      ...(signal === undefined ? {} : { signal }),
    });
    return a2aTask(state, contextId, this.#price);
  }

  /** The task, `working`, then its result as an artifact and `completed` (or `failed`). */
  async *sendMessageStream(
    params: SendMessageRequest,
    context: ServerCallContext,
  ): AsyncGenerator<StreamResponse, void, undefined> {
    const started = await this.#start(params, context);
    if ("refused" in started) {
      yield { payload: { $case: "task", value: started.refused } };
      return;
    }
    yield* this.#follow(started.taskId, started.contextId, context, true);
  }

  async getTask(params: GetTaskRequest, _context: ServerCallContext): Promise<Task> {
    const id = requiredTaskId(params);
    const refused = this.#memory.refused.get(id);
    if (refused) return refused;
    const state = await this.#door.state(this.#known(id));
    return a2aTask(state, this.#contextOf(id), this.#price);
  }

  /** The swarm cannot call a task back once it is on the bus. */
  async cancelTask(params: CancelTaskRequest, _context: ServerCallContext): Promise<Task> {
    const id = requiredTaskId(params);
    if (!this.#memory.refused.has(id)) this.#known(id);
    throw new TaskNotCancelableError(
      `task ${id} cannot be canceled: once sent, a swarm task runs to completion or to the dead-letter queue`,
    );
  }

  async *resubscribe(
    params: SubscribeToTaskRequest,
    context: ServerCallContext,
  ): AsyncGenerator<StreamResponse, void, undefined> {
    const id = requiredTaskId(params);
    const refused = this.#memory.refused.get(id);
    if (refused) {
      yield { payload: { $case: "task", value: refused } };
      return;
    }
    yield* this.#follow(this.#known(id), this.#contextOf(id), context, false);
  }

  async listTasks(
    _params: ListTasksRequest,
    _context: ServerCallContext,
  ): Promise<ListTasksResponse> {
    throw new UnsupportedOperationError(
      "the gateway does not list tasks; keep the ids message/send returned, or see conclave results",
    );
  }

  async createTaskPushNotificationConfig(
    _params: TaskPushNotificationConfig,
  ): Promise<TaskPushNotificationConfig> {
    throw new PushNotificationNotSupportedError();
  }
  async getTaskPushNotificationConfig(
    _params: GetTaskPushNotificationConfigRequest,
  ): Promise<TaskPushNotificationConfig> {
    throw new PushNotificationNotSupportedError();
  }
  async listTaskPushNotificationConfigs(
    _params: ListTaskPushNotificationConfigsRequest,
  ): Promise<ListTaskPushNotificationConfigsResponse> {
    throw new PushNotificationNotSupportedError();
  }
  async deleteTaskPushNotificationConfig(
    _params: DeleteTaskPushNotificationConfigRequest,
  ): Promise<void> {
    throw new PushNotificationNotSupportedError();
  }

  /** Streams a task from where it stands until it ends (or the client leaves). */
  async *#follow(
    taskId: string,
    contextId: string,
    context: ServerCallContext,
    fresh: boolean,
  ): AsyncGenerator<StreamResponse, void, undefined> {
    const signal = context.state.get(CallState.signal) as AbortSignal | undefined;
    // A task just sent is announced submitted, then working, however fast it
    // ends: a client sees the same sequence every time. A resubscriber gets
    // the task as it stands.
    const working: OutsideTaskState = { state: "working", taskId };
    let state: OutsideTaskState = fresh ? working : await this.#door.state(taskId);
    const first = a2aTask(state, contextId, this.#price);
    if (fresh && first.status) first.status.state = TaskState.TASK_STATE_SUBMITTED;
    yield { payload: { $case: "task", value: first } };
    if (state.state === "working") {
      yield { payload: { $case: "statusUpdate", value: this.#status(taskId, contextId, state) } };
    }
    while (state.state === "working") {
      if (signal?.aborted) return;
      state = await this.#door.wait(taskId, signal === undefined ? {} : { signal });
    }
    if (state.state === "completed") {
      yield {
        payload: {
          $case: "artifactUpdate",
          value: {
            taskId,
            contextId,
            artifact: resultArtifact(taskId, state.result),
            append: false,
            lastChunk: true,
            metadata: undefined,
          },
        },
      };
    }
    yield { payload: { $case: "statusUpdate", value: this.#status(taskId, contextId, state) } };
  }

  #status(taskId: string, contextId: string, state: OutsideTaskState) {
    const status = a2aTask(state, contextId).status;
    return { taskId, contextId, status, metadata: undefined };
  }

  /** Starts the message's task through the front door; a privileged action the council refused comes back as a rejected task. */
  async #start(
    params: SendMessageRequest,
    context: ServerCallContext,
  ): Promise<{ taskId: string; contextId: string } | { refused: Task }> {
    const message = params.message;
    if (message === undefined || message.parts.length === 0) {
      throw new RequestMalformedError("send a message with a data part (the task's input) or text");
    }
    if (message.taskId) {
      throw new RequestMalformedError(
        `task ${message.taskId} takes no further messages: a swarm task runs on the input it was started with; send a new message without taskId`,
      );
    }
    // Refused before anything is held or sent: a message with no input the swarm reads.
    const input = inputOf(message);
    const offered = this.#offered(params, message);
    const caller = String(context.state.get(CallState.caller) ?? context.user?.userName ?? "");
    if (message.contextId && !CONTEXT_ID.test(message.contextId)) {
      throw new RequestMalformedError(
        `message.contextId: at most ${CONTEXT_ID_MAX} printable ASCII characters (it travels in the task's signed envelope as the conclave-context header); leave it out and the task's id is the context`,
      );
    }
    const taskId = ulid();
    const contextId = message.contextId || taskId;
    try {
      await this.#door.start({ name: caller, via: "a2a" }, offered, input, {
        id: taskId,
        context: contextId,
      });
      // Kept once the task exists: a refused start leaves nothing behind.
      this.#memory.remember(this.#memory.contexts, taskId, contextId);
    } catch (error) {
      if (error instanceof ActionNotApprovedError) {
        // Not a ULID: no swarm task exists under it, and a restarted gateway says so.
        const refusedId = `${REFUSED}${taskId}`;
        const refused = rejectedTask(refusedId, contextId, error.message, {
          code: error.code,
          decision: error.decision,
          outcome: error.outcome,
        });
        this.#memory.remember(this.#memory.refused, refusedId, refused);
        return { refused };
      }
      throw a2aError(error);
    }
    return { taskId, contextId };
  }

  /**
   * Which offered task a message asks for: `metadata.skill` (of the message
   * or the request) names it (`<role>.<task>`, or a role with one task);
   * without it, the endpoint's only task.
   */
  #offered(params: SendMessageRequest, message: Message): OfferedTask {
    const named = message.metadata?.["skill"] ?? params.metadata?.["skill"];
    const skill = typeof named === "string" && named !== "" ? named : undefined;
    const candidates = this.#door
      .offered()
      .filter((o) => this.#role === undefined || o.role === this.#role);
    try {
      if (skill !== undefined) {
        const found = this.#door.find(skill);
        if (this.#role !== undefined && found.role !== this.#role) {
          throw new NotExposedError(
            skill,
            candidates.map((o) => o.name),
          );
        }
        return found;
      }
      if (candidates.length === 1 && candidates[0]) return candidates[0];
      throw new NotExposedError(
        "(no skill named: set message.metadata.skill)",
        candidates.map((o) => o.name),
      );
    } catch (error) {
      throw a2aError(error);
    }
  }

  /** A task id this gateway could have started (a ULID); anything else is no task of ours. */
  #known(taskId: string): string {
    if (taskId.startsWith(REFUSED)) {
      throw new TaskNotFoundError(
        `task ${taskId} was refused by the swarm's council and never ran; the gateway that refused it has restarted since (the decision is in conclave audit)`,
      );
    }
    const problem = taskIdProblem(taskId);
    if (problem !== undefined) throw new TaskNotFoundError(problem);
    return taskId;
  }

  /** What a task costs a caller: the gateway's escrow per task. */
  get #price(): number {
    return this.#door.gateway.pricePerTask;
  }

  #contextOf(taskId: string): string {
    return this.#memory.contexts.get(taskId) ?? taskId;
  }
}
