/**
 * A local OpenAI-compatible server for tests and benchmarks: real HTTP on
 * loopback (node:http, a free port), so the AI SDK's providers run their
 * whole path — request building, fetch, response parsing, SSE streaming.
 *
 * - `POST /v1/chat/completions`, plain or streamed (`stream: true`: SSE
 *   chunks in OpenAI's format, a usage chunk when
 *   `stream_options.include_usage` is set, then `data: [DONE]`), with text,
 *   tool calls and `usage` (including `prompt_tokens_details.cached_tokens`).
 * - `GET /v1/models`.
 * - Each answer is scripted: queued with `reply(...)` (first in, first out),
 *   else computed by the function given to `respond(...)` or at start, else
 *   a default text answer. Scripts can also fail: `httpError(429, { retryAfter: "2" })`,
 *   `httpError(500)`, `malformed()` (a 200 whose body is not JSON), and any
 *   answer can be slow (`delayMs`).
 * - Every chat request is counted and kept (`requests`), in arrival order,
 *   so tests assert how many calls were really made and what they carried.
 *
 * @example
 * ```ts
 * const server = await startOpenAiServer();
 * server.reply(httpError(429, { retryAfter: "1" }), answer("hello"));
 * // ... point a provider at server.url ...
 * assert.equal(server.requests.length, 2);
 * await server.close();
 * ```
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** What a chat completion request carried. */
export interface ChatRequest {
  /** 0-based arrival order. */
  readonly index: number;
  readonly headers: IncomingHttpHeaders;
  /** The parsed JSON body: model, messages, tools, tool_choice, stream, response_format… */
  readonly body: ChatRequestBody;
}

export interface ChatRequestBody {
  readonly model?: string;
  readonly messages?: readonly { role: string; content?: unknown; tool_call_id?: string }[];
  readonly tools?: readonly { function: { name: string } }[];
  readonly tool_choice?: unknown;
  readonly stream?: boolean;
  readonly stream_options?: { include_usage?: boolean };
  readonly response_format?: unknown;
  readonly max_tokens?: number;
  readonly max_completion_tokens?: number;
  readonly [key: string]: unknown;
}

/** Token counts of an answer; defaults: 10 prompt, 5 completion, 0 cached. */
export interface ScriptedUsage {
  readonly prompt?: number;
  readonly completion?: number;
  readonly cached?: number;
}

export interface ScriptedToolCall {
  readonly id?: string;
  readonly name: string;
  /** A JSON string as the model would send it, or a value to serialise. */
  readonly arguments?: string | unknown;
}

/** One scripted reply. */
export type ScriptedReply =
  | {
      readonly kind: "answer";
      readonly text?: string;
      readonly toolCalls?: readonly ScriptedToolCall[];
      readonly usage?: ScriptedUsage;
      /** Default: `tool_calls` when there are tool calls, else `stop`. */
      readonly finishReason?: string;
      readonly delayMs?: number;
    }
  | {
      readonly kind: "error";
      readonly status: number;
      readonly retryAfter?: string;
      readonly headers?: Readonly<Record<string, string>>;
      readonly message?: string;
      readonly delayMs?: number;
    }
  | { readonly kind: "malformed"; readonly delayMs?: number };

export type Responder = (request: ChatRequest) => ScriptedReply | Promise<ScriptedReply>;

/** A text answer (plus options). */
export function answer(
  text: string,
  options: { usage?: ScriptedUsage; delayMs?: number; finishReason?: string } = {},
): ScriptedReply {
  return { kind: "answer", text, ...options };
}

/** An answer that calls tools (and may say something too). */
export function toolCalls(
  calls: readonly ScriptedToolCall[],
  options: { text?: string; usage?: ScriptedUsage; delayMs?: number } = {},
): ScriptedReply {
  return { kind: "answer", toolCalls: calls, ...options };
}

/** An HTTP error, e.g. 429 with `Retry-After`, or 500. */
export function httpError(
  status: number,
  options: { retryAfter?: string; headers?: Record<string, string>; delayMs?: number } = {},
): ScriptedReply {
  return { kind: "error", status, ...options };
}

/** A 200 whose body is not JSON. */
export function malformed(): ScriptedReply {
  return { kind: "malformed" };
}

export interface OpenAiServer {
  /** Base URL for a provider, e.g. `http://127.0.0.1:40123/v1`. */
  readonly url: string;
  /** Chat completion requests received so far, in arrival order. */
  readonly requests: readonly ChatRequest[];
  /** Queues replies, used before any responder, first in first out. */
  reply(...replies: ScriptedReply[]): void;
  /** Sets the function that answers when the queue is empty. */
  respond(responder: Responder): void;
  /** Stops listening and drops open connections (pending delayed answers are abandoned). */
  close(): Promise<void>;
}

