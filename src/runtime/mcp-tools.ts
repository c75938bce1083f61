/**
 * MCP servers' tools for a node's LLM agents. The node connects to the
 * servers its agents name (`mcp:<server>` or `mcp:<server>/<tool>` in
 * `llm.tools`) when it starts, lists their tools once (name, description,
 * input schema: what the model is offered), and closes them when it stops.
 *
 * A call is one tool step of the agent's loop: the loop journals its result,
 * so a redelivered task replays it and the server is not called again. Its
 * cost (`mcp.<server>.costs`) is held from the agent's budget before the
 * call and charged after it, keyed by (task, agent, step): a step run again
 * after a crash is never charged twice.
 *
 * The model knows a tool as `<server>.<tool>` (the loop turns the name into
 * one providers accept, e.g. `files_read_file`).
 *
 * The SDK is imported when the first server connects, so a node without MCP
 * servers never loads it.
 */
import { createHash } from "node:crypto";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { McpServerConfig } from "../config/mcp.js";
import { parseMcpToolReference } from "../config/mcp.js";
import { ConfigError, toError } from "../errors/index.js";
import {
  McpCallFailedError,
  McpServerUnavailableError,
  McpToolNotFoundError,
} from "../errors/mcp.js";
import type {
  GenerateOptions,
  JsonSchema,
  LlmClient,
  ToolCallContext,
  ToolDefinition,
} from "../llm/ports.js";
import type { JsonValue } from "../wire/json-value.js";
import type { Budgets } from "./budget.js";

/** One tool of an MCP server, as listed when the node started. */
interface ListedTool {
  /** `<server>.<tool>`: the name the agent's loop and the model know it by. */
  readonly name: string;
  readonly server: string;
  /** The tool's own name on its server. */
  readonly tool: string;
  readonly definition: ToolDefinition;
  /**
   * Why an input is outside the tool's input schema, or undefined when it
   * is not; absent when the schema could not be compiled (the server judges).
   */
  readonly check?: (args: Record<string, unknown>) => string | undefined;
}

interface Connection {
  readonly config: McpServerConfig;
  client: Client | undefined;
  /** A connection under way: concurrent calls to a server that went away share one reconnect. */
  connecting: Promise<Client> | undefined;
  tools: readonly ListedTool[];
}

/** Who a call is made for: its cost is charged to the agent, keyed by the task's step. */
export interface McpCallFor {
  readonly budgets: Budgets;
  readonly agentId: string;
  readonly taskId: string;
}

/** What {@link McpTools} connects to and checks. */
export interface McpToolsConfig {
  /** The servers of the swarm file's `mcp:` section. */
  readonly servers: Readonly<Record<string, McpServerConfig>>;
  /**
   * The `mcp:` entries of the hosted agents' `llm.tools`: only their servers
   * are connected, and each named tool is checked to exist.
   */
  readonly references: readonly string[];
  /** How this node introduces itself to the servers. */
  readonly clientName?: string;
}

const ANY_OBJECT: JsonSchema = Object.freeze({ type: "object" });

/** Pages of `tools/list` read from one server before its listing is taken to never end. */
const MAX_TOOL_PAGES = 1000;

/** The ledger key of one MCP call's hold: (task, agent, step), like a model call's. */
export function mcpHoldKey(taskId: string, agentId: string, step: string): string {
  const digest = createHash("sha256").update(step).digest("hex").slice(0, 16);
  return `mcp:${taskId}:${agentId}:${digest}`;
}

/**
 * The MCP tools of one node.
 *
 * @example
 * ```ts
 * const mcp = new McpTools({ servers: config.mcp, references: ["mcp:files"] });
 * const swarm = createSwarm({ ...nodeConfig, mcp });
 * swarm.agent({ id: "a", role: "r", llm: { settings: { model: "m", tools: ["mcp:files"] } } });
 * ```
 */
export class McpTools {
  readonly #config: McpToolsConfig;
  readonly #connections = new Map<string, Connection>();
  readonly #byName = new Map<string, ListedTool>();
  #started = false;
  #closed = false;

