/**
 * A role served by an outside A2A agent (`roles.<role>.remote.a2a` in the
 * swarm file): the agents of the role answer each of its tasks by sending
 * the task to the remote agent with the `@a2a-js/sdk` client (`message/send`,
 * the task's body as a data part and as text) and returning its answer (the
 * artifacts' data or text) as the task's result.
 *
 * Everything else is the swarm's as for any task: the call is a journaled
 * step (a redelivered task that got its answer does not ask again), a
 * failure to reach the remote is retried with the role's backoff and
 * dead-lettered after `maxDeliver`, a refusal by the remote is dead-lettered
 * at once, and the cost the remote reports (`metadata.cost`, in credits) is
 * charged to the agent's budget.
 *
 * The SDK is imported only when the first such task runs, so a swarm
 * without remote roles never loads it.
 */
import type { Message, Part, Task } from "@a2a-js/sdk";
import type { Client } from "@a2a-js/sdk/client";
import type { RemoteRoleConfig } from "../config/schema.js";
import { ConclaveError } from "../errors/index.js";
import { RemoteAgentRefusedError, RemoteAgentUnavailableError } from "../errors/interop.js";
import type { TaskContext } from "./context.js";
import type { TaskHandler } from "./task-pipeline.js";

/** What the remote answered, as journaled. */
interface RemoteAnswer {
  readonly result: unknown;
  readonly cost: number;
}

/** A2A task states (the SDK's `TaskState`), spelled out so the SDK loads lazily. */
const State = Object.freeze({
  submitted: 1,
  working: 2,
  completed: 3,
  failed: 4,
  canceled: 5,
  inputRequired: 6,
  rejected: 7,
  authRequired: 8,
});

const POLL_MS = 250;

/** The clients of the remote agents this process calls, one per card URL and token. */
const clients = new Map<string, Promise<Client>>();

/**
 * The handler that answers task type `task` of a remote role by calling
 * the remote A2A agent. Register it for each of the role's tasks.
 *
 * @example
 * ```ts
 * agent.handle("translate", remoteA2AHandler({ a2a: "http://127.0.0.1:9000/.well-known/agent-card.json", timeoutMs: 60_000 }, "translate"));
 * ```
 */
export function remoteA2AHandler(remote: RemoteRoleConfig, task: string): TaskHandler {
  return async (ctx: TaskContext) => {
    const answer = await ctx.step<RemoteAnswer>(`a2a:${task}`, () => callRemote(remote, task, ctx));
    // A step of its own, after the answer is journaled: a charge the agent
    // cannot pay fails the task, and its retries try the charge again, never
    // the remote (which did the work, and billed for it, once).
    if (answer.cost > 0) {
      await ctx.step(`a2a:${task}:cost`, () =>
        ctx.spend({ kind: "a2a.remote", credits: answer.cost }),
      );
    }
    if (ctx.task.corr === undefined) ctx.finish(answer.result);
    return answer.result;
  };
}

async function callRemote(
  remote: RemoteRoleConfig,
  task: string,
  ctx: TaskContext,
): Promise<RemoteAnswer> {
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(remote.timeoutMs)]);
  const body = ctx.task.body;
  const [{ Role }, errors] = await Promise.all([
    import("@a2a-js/sdk"),
    import("@a2a-js/sdk/errors"),
  ]);
  const message: Message = {
    // One message per attempt: a retry is a new request, not a duplicate of the failed one.
    messageId: `${ctx.task.id}-${ctx.attempt}`,
    contextId: ctx.root,
    taskId: "",
    role: Role.ROLE_USER,
    parts: [
      {
        content: { $case: "data", value: body ?? null },
        metadata: undefined,
        filename: "",
        mediaType: "application/json",
      },
      {
        content: { $case: "text", value: typeof body === "string" ? body : JSON.stringify(body) },
        metadata: undefined,
        filename: "",
        mediaType: "text/plain",
      },
    ],
    metadata: { task, "conclave-task": ctx.task.id },
    extensions: [],
    referenceTaskIds: [],
  };
  try {
    // The card is fetched once per remote, under its own deadline; this call
    // waits for it no longer than for the rest of its answer.
    const client = await untilAborted(clientFor(remote), signal);
    let reply: Message | Task = await client.sendMessage(
      {
        tenant: "",
        message,
        configuration: {
          acceptedOutputModes: [],
          taskPushNotificationConfig: undefined,
          returnImmediately: false,
        },
        metadata: undefined,
      },
      { signal },
    );
    // A task still running when message/send returned: follow it until it ends.
    while (isTask(reply) && isRunning(reply)) {
      ctx.working();
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      signal.throwIfAborted();
      reply = await client.getTask({ tenant: "", id: reply.id }, { signal });
    }
    return answerOf(remote.a2a, reply);
  } catch (error) {
    throw classify(remote.a2a, error, signal, errors);
  }
}