export interface OpenAiServerOptions {
  /** Answers when nothing is queued. Default: `answer("ok")`. */
  readonly responder?: Responder;
  /** Model ids listed by `/v1/models`. Default `["test-model"]`. */
  readonly models?: readonly string[];
}

export async function startOpenAiServer(options: OpenAiServerOptions = {}): Promise<OpenAiServer> {
  const requests: ChatRequest[] = [];
  const queue: ScriptedReply[] = [];
  let responder: Responder = options.responder ?? (() => answer("ok"));
  const models = options.models ?? ["test-model"];
  const timers = new Set<NodeJS.Timeout>();
  let sequence = 0;

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const path = (req.url ?? "").split("?")[0];
      if (req.method === "GET" && path === "/v1/models") {
        sendJson(res, 200, {
          object: "list",
          data: models.map((id) => ({ id, object: "model", created: 0, owned_by: "test" })),
        });
        return;
      }
      if (req.method !== "POST" || path !== "/v1/chat/completions") {
        sendJson(res, 404, { error: { message: `no route ${req.method} ${path}` } });
        return;
      }
      let body: ChatRequestBody;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as ChatRequestBody;
      } catch {
        sendJson(res, 400, { error: { message: "request body is not JSON" } });
        return;
      }
      const request: ChatRequest = { index: requests.length, headers: req.headers, body };
      requests.push(request);
      void Promise.resolve(queue.shift() ?? responder(request)).then((reply) => {
        const send = () => {
          if (!res.destroyed) write(res, reply, body, `chatcmpl-${++sequence}`);
        };
        const delay = reply.delayMs ?? 0;
        if (delay <= 0) return send();
        const timer = setTimeout(() => {
          timers.delete(timer);
          send();
        }, delay);
        timers.add(timer);
      });
    });
  });
  // Benchmarks open hundreds of connections at once, and leave most of them
  // idle while a lighter round runs: a server that closes an idle socket
  // (Node's default after 5 s) races the client reusing it ("other side
  // closed"). A model API behind a load balancer keeps them longer too.
  server.maxConnections = 10_000;
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    reply: (...replies) => {
      queue.push(...replies);
    },
    respond: (next) => {
      responder = next;
    },
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers = {}): void {
  const text = JSON.stringify(value);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function write(res: ServerResponse, reply: ScriptedReply, body: ChatRequestBody, id: string): void {
  if (reply.kind === "error") {
    sendJson(
      res,
      reply.status,
      { error: { message: reply.message ?? `scripted ${reply.status}`, type: "scripted" } },
      {
        ...(reply.retryAfter === undefined ? {} : { "retry-after": reply.retryAfter }),
        ...reply.headers,
      },
    );
    return;
  }
  if (reply.kind === "malformed") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"id": "broken", "choices": [');
    return;
  }
  const model = body.model ?? "test-model";
  const calls = (reply.toolCalls ?? []).map((call, i) => ({
    id: call.id ?? `call_${id}_${i}`,
    type: "function" as const,
    function: {
      name: call.name,
      arguments:
        typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments ?? {}),
    },
  }));
  const finishReason = reply.finishReason ?? (calls.length > 0 ? "tool_calls" : "stop");
  const prompt = reply.usage?.prompt ?? 10;
  const completion = reply.usage?.completion ?? 5;
  const usage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: reply.usage?.cached ?? 0 },
  };
  const created = Math.floor(Date.now() / 1000);
  if (body.stream !== true) {
    sendJson(res, 200, {
      id,
      object: "chat.completion",
      created,
      model,
      choices: [
        {
          index: 0,
          message: {
            role: "assistant",
            content: reply.text ?? null,
            ...(calls.length > 0 ? { tool_calls: calls } : {}),
          },
          finish_reason: finishReason,
        },
      ],
      usage,
    });
    return;
  }
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    res.write(
      `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices, ...extra })}\n\n`,
    );
  chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]);
  // Word by word, as a model would stream it.
  for (const piece of (reply.text ?? "").match(/\s*\S+\s*/g) ?? []) {
    chunk([{ index: 0, delta: { content: piece }, finish_reason: null }]);
  }
  calls.forEach((call, index) => {
    const half = Math.ceil(call.function.arguments.length / 2);
    chunk([
      {
        index: 0,
        delta: {
          tool_calls: [
            {
              index,
              id: call.id,
              type: "function",
              function: {
                name: call.function.name,
                arguments: call.function.arguments.slice(0, half),
              },
            },
          ],
        },
        finish_reason: null,
      },
    ]);
    chunk([
      {
        index: 0,
        delta: {
          tool_calls: [{ index, function: { arguments: call.function.arguments.slice(half) } }],
        },
        finish_reason: null,
      },
    ]);
  });
  chunk([{ index: 0, delta: {}, finish_reason: finishReason }]);
  if (body.stream_options?.include_usage === true) chunk([], { usage });
  res.end("data: [DONE]\n\n");
}