  constructor(config: McpToolsConfig) {
    this.#config = config;
    for (const reference of config.references) {
      const parsed = parseMcpToolReference(reference);
      if (parsed === undefined) {
        throw new ConfigError(
          `"${reference}" is not an MCP tool; write mcp:<server> or mcp:<server>/<tool>`,
        );
      }
      const server = config.servers[parsed.server];
      if (server === undefined) {
        throw new ConfigError(
          `no MCP server "${parsed.server}" is declared; declare it under mcp: in the swarm file`,
        );
      }
      this.#connections.set(parsed.server, {
        config: server,
        client: undefined,
        connecting: undefined,
        tools: [],
      });
    }
  }

  /** The servers this node connects to. */
  get servers(): readonly string[] {
    return [...this.#connections.keys()];
  }

  /**
   * Connects to every named server and lists its tools; checks that each
   * `mcp:<server>/<tool>` names a tool the server offers. Idempotent.
   * @throws McpServerUnavailableError, McpToolNotFoundError
   */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await Promise.all([...this.#connections.values()].map((c) => this.#connect(c)));
    // A misspelt tool in costs would make the tool free without a word.
    for (const { config, tools } of this.#connections.values()) {
      for (const tool of Object.keys(config.costs)) {
        if (!tools.some((t) => t.tool === tool)) {
          throw new McpToolNotFoundError(
            config.name,
            tool,
            tools.map((t) => t.tool),
            `mcp.${config.name}.costs in the swarm file`,
          );
        }
      }
    }
    for (const reference of this.#config.references) {
      const parsed = parseMcpToolReference(reference);
      if (parsed?.tool === undefined) continue;
      const connection = this.#connections.get(parsed.server);
      const tools = connection?.tools ?? [];
      if (!tools.some((t) => t.tool === parsed.tool)) {
        throw new McpToolNotFoundError(
          parsed.server,
          parsed.tool,
          tools.map((t) => t.tool),
        );
      }
    }
  }

  /**
   * `llm.tools` with each `mcp:` entry replaced by the names of the tools it
   * stands for (`mcp:files` → `files.read_file`, `files.list_dir`…); other
   * entries unchanged. Call after `start`.
   */
  expand(tools: readonly string[]): string[] {
    const expanded: string[] = [];
    for (const entry of tools) {
      const parsed = parseMcpToolReference(entry);
      if (parsed === undefined) {
        expanded.push(entry);
        continue;
      }
      const listed = this.#connections.get(parsed.server)?.tools ?? [];
      for (const t of listed) {
        if (parsed.tool !== undefined && t.tool !== parsed.tool) continue;
        if (!expanded.includes(t.name)) expanded.push(t.name);
      }
    }
    return expanded;
  }

  /** The definition offered to the model for `<server>.<tool>`, or undefined. */
  describe(name: string): ToolDefinition | undefined {
    return this.#byName.get(name)?.definition;
  }

  /**
   * Calls tool `name` (`<server>.<tool>`) with `input`, for `who`: holds the
   * tool's cost from the agent's budget first (failing closed), charges it
   * once the server answered, releases it if the call failed. A result the
   * server marks `isError` resolves as `{ error: "…" }`, which the model
   * sees; a call that fails on the way throws `McpCallFailedError` (the task
   * is retried).
   */
  async run(
    name: string,
    input: JsonValue,
    context: ToolCallContext,
    who: McpCallFor,
  ): Promise<JsonValue> {
    const listed = this.#byName.get(name);
    if (listed === undefined) {
      throw new ConfigError(`no MCP tool "${name}" is listed on this node`);
    }
    const connection = this.#connections.get(listed.server) as Connection;
    const args = toolArguments(input);
    // A call the tool's schema refuses (a model's malformed input) goes back
    // to the model to correct: nothing is held, sent, or charged for it.
    const problem = listed.check?.(args);
    if (problem !== undefined) {
      return { error: `the input does not match ${name}'s input schema: ${problem}` };
    }
    const cost = connection.config.costs[listed.tool] ?? 0;
    // Throws InsufficientCreditsError / AgentHaltedError before anything is sent.
    const key = await who.budgets.holdCall(
      who.agentId,
      mcpHoldKey(who.taskId, who.agentId, context.step),
      cost,
    );
    const held = who.budgets.has(who.agentId) ? cost : 0;
    let result: JsonValue;
    try {
      result = await this.#call(connection, listed.tool, args, context.signal);
    } catch (error) {
      await who.budgets.releaseCall(who.agentId, key, held).catch(() => undefined);
      throw error;
    }
    await who.budgets.settleCall(who.agentId, key, held, cost, {
      kind: "mcp",
      server: listed.server,
      tool: listed.tool,
      step: context.step,
      task: who.taskId,
      units: 1,
    });
    return result;
  }

  /** Closes every connection (stdio servers exit). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(
      [...this.#connections.values()].map(async (c) => {
        const client = c.client ?? (await c.connecting?.catch(() => undefined));
        c.client = undefined;
        await client?.close().catch(() => undefined);
      }),
    );
  }

  async #call(
    connection: Connection,
    tool: string,
    args: Record<string, unknown>,
    signal: AbortSignal | undefined,
  ): Promise<JsonValue> {
    const { config } = connection;
    try {
      // Closed (the swarm is stopping): no server is started again, as nothing would close it.
      if (this.#closed) throw new Error("the node has closed its MCP connections");
      // A server that went away (a stdio child that exited) is reached again once.
      const client = connection.client ?? (await this.#connect(connection));
      // Closed while this call waited to reconnect (the swarm is stopping).
      if (this.#closed) throw new Error("the node is closing its MCP connections");
      const answer = await client.callTool({ name: tool, arguments: args }, undefined, {
        timeout: config.timeoutMs,
        ...(signal === undefined ? {} : { signal }),
      });
      return toolResult(answer as CallToolAnswer);
    } catch (cause) {
      if (cause instanceof McpServerUnavailableError) throw cause;
      throw new McpCallFailedError(config.name, tool, { cause: toError(cause) });
    }
  }

  #connect(connection: Connection): Promise<Client> {
    connection.connecting ??= this.#open(connection).finally(() => {
      connection.connecting = undefined;
    });
    return connection.connecting;
  }

  async #open(connection: Connection): Promise<Client> {
    const { config } = connection;
    const endpoint =
      config.transport === "stdio" ? [config.command, ...config.args].join(" ") : config.url;
    let client: Client | undefined;
    try {
      const [{ Client }, { AjvJsonSchemaValidator }, transport] = await Promise.all([
        import("@modelcontextprotocol/sdk/client/index.js"),
        import("@modelcontextprotocol/sdk/validation/ajv"),
        openTransport(config),
      ]);
      // One per connection: schemas cached by $id stay the server's own.
      const validator = new AjvJsonSchemaValidator();
      client = new Client({ name: this.#config.clientName ?? "conclave", version: "0.1.0" });
      await client.connect(transport);
      const opened = client;
      client.onclose = () => {
        if (connection.client === opened) connection.client = undefined;
      };
      const tools: ListedTool[] = [];
      let cursor: string | undefined;
      // A server whose listing never ends (a cursor it names again, or pages
      // without end) must not hold the start, or grow the list, for ever.
      const cursors = new Set<string>();
      do {
        if (cursor !== undefined) {
          if (cursors.has(cursor)) {
            throw new Error(`its tools/list names cursor "${cursor.slice(0, 40)}" again`);
          }
          if (cursors.size >= MAX_TOOL_PAGES) {
            throw new Error(`its tools/list did not end after ${MAX_TOOL_PAGES} pages`);
          }
          cursors.add(cursor);
        }
        const page = await client.listTools(cursor === undefined ? {} : { cursor });
        for (const t of page.tools) {
          const inputSchema = (t.inputSchema as JsonSchema | undefined) ?? ANY_OBJECT;
          const check = schemaCheck(validator, inputSchema);
          tools.push({
            name: `${config.name}.${t.name}`,
            server: config.name,
            tool: t.name,
            definition: {
              name: `${config.name}.${t.name}`,
              description: t.description ?? `Tool "${t.name}" of the MCP server ${config.name}.`,
              inputSchema,
            },
            ...(check === undefined ? {} : { check }),
          });
        }
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      connection.client = client;
      connection.tools = tools;
      for (const t of tools) this.#byName.set(t.name, t);
      return client;
    } catch (cause) {
      // Connected but unusable (its tools could not be listed): closed, so a
      // stdio server does not outlive the failed start as an orphan.
      await client?.close().catch(() => undefined);
      throw new McpServerUnavailableError(config.name, endpoint, { cause: toError(cause) });
    }
  }
}

/**
 * `client` with `mcp:` entries of a call's `tools` expanded too, so
 * `ctx.llm.generate({ tools: ["mcp:files"] })` offers the server's tools
 * (those the agent's `llm.tools` allow).
 */
export function withMcpToolNames(client: LlmClient, mcp: McpTools): LlmClient {
  const expand = (options: GenerateOptions): GenerateOptions =>
    options.tools === undefined ? options : { ...options, tools: mcp.expand(options.tools) };
  return {
    generate: (options) => client.generate(expand(options)),
    stream: (options) => client.stream(expand(options)),
  };
}

async function openTransport(config: McpServerConfig) {
  if (config.transport === "stdio") {
    const { StdioClientTransport, getDefaultEnvironment } = await import(
      "@modelcontextprotocol/sdk/client/stdio.js"
    );
    return new StdioClientTransport({
      command: config.command,
      args: [...config.args],
      // Only the SDK's safe defaults (PATH, HOME…) are inherited: no secrets of this process.
      env: { ...getDefaultEnvironment(), ...config.env },
      ...(config.cwd === undefined ? {} : { cwd: config.cwd }),
      // The child's log goes to this process's stderr, never its stdout (an MCP stdio server's channel).
      stderr: "inherit",
    });
  }
  const { StreamableHTTPClientTransport } = await import(
    "@modelcontextprotocol/sdk/client/streamableHttp.js"
  );
  return new StreamableHTTPClientTransport(new URL(config.url), {
    ...(config.token === undefined
      ? {}
      : { requestInit: { headers: { authorization: `Bearer ${config.token}` } } }),
  });
}

/** A call's arguments: an object input as it is, anything else as `{ input }`. */
function toolArguments(input: JsonValue): Record<string, unknown> {
  return typeof input === "object" && input !== null && !Array.isArray(input) ? input : { input };
}

type SchemaValidator = import("@modelcontextprotocol/sdk/validation/ajv").AjvJsonSchemaValidator;

/**
 * The check of a tool's input schema, or undefined when the schema cannot
 * be compiled (a dialect or keyword the validator does not know): then the
 * server alone judges its input, as it would anyway.
 */
function schemaCheck(
  validator: SchemaValidator,
  schema: JsonSchema,
): ((args: Record<string, unknown>) => string | undefined) | undefined {
  try {
    const validate = validator.getValidator(
      schema as Parameters<SchemaValidator["getValidator"]>[0],
    );
    return (args) => {
      const result = validate(args);
      return result.valid ? undefined : result.errorMessage;
    };
  } catch {
    return undefined;
  }
}

/** What `callTool` resolves with, as far as it is read here. */
interface CallToolAnswer {
  readonly content?: readonly {
    readonly type: string;
    readonly text?: string;
    readonly mimeType?: string;
  }[];
  readonly structuredContent?: Record<string, unknown>;
  readonly isError?: boolean;
  readonly toolResult?: unknown;
}

/**
 * The JSON the model sees: the structured content when the tool gives one,
 * else its text contents joined (other content is named, not inlined); a
 * tool error as `{ error: text }`.
 */
function toolResult(answer: CallToolAnswer): JsonValue {
  const text = (answer.content ?? [])
    .map((c) =>
      c.type === "text" ? (c.text ?? "") : `[${c.type}${c.mimeType ? ` ${c.mimeType}` : ""}]`,
    )
    .join("\n");
  if (answer.isError === true) return { error: text || "the tool failed" };
  if (answer.structuredContent !== undefined) return answer.structuredContent as JsonValue;
  // A server on the 2024-10-07 protocol answers with toolResult.
  if (answer.content === undefined && answer.toolResult !== undefined) {
    return answer.toolResult as JsonValue;
  }
  return text;
}