/** `promise`, or the signal's reason once it is aborted first. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener("abort", abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}

function isTask(reply: Message | Task): reply is Task {
  return "status" in reply;
}

function isRunning(task: Task): boolean {
  const state = task.status?.state;
  return state === State.submitted || state === State.working || state === undefined;
}

function answerOf(url: string, reply: Message | Task): RemoteAnswer {
  if (!isTask(reply)) {
    return { result: answerIn(reply.parts), cost: costOf(reply.metadata) };
  }
  const state = reply.status?.state;
  const said = reply.status?.message ? String(answerIn(reply.status.message.parts)) : "";
  if (state !== State.completed) {
    const name = Object.entries(State).find(([, v]) => v === state)?.[0] ?? String(state);
    throw new RemoteAgentRefusedError(
      url,
      `its task ${reply.id} ended ${name}${said ? `: ${said}` : ""}`,
    );
  }
  const parts = reply.artifacts.flatMap((a) => a.parts);
  return {
    result: answerIn(parts.length > 0 ? parts : (reply.status?.message?.parts ?? [])),
    cost: costOf(reply.metadata) || costOf(reply.status?.message?.metadata),
  };
}

/** The answer in A2A parts: the data part's value when there is one, else the text. */
function answerIn(parts: readonly Part[]): unknown {
  const data = parts.filter((p) => p.content?.$case === "data");
  if (data.length === 1 && data[0]?.content?.$case === "data") return data[0].content.value;
  if (data.length > 1)
    return data.map((p) => (p.content?.$case === "data" ? p.content.value : null));
  return parts.flatMap((p) => (p.content?.$case === "text" ? [p.content.value] : [])).join("\n");
}

/** Credits the remote says the call cost (`metadata.cost`), rounded up; 0 when it says nothing usable. */
function costOf(metadata: Record<string, unknown> | undefined): number {
  const cost = Number(metadata?.["cost"]);
  return Number.isFinite(cost) && cost > 0 ? Math.ceil(cost) : 0;
}

type SdkErrors = typeof import("@a2a-js/sdk/errors");

/** Retry what may pass (unreachable, 5xx, timeouts, internal errors); dead-letter what will not. */
function classify(
  url: string,
  error: unknown,
  signal: AbortSignal,
  errors: SdkErrors,
): ConclaveError {
  if (error instanceof ConclaveError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (signal.aborted) {
    return new RemoteAgentUnavailableError(url, `no answer in time (${message})`, { cause: error });
  }
  if (errors.isJsonRpcError(error)) {
    // A JSON-RPC error is the agent's answer, unless it says it failed inside.
    if (error.envelopeCode === errors.A2A_ERROR_CODE.INTERNAL_ERROR) {
      return new RemoteAgentUnavailableError(url, message, { cause: error });
    }
    return new RemoteAgentRefusedError(url, `${error.name}: ${message}`, { cause: error });
  }
  // An HTTP+JSON (REST) error carries its HTTP status; the others say it in their message.
  const status = errors.isRestError(error)
    ? String(error.statusCode)
    : /(?:Status: |Agent Card from \S+: )(\d{3})/.exec(message)?.[1];
  if (status === "401" || status === "403") {
    return new RemoteAgentRefusedError(
      url,
      `HTTP ${status}: it does not accept our credentials; check remote.token`,
      { cause: error },
    );
  }
  if (status?.startsWith("4") && status !== "408" && status !== "429") {
    return new RemoteAgentRefusedError(url, `HTTP ${status}: ${message}`, { cause: error });
  }
  return new RemoteAgentUnavailableError(url, message, { cause: error });
}

/** The client of `remote` (its card fetched once); a failed fetch is tried again next time. */
function clientFor(remote: RemoteRoleConfig): Promise<Client> {
  const key = `${remote.a2a}\u0000${remote.token ?? ""}`;
  let client = clients.get(key);
  if (client === undefined) {
    client = createClient(remote);
    clients.set(key, client);
    client.catch(() => clients.delete(key));
  }
  return client;
}

async function createClient(remote: RemoteRoleConfig): Promise<Client> {
  const sdk = await import("@a2a-js/sdk/client");
  const token = remote.token;
  const fetchImpl: typeof fetch = (input, init) => {
    if (token === undefined) return fetch(input, init);
    const headers = new Headers(init?.headers);
    headers.set("authorization", `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
  // The card resolver passes no signal: its fetch gets the call's deadline,
  // or a remote that never answers it would hold every call of the role.
  const cardFetch: typeof fetch = (input, init) =>
    fetchImpl(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(remote.timeoutMs) });
  const legacyCompat = { enabled: true };
  const factory = new sdk.ClientFactory(
    sdk.ClientFactoryOptions.createFrom(sdk.ClientFactoryOptions.default, {
      // legacyCompat: agents still on A2A v0.3 are called in v0.3.
      transports: [
        new sdk.JsonRpcTransportFactory({ fetchImpl, legacyCompat }),
        new sdk.RestTransportFactory({ fetchImpl, legacyCompat }),
      ],
      cardResolver: new sdk.DefaultAgentCardResolver({ fetchImpl: cardFetch, legacyCompat }),
    }),
  );
  // The full card URL, with an empty path: the card may live anywhere.
  return factory.createFromUrl(remote.a2a, "");
}
