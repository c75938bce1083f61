/**
 * The swarm as an MCP server: the tasks its gateway offers
 * (`gateway.expose`) are MCP tools, so a desktop assistant or an IDE can
 * delegate work to the swarm and get the results back.
 *
 * - Tool `<role>.<task>` starts that task through the front door (signed by
 *   `gateway.as`, escrowed, approved by the council when privileged, the
 *   caller recorded in its envelope) and waits up to `gateway.waitMs` for
 *   it: its result, its failure (`isError`), or its id and that it still
 *   runs.
 * - Tool `conclave.task_status` (`{ taskId }`) tells where a task stands, so
 *   a client picks up a long task later.
 *
 * Served over stdio (the caller is the local process, named `stdio`) or
 * streamable HTTP ({@link serveMcpHttp}): stateless, one MCP server per
 * request, each request through the {@link HttpGuard} (bearer token or
 * client certificate, rate, body size) before the SDK sees it.
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { checkListenAddress, listenOn } from "../core/listen.js";
import { ConclaveError, toError } from "../errors/index.js";
import { NotExposedError } from "../errors/interop.js";
import {
  type FrontDoor,
  type OfferedTask,
  type OutsideTaskState,
  taskIdProblem,
} from "./front-door.js";
import { HttpGuard, readPem, refuse } from "./http-guard.js";

/** The tool that tells where a task started earlier stands. */
export const TASK_STATUS_TOOL = "conclave.task_status";

/**
 * The longest a tool call waits for its task, whatever `gateway.waitMs`
 * says: MCP clients give up on a request after 60 s by default (the SDK's
 * and most desktop clients'), so a longer task answers with its id before
 * then, and the client picks it up with {@link TASK_STATUS_TOOL}.
 */
export const MCP_WAIT_LIMIT_MS = 50_000;

/** What the caller of a stdio server is recorded as: the local process that started it. */
export const STDIO_CALLER = "stdio";

const INPUT_SCHEMA: Tool["inputSchema"] = {
  type: "object",
  properties: {
    input: {
      description:
        "The task's input, any JSON value. Without it, the arguments object itself is the input.",
    },
  },
  additionalProperties: true,
};

const STATUS_SCHEMA: Tool["inputSchema"] = {
  type: "object",
  properties: {
    taskId: { type: "string", description: "The id a tool call answered with." },
  },
  required: ["taskId"],
  additionalProperties: false,
};

/** The MCP tools of a front door: its offered tasks, and the status tool. */
function tools(door: FrontDoor): Tool[] {
  return [
    ...door.offered().map(
      (offered): Tool => ({
        name: offered.name,
        description: offered.privileged
          ? `${offered.description} Privileged: the swarm's council votes before it runs.`
          : offered.description,
        inputSchema: INPUT_SCHEMA,
      }),
    ),
    {
      name: TASK_STATUS_TOOL,
      description: `Where a task started by one of the ${door.swarmName} swarm's tools stands: working, completed with its result, or failed with the reason.`,
      inputSchema: STATUS_SCHEMA,
    },
  ];
}

/** The task's input: `{ input: x }` alone is `x` (so any JSON can be sent), else the arguments. */
function taskInput(args: Record<string, unknown> | undefined): unknown {
  if (args === undefined) return {};
  const keys = Object.keys(args);
  return keys.length === 1 && keys[0] === "input" ? args["input"] : args;
}

/** A task's state as a tool result: text for a person or a model, structured content for a program. */
function stateResult(state: OutsideTaskState): CallToolResult {
  switch (state.state) {
    case "completed": {
      const text =
        typeof state.result === "string" ? state.result : JSON.stringify(state.result ?? null);
      return {
        content: [{ type: "text", text }],
        structuredContent: { taskId: state.taskId, state: "completed", result: state.result },
      };
    }
    case "failed":
      return {
        content: [{ type: "text", text: `task ${state.taskId} failed: ${state.reason}` }],
        structuredContent: { taskId: state.taskId, state: "failed", reason: state.reason },
        isError: true,
      };
    case "working":
      return {
        content: [
          {
            type: "text",
            text: `task ${state.taskId} is still running; call ${TASK_STATUS_TOOL} with { "taskId": "${state.taskId}" } later for its result`,
          },
        ],
        structuredContent: { taskId: state.taskId, state: "working" },
      };
  }
}

/** A refusal the model or person calling should read: the error's code and message. */
function refusal(error: unknown): CallToolResult {
  const text =
    error instanceof ConclaveError
      ? `${error.code}: ${error.message}`
      : `E_INTERNAL: the swarm failed to run the task (${toError(error).message})`;
  return { content: [{ type: "text", text }], isError: true };
}

/**
 * An MCP server whose tools are the front door's offered tasks, answering
 * for `caller` (recorded in every task it starts).
 *
 * @example
 * ```ts
 * const server = createSwarmMcpServer(createFrontDoor(swarm, config), "stdio");
 * await server.connect(new StdioServerTransport());
 * ```
 */
