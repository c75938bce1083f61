/**
 * What binds the LLM loop (`src/llm/`) to a node: the agent's budget as
 * ledger holds, and its tools as the swarm's own tasks (or functions the
 * agent module gives). `ctx.llm` is built from these per task.
 */
import { createHash } from "node:crypto";
import { toError } from "../errors/index.js";
import { UnknownToolError } from "../errors/llm.js";
import type { LlmClientConfig, LlmSettings } from "../llm/client.js";
import type {
  Budget,
  ChargeDetails,
  Hold,
  HoldRequest,
  JsonSchema,
  LlmDelta,
  ToolCallContext,
  ToolDefinition,
  ToolRunner,
} from "../llm/ports.js";
import type { Envelope } from "../wire/envelope.js";
import type { JsonValue } from "../wire/json-value.js";
import type { McpCallFor, McpTools } from "./mcp-tools.js";
import { signedMessage } from "./messages.js";
import type { NodeContext, Signer } from "./node-context.js";
import { inHandlerWhileStoreUnreachable } from "./store-outage.js";
import { subjects } from "./subjects.js";

/** A tool the agent module gives as a function (not a task of another role). */
export interface LocalTool {
  readonly description?: string;
  /** JSON Schema of the input object. Default: any object. */
  readonly inputSchema?: JsonSchema;
  run(input: JsonValue, context: ToolCallContext): JsonValue | Promise<JsonValue>;
}

/** An agent's LLM: its settings (model, prompt, tools, limits) and its local tools. */
export interface AgentLlm {
  readonly settings: LlmSettings;
  readonly tools?: Readonly<Record<string, LocalTool>>;
  /** Publish `stream` deltas as `llm.delta` events on the bus. Default false. */
  readonly publishDeltas?: boolean;
  /**
   * Credits escrowed from this agent's budget for each tool call that is a
   * task of another role: held when the call is sent, released to the agent
   * that answered it, refunded if the task is dead-lettered. Default 0 (no
   * escrow). Unmetered agents hold nothing.
   */
  readonly toolBudget?: number;
}

const ANY_OBJECT: JsonSchema = Object.freeze({ type: "object" });

/** The ledger key of one call's hold: an escrow account of its own, keyed by (task, agent, step). */
export function callHoldKey(taskId: string, agentId: string, step: string): string {
  const digest = createHash("sha256").update(step).digest("hex").slice(0, 16);
  return `llm:${taskId}:${agentId}:${digest}`;
}

/**
 * The agent's budget as the loop sees it, for one task: a hold is a ledger
 * operation moving credits into the call's own escrow account (atomic: the
 * ledger refuses a hold the balance cannot cover, so concurrent calls can
 * never overspend), a charge settles it with the fee in one operation.
 * Both are keyed by (task, agent, step): a step run again after a crash
 * reuses its open hold and is never charged twice; a step run again after
 * its hold was released (a failed call, then the task's retry) is a new
 * call, held and charged anew.
 */
export function ledgerBudget(node: NodeContext, agentId: string, taskId: string): Budget {
  const { budgets } = node;
  return {
    async hold(credits: number, request: HoldRequest): Promise<Hold> {
      const metered = budgets.has(agentId);
      // The key held under: the step's, or a new one when its hold was settled before.
      const key = await budgets.holdCall(
        agentId,
        callHoldKey(taskId, agentId, request.step),
        credits,
      );
      const held = metered ? credits : 0;
      let settled = false;
      return {
        credits: held,
        async charge(actual: number, details: ChargeDetails): Promise<number> {
          if (settled) return 0;
          settled = true;
          const settle = () =>
            budgets.settleCall(agentId, key, held, actual, {
              kind: "llm",
              step: details.step,
              model: details.model,
              modelId: details.modelId,
              inputTokens: details.inputTokens,
              outputTokens: details.outputTokens,
              cachedInputTokens: details.cachedInputTokens,
              units: details.inputTokens + details.outputTokens,
              priceVersion: details.priceVersion,
              task: taskId,
              // Marks a charge that is not (all) the usage the provider reported.
              ...(details.estimate === undefined ? {} : { estimate: details.estimate }),
              ...(details.failedAttempts === undefined
                ? {}
                : {
                    failedAttempts: details.failedAttempts,
                    failedAttemptCredits: details.failedAttemptCredits ?? 0,
                  }),
            });
          // The call was sent and paid for: a moment's store outage must not
          // fail the step, or the task's retry would send (and pay) it again.
          // The settlement is keyed by the call, so running it again is safe.
          const { signal } = request;
          return signal === undefined
            ? settle()
            : inHandlerWhileStoreUnreachable(node, { agent: agentId, id: taskId, signal }, settle);
        },
        async release(): Promise<void> {
          if (settled) return;
          settled = true;
          await budgets.releaseCall(agentId, key, held);
        },
      };
    },
  };
}

