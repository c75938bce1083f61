/**
 * An outside A2A agent for the tests, built from the SDK's own server parts
 * (`DefaultRequestHandler`, `InMemoryTaskStore`, `JsonRpcTransportHandler`)
 * and an `AgentExecutor`, served over node:http on 127.0.0.1 (the SDK's
 * Express adapter would need express's types, which the project lacks).
 * It records the requests it gets, and can be told to fail with HTTP 500.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { AgentCard, formatSSEEvent, type Message, SSE_HEADERS, TaskState } from "@a2a-js/sdk";
import { LegacyJsonRpcTransportHandler } from "@a2a-js/sdk/compat/v0_3/server";
import {
  AgentEvent,
  type AgentExecutor,
  DefaultRequestHandler,
  InMemoryTaskStore,
  JsonRpcTransportHandler,
  ServerCallContext,
} from "@a2a-js/sdk/server";

export interface RemoteAgent {
  readonly cardUrl: string;
  /** Each JSON-RPC request: its method, its Authorization header and (for messages) the message. */
  readonly requests: { method: string; authorization?: string; message?: unknown }[];
  /** While set, every JSON-RPC request is answered with this HTTP status. */
  failWith: number | undefined;
  close(): Promise<void>;
}

/** What the agent does with a message: its answer (data), or a reason to fail the task. */
export type Answer = (
  message: Message,
) => { readonly data: unknown; readonly cost?: number } | { readonly fail: string };

/**
 * Starts the agent on 127.0.0.1. With `legacy`, it speaks only A2A v0.3 (a
 * v0.3 card, `message/send`), as agents not yet on v1.0 do.
 */
export async function startRemoteAgent(
  answer: Answer,
  options: { readonly legacy?: boolean } = {},
): Promise<RemoteAgent> {
  const executor: AgentExecutor = {
    async execute(context, bus) {
      const { taskId, contextId } = context;
      const now = () => new Date().toISOString();
      const reply = answer(context.userMessage);
      bus.publish(
        AgentEvent.task({
          id: taskId,
          contextId,
          status: { state: TaskState.TASK_STATE_WORKING, message: undefined, timestamp: now() },
          artifacts: [],
          history: [context.userMessage],
          metadata: "cost" in reply && reply.cost !== undefined ? { cost: reply.cost } : undefined,
        }),
      );
      if ("fail" in reply) {
        bus.publish(
          AgentEvent.statusUpdate({
            taskId,
            contextId,
            status: { state: TaskState.TASK_STATE_FAILED, message: undefined, timestamp: now() },
            metadata: { reason: reply.fail },
          }),
        );
      } else {
        bus.publish(
          AgentEvent.artifactUpdate({
            taskId,
            contextId,
            artifact: {
              artifactId: `${taskId}-answer`,
              name: "answer",
              description: "",
              parts: [
                {
                  content: { $case: "data", value: reply.data },
                  metadata: undefined,
                  filename: "",
                  mediaType: "",
                },
              ],
              metadata: undefined,
              extensions: [],
            },
            append: false,
            lastChunk: true,
            metadata: undefined,
          }),
        );
        bus.publish(
          AgentEvent.statusUpdate({
            taskId,
            contextId,
            status: { state: TaskState.TASK_STATE_COMPLETED, message: undefined, timestamp: now() },
            metadata: undefined,
          }),
        );
      }
      bus.finished();
    },
    async cancelTask() {},
  };
  let base = "";
  const card = (): AgentCard => ({
    name: "outside translator",
    description: "An A2A agent outside the swarm.",
    supportedInterfaces: [
      { url: `${base}/rpc`, protocolBinding: "JSONRPC", tenant: "", protocolVersion: "1.0" },
    ],
    provider: undefined,
    version: "1.0.0",
    capabilities: { streaming: false, pushNotifications: false, extensions: [] },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ["application/json"],
    defaultOutputModes: ["application/json"],
    skills: [],
    signatures: [],
  });
  const handler = new DefaultRequestHandler(card(), new InMemoryTaskStore(), executor);
  const transport = options.legacy
    ? new LegacyJsonRpcTransportHandler(handler)
    : new JsonRpcTransportHandler(handler);
  const legacyCard = () => ({
    protocolVersion: "0.3.0",
    name: "outside translator (v0.3)",
    description: "An A2A v0.3 agent outside the swarm.",
    url: `${base}/rpc`,
    preferredTransport: "JSONRPC",
    version: "0.3.0",
    capabilities: { streaming: false },
    defaultInputModes: ["application/json"],
    defaultOutputModes: ["application/json"],
    skills: [],
  });
  const agent: RemoteAgent = {
    cardUrl: "",
    requests: [],
    failWith: undefined,
    close: async () => {},
  };
  const server = createServer((request, response) => {
    void (async () => {
      if (request.method === "GET" && request.url === "/.well-known/agent-card.json") {
        response.writeHead(200, { "content-type": "application/json" });
        response.end(JSON.stringify(options.legacy ? legacyCard() : AgentCard.toJSON(card())));
        return;
      }
      const body = JSON.parse(await text(request)) as {
        method: string;
        params?: { message?: unknown };
      };
      const message = body.params?.message;
      agent.requests.push({
        method: body.method,
        ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}),
        ...(message ? { message } : {}),
      });
      if (agent.failWith !== undefined) {
        response.writeHead(agent.failWith).end("down for maintenance");
        return;
      }
      const answer = await transport.handle(
        body,
        new ServerCallContext({ requestedVersion: "1.0" }),
      );
      if (Symbol.asyncIterator in answer) {
        response.writeHead(200, SSE_HEADERS);
        for await (const event of answer) response.write(formatSSEEvent(event));
        response.end();
        return;
      }
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
    })().catch((error: unknown) => {
      response.writeHead(500).end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(agent, {
    cardUrl: `${base}/.well-known/agent-card.json`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
}

async function text(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
