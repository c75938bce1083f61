/**
 * A primary that asks for a long Retry-After and a fallback that failed
 * without asking for any wait (a 5xx, a timeout): the task used to be held
 * for the primary's whole Retry-After (`ModelUnavailableError.retryAfterMs`,
 * which the runtime waits before redelivering), although the fallback could
 * be tried again after the usual backoff. The wait is now reported only
 * when every model of the chain asked for one (the shortest of them).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type ModelStepRequest, ModelUnavailableError } from "../../src/llm/index.js";
import { httpError, type OpenAiServer, startOpenAiServer } from "../helpers/openai-server.js";
import { model, pool } from "./fixtures.js";

const ask: ModelStepRequest = {
  model: "fast",
  messages: [{ role: "user", content: "hello" }],
  tools: [],
  toolChoice: "auto",
  maxOutputTokens: 64,
};

let server: OpenAiServer;
before(async () => {
  server = await startOpenAiServer();
});
after(() => server.close());

const chain = () =>
  pool([
    model("fast", server.url, { maxRetries: 1, fallback: "backup" }),
    model("backup", server.url, { maxRetries: 0, modelId: "backup-model" }),
  ]);

test("a fallback that failed without asking for a wait does not inherit the primary's Retry-After", async () => {
  server.reply(httpError(429, { retryAfter: "600" }), httpError(503));
  await assert.rejects(chain().call(ask), (error: unknown) => {
    assert.ok(error instanceof ModelUnavailableError);
    assert.deepEqual(
      error.failures.map((f) => f.reason),
      ["retry-after-too-long", "retries-exhausted"],
    );
    assert.equal(error.retryAfterMs, undefined, "the fallback may be tried after the backoff");
    return true;
  });
});

test("when every model asked for a wait, the shortest one is reported", async () => {
  server.reply(httpError(429, { retryAfter: "600" }), httpError(429, { retryAfter: "120" }));
  await assert.rejects(
    chain().call(ask),
    (error: unknown) => error instanceof ModelUnavailableError && error.retryAfterMs === 120_000,
  );
});