export function createSwarmMcpServer(door: FrontDoor, caller: string): McpServer {
  const server = new McpServer(
    { name: `conclave-${door.swarmName}`, version: "0.1.0" },
    {
      capabilities: { tools: {} },
      instructions:
        door.swarmDescription ??
        `Delegate work to the ${door.swarmName} swarm: each tool starts one of its tasks and answers with the result.`,
    },
  );
  // The handlers are set on the protocol server itself: the tools' schemas are
  // JSON Schema (a task's input is any JSON), and an unknown tool is answered
  // with the offered ones.
  server.server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: tools(door) }));
  server.server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const { name, arguments: args } = request.params;
    if (name === TASK_STATUS_TOOL) {
      const taskId = args?.["taskId"];
      if (typeof taskId !== "string" || taskId === "") {
        throw new McpError(ErrorCode.InvalidParams, `${TASK_STATUS_TOOL} needs { "taskId": "…" }`);
      }
      // The schema allows nothing else (additionalProperties: false): say so rather than ignore it.
      const extra = Object.keys(args ?? {}).filter((key) => key !== "taskId");
      if (extra.length > 0) {
        throw new McpError(
          ErrorCode.InvalidParams,
          `${TASK_STATUS_TOOL} takes { "taskId": "…" } only; remove ${extra
            .slice(0, 5)
            .map((k) => JSON.stringify(k.slice(0, 64)))
            .join(", ")}${extra.length > 5 ? ` and ${extra.length - 5} more` : ""}`,
        );
      }
      const problem = taskIdProblem(taskId);
      if (problem !== undefined) throw new McpError(ErrorCode.InvalidParams, problem);
      return stateResult(await door.state(taskId));
    }
    let offered: OfferedTask;
    try {
      offered = door.find(name);
    } catch (error) {
      if (error instanceof NotExposedError) {
        throw new McpError(
          ErrorCode.InvalidParams,
          `no tool "${name}"; the ${door.swarmName} swarm offers: ${[...error.offered, TASK_STATUS_TOOL].join(", ")}`,
        );
      }
      throw error;
    }
    let taskId: string;
    try {
      taskId = await door.start({ name: caller, via: "mcp" }, offered, taskInput(args));
    } catch (error) {
      return refusal(error);
    }
    const timeoutMs = Math.min(door.gateway.waitMs, MCP_WAIT_LIMIT_MS);
    return stateResult(await door.waitStarted(taskId, { timeoutMs, signal: extra.signal }));
  });
  return server;
}

/** Where {@link serveMcpHttp} listens. */
export interface McpHttpOptions {
  /** Default `gateway.host` (127.0.0.1 unless the file says otherwise). */
  readonly host?: string;
  /** Default `gateway.port`; 0 picks a free port. */
  readonly port?: number;
  /** Receives failures that are not the caller's (the SDK's, the swarm's). */
  readonly onError?: (error: Error) => void;
}

/** A running streamable HTTP MCP endpoint. */
export interface McpHttpServer {
  /** The endpoint, e.g. `http://127.0.0.1:8470/mcp`. */
  readonly url: string;
  close(): Promise<void>;
}

/** Path of the MCP endpoint. */
export const MCP_PATH = "/mcp";

/**
 * Serves the front door's tools over MCP streamable HTTP at `/mcp`, over
 * HTTPS with client certificates when the gateway has `tls`. Each request is
 * admitted by the guard first (401, 429, 413 before the SDK reads it); the
 * caller's name goes into every task it starts.
 */
export async function serveMcpHttp(
  door: FrontDoor,
  options: McpHttpOptions = {},
): Promise<McpHttpServer> {
  const gateway = door.gateway;
  const guard = new HttpGuard(gateway);
  const onError = options.onError ?? (() => undefined);
  const handle = (request: IncomingMessage, response: ServerResponse) => {
    serveRequest(door, guard, request, response).catch((error: unknown) => {
      onError(toError(error));
      refuse(response, error);
    });
  };
  const tls = gateway.tls;
  const server =
    tls === undefined
      ? createHttpServer(handle)
      : createHttpsServer(
          {
            cert: await readPem(tls.cert, "cert"),
            key: await readPem(tls.key, "key"),
            ca: await readPem(tls.ca, "ca"),
            requestCert: true,
            rejectUnauthorized: true,
          },
          handle,
        );
  const port = options.port ?? gateway.port;
  const host = checkListenAddress("MCP server", port, options.host ?? gateway.host);
  await listenOn(server, port, host, "MCP");
  const bound = (server.address() as AddressInfo).port;
  const shown = host.includes(":") ? `[${host}]` : host;
  return {
    url: `${tls === undefined ? "http" : "https"}://${shown}:${bound}${MCP_PATH}`,
    close: () =>
      new Promise<void>((closed) => {
        server.closeAllConnections();
        server.close(() => closed());
      }),
  };
}

async function serveRequest(
  door: FrontDoor,
  guard: HttpGuard,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const path = new URL(request.url ?? "/", "http://localhost").pathname;
  if (path !== MCP_PATH) {
    response.writeHead(404, { "content-type": "application/json" }).end(
      JSON.stringify({
        error: { code: "E_NOT_FOUND", message: `the MCP endpoint is ${MCP_PATH}` },
      }),
    );
    return;
  }
  let caller: string;
  let body: unknown;
  try {
    caller = guard.admit(request);
    if (request.method !== "POST") {
      // Stateless: no session, so no stream to resume (GET) or session to end (DELETE).
      response.writeHead(405, { allow: "POST", "content-type": "application/json" }).end(
        JSON.stringify({
          jsonrpc: "2.0",
          error: {
            code: ErrorCode.ConnectionClosed,
            message: "this server is stateless: POST only",
          },
          id: null,
        }),
      );
      return;
    }
    const raw = await guard.body(request);
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch {
      response.writeHead(400, { "content-type": "application/json" }).end(
        JSON.stringify({
          jsonrpc: "2.0",
          error: { code: ErrorCode.ParseError, message: "the body is not JSON" },
          id: null,
        }),
      );
      return;
    }
    // A batch is as many calls as it has messages (the SDK's transport takes up to 100 in one POST).
    if (Array.isArray(body)) guard.countMore(caller, body.length - 1);
  } catch (error) {
    refuse(response, error);
    return;
  }
  const server = createSwarmMcpServer(door, caller);
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  });
  response.on("close", () => {
    void transport.close().catch(() => undefined);
    void server.close().catch(() => undefined);
  });
  await server.connect(transport);
  await transport.handleRequest(request, response, body);
}