/** How a tool that is a task of another role is called: a durable child task. */
export type ChildCall = (
  role: string,
  task: string,
  input: JsonValue,
  context: ToolCallContext,
) => Promise<JsonValue>;

/**
 * The tools an agent's model may call: functions its module gives, else
 * MCP servers' tools (`files.read_file` is tool `read_file` of the server
 * `files`, offered when `llm.tools` names `mcp:files`), else the swarm's
 * tasks served by exactly one role (`search.web` is the task type
 * `search.web` of the role that lists it), each a durable child task.
 * A tool nobody serves is unknown to the model (the loop refuses before it
 * sends anything).
 */
export class SwarmTools implements ToolRunner {
  readonly #node: NodeContext;
  readonly #offered: ReadonlySet<string>;
  readonly #local: Readonly<Record<string, LocalTool>>;
  readonly #call: ChildCall;
  readonly #mcp: { readonly tools: McpTools; readonly for: McpCallFor } | undefined;

  constructor(
    node: NodeContext,
    offered: readonly string[],
    local: Readonly<Record<string, LocalTool>>,
    call: ChildCall,
    mcp?: { readonly tools: McpTools; readonly for: McpCallFor },
  ) {
    this.#node = node;
    this.#offered = new Set(offered);
    this.#local = local;
    this.#call = call;
    this.#mcp = mcp;
  }

  describe(name: string): ToolDefinition | undefined {
    if (!this.#offered.has(name)) return undefined;
    const local = this.#local[name];
    if (local !== undefined) {
      return {
        name,
        ...(local.description === undefined ? {} : { description: local.description }),
        inputSchema: local.inputSchema ?? ANY_OBJECT,
      };
    }
    const mcp = this.#mcp?.tools.describe(name);
    if (mcp !== undefined) return mcp;
    const role = this.#node.roles.listing(name);
    if (role === undefined) return undefined;
    return {
      name,
      description: `Task "${name}" of the swarm's ${role} role: send its input as a JSON object.`,
      inputSchema: ANY_OBJECT,
    };
  }

  async run(name: string, input: JsonValue, context: ToolCallContext): Promise<JsonValue> {
    const local = this.#offered.has(name) ? this.#local[name] : undefined;
    if (local !== undefined) return local.run(input, context);
    const mcp = this.#mcp;
    if (this.#offered.has(name) && mcp?.tools.describe(name) !== undefined) {
      return mcp.tools.run(name, input, context, mcp.for);
    }
    const role = this.#offered.has(name) ? this.#node.roles.listing(name) : undefined;
    if (role === undefined) throw new UnknownToolError(name, [...this.#offered]);
    return this.#call(role, name, input, context);
  }
}

/**
 * Publishes an `llm.call` or `llm.delta` record on the bus as a fan-out
 * event (`<swarm>.event.<type>`), signed by the agent, caused by its task:
 * dashboards and auditors on other nodes see every call. At most once, like
 * every event; a failure to publish is reported, never fails the call.
 */
export function publishLlmEvent(
  node: NodeContext,
  signer: Signer,
  task: Envelope,
  type: "llm.call" | "llm.delta",
  body: object,
): void {
  try {
    const { entry } = signedMessage(
      {
        swarm: node.swarm,
        clock: node.clock,
        maxEnvelopeBytes: node.limits.maxEnvelopeBytes,
        transportKind: node.transport.kind,
      },
      signer,
      { mode: "publish", subject: subjects.event(node.swarm, type), type, body, parent: task },
    );
    node.transport.publish(entry.subject, entry.data);
  } catch (error) {
    node.events.emit({ type: "error", error: `publishing ${type}: ${toError(error).message}` });
  }
}

/**
 * The loop's `onCall` (and, when the agent publishes deltas, `onDelta`)
 * for one task: each record a local event and a signed event on the bus.
 */
export function llmEventHooks(
  node: NodeContext,
  signer: Signer,
  task: Envelope,
  agentId: string,
  publishDeltas: boolean | undefined,
): Pick<LlmClientConfig, "onCall" | "onDelta"> {
  return {
    onCall: (record) => {
      node.events.emit({ type: "llm.call", agent: agentId, task: task.id, ...record });
      publishLlmEvent(node, signer, task, "llm.call", record);
    },
    ...(publishDeltas === true
      ? {
          onDelta: (delta: LlmDelta) => {
            node.events.emit({ type: "llm.delta", agent: agentId, task: task.id, ...delta });
            publishLlmEvent(node, signer, task, "llm.delta", delta);
          },
        }
      : {}),
  };
}
