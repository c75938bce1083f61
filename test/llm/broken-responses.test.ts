// Responses that break inside a 200, over real HTTP: a connection dropped in
// the middle of the body, and an error object sent inside an SSE stream. The
// local OpenAI-compatible server (test/helpers) answers normally; a small
// front server before it plays each queued fault once, then passes requests
// through. Each test counts the requests that reached the model.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, test } from "node:test";
import {
  ModelRequestError,
  ModelResponseError,
  type ModelStepRequest,
  ModelStreamError,
  ModelUnavailableError,
} from "../../src/llm/index.js";
import {
  answer,
  malformed,
  type OpenAiServer,
  startOpenAiServer,
} from "../helpers/openai-server.js";
import { model, pool } from "./fixtures.js";

/** Answers one request in place of the model (a fault), given its JSON body. */
type Fault = (res: ServerResponse, body: { stream?: boolean }) => void;

const ask = (name: string, extra: Partial<ModelStepRequest> = {}): ModelStepRequest => ({
  model: name,
  messages: [{ role: "user", content: "hello" }],
  tools: [],
  toolChoice: "auto",
  maxOutputTokens: 64,
  ...extra,
});
const streamed = (deltas: string[]) => ask("fast", { onText: (delta) => deltas.push(delta) });

const OK_BODY = JSON.stringify({
  id: "x",
  object: "chat.completion",
  created: 0,
  model: "test-model",
  choices: [{ index: 0, message: { role: "assistant", content: "cut" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
});
const sseChunk = (delta: unknown) =>
  `data: ${JSON.stringify({ id: "x", object: "chat.completion.chunk", created: 0, model: "test-model", choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;

/** A 200 whose body (plain: half the JSON; streamed: `prefix`) is cut by a dropped connection. */
const dropMidBody =
  (prefix = ": keep-alive\n\n"): Fault =>
  (res, body) => {
    if (body.stream === true) {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(prefix);
    } else {
      res.writeHead(200, {
        "content-type": "application/json",
        "content-length": String(OK_BODY.length),
      });
      res.write(OK_BODY.slice(0, 20));
    }
    setTimeout(() => res.socket?.destroy(), 20);
  };

/** A 200 SSE stream carrying `error` (after `prefix`), as OpenAI, vLLM and gateways send one. */
const streamError =
  (error: unknown, prefix = ""): Fault =>
  (res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.end(`${prefix}data: ${JSON.stringify({ error })}\n\ndata: [DONE]\n\n`);
  };
const OVERLOADED = { message: "Overloaded", type: "server_error", code: 529 };

let upstream: OpenAiServer;
let front: Server;
let url: string;
let faults: Fault[] = [];
/** Requests that reached the front server, faulted or passed through. */
let requests = 0;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function passThrough(req: IncomingMessage, res: ServerResponse, body: string) {
  const response = await fetch(`${upstream.url}${(req.url ?? "").replace(/^\/v1/, "")}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  res.writeHead(response.status, {
    "content-type": response.headers.get("content-type") ?? "application/json",
  });
  for await (const chunk of response.body ?? []) res.write(chunk);
  res.end();
}

before(async () => {
  upstream = await startOpenAiServer();
  front = createServer((req, res) => {
    void readBody(req).then((body) => {
      requests++;
      const fault = faults.shift();
      if (fault !== undefined) return fault(res, JSON.parse(body) as { stream?: boolean });
      return passThrough(req, res, body);
    });
  });
  await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(front.address() as AddressInfo).port}/v1`;
});
after(async () => {
  front.closeAllConnections();
  await new Promise<void>((resolve) => front.close(() => resolve()));
  await upstream.close();
});
beforeEach(() => {
  faults = [];
  requests = 0;
  (upstream.requests as unknown[]).length = 0;
  upstream.respond((request) =>
    answer(request.body.model === "backup-model" ? "from the backup" : "recovered"),
  );
});

describe("a connection dropped in the middle of a 200", () => {
  /**
   * A plain (generated) answer cut mid-body is a network failure: retried
   * on the same model (2 requests), not a permanent ModelResponseError.
   */
  test("generate: retried, and the retry answers", async () => {
    faults = [dropMidBody()];
    const result = await pool([model("fast", url)]).call(ask("fast"));
    assert.equal(result.text, "recovered");
    assert.equal(requests, 2);
  });

  /** A stream cut before any text is retried the same way (2 requests). */
  test("stream before any text: retried, and the retry answers", async () => {
    faults = [dropMidBody()];
    const deltas: string[] = [];
    const result = await pool([model("fast", url)]).call(streamed(deltas));
    assert.equal(result.text, "recovered");
    assert.equal(deltas.join(""), "recovered");
    assert.equal(requests, 2);
  });

  /**
   * Drops on every attempt count as failures: the retries run out
   * (1 + maxRetries requests), the breaker opens, and the fallback answers.
   */
  test("every attempt dropped: the breaker counts them and the fallback answers", async () => {
    faults = [dropMidBody(), dropMidBody()];
    const models = pool([
      model("fast", url, {
        maxRetries: 1,
        fallback: "backup",
        breaker: { failures: 2, coolDownMs: 30_000 },
      }),
      model("backup", url, { modelId: "backup-model" }),
    ]);
    const result = await models.call(ask("fast"));
    assert.equal(result.model, "backup");
    assert.equal(result.text, "from the backup");
    assert.equal(requests, 3);
    assert.equal(models.breakerState("fast"), "open");
  });

  /**
   * After text went out the stream is not retried (1 request): the call
   * fails with ModelUnavailableError (the task is retried), as docs/LLM.md
   * says, not with a permanent ModelResponseError.
   */
  test("stream after text: not retried, ModelUnavailableError", async () => {
    faults = [dropMidBody(sseChunk({ role: "assistant", content: "half an" }))];
    const deltas: string[] = [];
    await assert.rejects(pool([model("fast", url)]).call(streamed(deltas)), (error: unknown) => {
      assert.ok(error instanceof ModelUnavailableError, String(error));
      assert.match(error.failures[0]?.detail ?? "", /the stream broke/);
      return true;
    });
    assert.deepEqual(deltas, ["half an"]);
    assert.equal(requests, 1);
  });

  /** A complete 200 body that is not JSON is still malformed: permanent, 1 request. */
  test("a whole body that is not JSON stays a permanent ModelResponseError", async () => {
    upstream.reply(malformed());
    await assert.rejects(pool([model("fast", url)]).call(ask("fast")), ModelResponseError);
    assert.equal(requests, 1);
  });
});

describe("an error sent inside a 200 stream", () => {
  /** An overload in the stream is retried on the same model (2 requests). */
  test("retried, and the retry answers", async () => {
    faults = [streamError(OVERLOADED)];
    const result = await pool([model("fast", url)]).call(streamed([]));
    assert.equal(result.text, "recovered");
    assert.equal(requests, 2);
  });

  /**
   * On every attempt: the breaker counts each one (it opens at 2) and the
   * call falls back (2 requests to the primary, 1 to the backup).
   */
  test("every attempt: the breaker counts them and the fallback answers", async () => {
    faults = [streamError(OVERLOADED), streamError(OVERLOADED)];
    const models = pool([
      model("fast", url, {
        maxRetries: 1,
        fallback: "backup",
        breaker: { failures: 2, coolDownMs: 30_000 },
      }),
      model("backup", url, { modelId: "backup-model" }),
    ]);
    const result = await models.call(streamed([]));
    assert.equal(result.text, "from the backup");
    assert.equal(requests, 3);
    assert.equal(models.breakerState("fast"), "open");
  });

  /**
   * With no fallback the call fails with ModelUnavailableError whose cause
   * is an Error carrying the provider's status, code and message.
   */
  test("retries exhausted: ModelUnavailableError with the provider's status and message", async () => {
    faults = [streamError(OVERLOADED), streamError(OVERLOADED)];
    await assert.rejects(
      pool([model("fast", url, { maxRetries: 1 })]).call(streamed([])),
      (error: unknown) => {
        assert.ok(error instanceof ModelUnavailableError, String(error));
        assert.equal(error.failures[0]?.reason, "retries-exhausted");
        assert.equal(error.failures[0]?.statusCode, 529);
        assert.match(error.failures[0]?.detail ?? "", /Overloaded \(server_error, status 529\)/);
        assert.ok(error.cause instanceof ModelStreamError);
        return true;
      },
    );
    assert.equal(requests, 2);
  });

  /** An Anthropic-style error without a status (`overloaded_error`) is retried too. */
  test("an error without a status is retried", async () => {
    faults = [streamError({ type: "overloaded_error", message: "Overloaded" })];
    const result = await pool([model("fast", url)]).call(streamed([]));
    assert.equal(result.text, "recovered");
    assert.equal(requests, 2);
  });

  /** An error naming a 400 is the request's fault: ModelRequestError, 1 request. */
  test("an error naming a 4xx is refused, not retried", async () => {
    faults = [
      streamError({ message: "prompt too long", type: "invalid_request_error", code: 400 }),
    ];
    await assert.rejects(
      pool([model("fast", url)]).call(streamed([])),
      (error: unknown) => error instanceof ModelRequestError && error.statusCode === 400,
    );
    assert.equal(requests, 1);
  });

  /** After text went out, an error in the stream is not retried (1 request): ModelUnavailableError. */
  test("after text: not retried, ModelUnavailableError", async () => {
    faults = [streamError(OVERLOADED, sseChunk({ role: "assistant", content: "half an" }))];
    const deltas: string[] = [];
    await assert.rejects(pool([model("fast", url)]).call(streamed(deltas)), (error: unknown) => {
      assert.ok(error instanceof ModelUnavailableError, String(error));
      return true;
    });
    assert.deepEqual(deltas, ["half an"]);
    assert.equal(requests, 1);
  });
});
