// Retries, timeouts, the breaker and fallbacks, over real HTTP to the local
// OpenAI-compatible server; waits run on a manual clock, so each test
// asserts exactly when the next request goes out.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  ModelRequestError,
  ModelResponseError,
  type ModelStepRequest,
  ModelTimeoutError,
  ModelUnavailableError,
} from "../../src/llm/index.js";
import {
  answer,
  httpError,
  malformed,
  type OpenAiServer,
  startOpenAiServer,
} from "../helpers/openai-server.js";
import { until } from "../helpers/until.js";
import { model, ObservedClock, pool } from "./fixtures.js";

const ask = (name: string, extra: Partial<ModelStepRequest> = {}): ModelStepRequest => ({
  model: name,
  messages: [{ role: "user", content: "hello" }],
  tools: [],
  toolChoice: "auto",
  maxOutputTokens: 64,
  ...extra,
});

let server: OpenAiServer;
before(async () => {
  server = await startOpenAiServer();
});
after(() => server.close());
beforeEach(() => {
  (server.requests as unknown[]).length = 0;
  server.respond(() => answer("ok"));
});

describe("retries", () => {
  test("a 429 waits exactly its Retry-After on the clock, then succeeds", async () => {
    const clock = new ObservedClock(Date.parse("2026-01-01T00:00:00Z"));
    const models = pool([model("fast", server.url)], { clock });
    server.reply(httpError(429, { retryAfter: "2" }), answer("after the wait"));
    const call = models.call(ask("fast"));
    await clock.timerSet(2000, "the Retry-After wait");
    clock.advance(1999);
    await sleep(50);
    assert.equal(server.requests.length, 1, "no retry before Retry-After has passed");
    clock.advance(1);
    const result = await call;
    assert.equal(result.text, "after the wait");
    assert.equal(server.requests.length, 2);
  });

  test("a Retry-After given as an HTTP date is honoured too", async () => {
    const start = Date.parse("2026-01-01T00:00:00Z");
    const clock = new ObservedClock(start);
    const models = pool([model("fast", server.url)], { clock });
    server.reply(
      httpError(429, { retryAfter: new Date(start + 3000).toUTCString() }),
      answer("ok"),
    );
    const call = models.call(ask("fast"));
    await clock.timerSet(3000);
    clock.advance(3000);
    assert.equal((await call).text, "ok");
  });

  test("a 500 then a success: one retry after the backoff, the SDK's own retries off", async () => {
    const models = pool([model("fast", server.url)]);
    server.reply(httpError(500), answer("recovered"));
    const result = await models.call(ask("fast"));
    assert.equal(result.text, "recovered");
    assert.equal(server.requests.length, 2);
    assert.equal(result.usage.inputTokens, 10);
    assert.equal(result.cost, 10 + 10);
  });

  test("retries run out: ModelUnavailableError with the status, after 1 + maxRetries requests", async () => {
    const models = pool([model("fast", server.url, { maxRetries: 2 })]);
    server.respond(() => httpError(503));
    await assert.rejects(models.call(ask("fast")), (error: unknown) => {
      assert.ok(error instanceof ModelUnavailableError);
      assert.equal(error.failures[0]?.reason, "retries-exhausted");
      assert.equal(error.failures[0]?.statusCode, 503);
      return true;
    });
    assert.equal(server.requests.length, 3);
  });

  test("a refused request (400, 401) is not retried", async () => {
    const models = pool([model("fast", server.url)]);
    server.reply(httpError(401));
    await assert.rejects(
      models.call(ask("fast")),
      (error: unknown) => error instanceof ModelRequestError && error.statusCode === 401,
    );
    assert.equal(server.requests.length, 1);
  });

  test("a malformed response body is a typed error, not retried", async () => {
    const models = pool([model("fast", server.url)]);
    server.reply(malformed());
    await assert.rejects(models.call(ask("fast")), ModelResponseError);
    assert.equal(server.requests.length, 1);
  });

  test("a Retry-After beyond the limit gives up at once, saying how long to wait", async () => {
    const models = pool([model("fast", server.url)]);
    server.reply(httpError(429, { retryAfter: "3600" }));
    await assert.rejects(
      models.call(ask("fast")),
      (error: unknown) =>
        error instanceof ModelUnavailableError &&
        error.retryAfterMs === 3_600_000 &&
        error.failures[0]?.reason === "retry-after-too-long",
    );
    assert.equal(server.requests.length, 1);
  });
});

describe("timeouts", () => {
  test("an attempt longer than timeoutMs is aborted: ModelTimeoutError", async () => {
    const clock = new ObservedClock();
    const models = pool([model("fast", server.url, { timeoutMs: 1500 })], { clock });
    server.reply(answer("too late", { delayMs: 5000 }));
    const call = models.call(ask("fast"));
    await until(() => server.requests.length === 1, 5000, "the request");
    await clock.timerSet(1500);
    clock.advance(1500);
    await assert.rejects(
      call,
      (error: unknown) => error instanceof ModelTimeoutError && error.timeoutMs === 1500,
    );
    assert.equal(server.requests.length, 1, "a timeout falls back rather than retrying");
  });

  test("a timeout falls back to the next model", async () => {
    const clock = new ObservedClock();
    const models = pool(
      [
        model("slow", server.url, { timeoutMs: 1500, fallback: "backup" }),
        model("backup", server.url, { modelId: "backup-model" }),
      ],
      { clock },
    );
    server.respond((request) =>
      request.body.model === "test-model"
        ? answer("late", { delayMs: 5000 })
        : answer("from backup"),
    );
    const call = models.call(ask("slow"));
    await clock.timerSet(1500);
    clock.advance(1500);
    const result = await call;
    assert.equal(result.model, "backup");
    assert.equal(result.text, "from backup");
    // Priced at the model that answered: 2 and 4 credits a token.
    assert.equal(result.cost, 10 * 2 + 5 * 4);
  });
});

describe("the circuit breaker and fallback", () => {
  test("opens after consecutive failures, skips the model, and recovers half-open", async () => {
    const clock = new ObservedClock();
    const models = pool(
      [
        model("primary", server.url, {
          maxRetries: 0,
          fallback: "backup",
          breaker: { failures: 2, coolDownMs: 10_000 },
        }),
        model("backup", server.url, { modelId: "backup-model" }),
      ],
      { clock },
    );
    let primaryUp = false;
    server.respond((request) =>
      request.body.model === "backup-model"
        ? answer("backup")
        : primaryUp
          ? answer("primary")
          : httpError(500),
    );
    const toPrimary = () => server.requests.filter((r) => r.body.model === "test-model").length;

    assert.equal((await models.call(ask("primary"))).model, "backup");
    assert.equal(models.breakerState("primary"), "closed");
    assert.equal((await models.call(ask("primary"))).model, "backup");
    assert.equal(models.breakerState("primary"), "open");
    assert.equal(toPrimary(), 2);

    // Open: straight to the fallback, nothing sent to the primary.
    assert.equal((await models.call(ask("primary"))).model, "backup");
    assert.equal(toPrimary(), 2);

    // A failed trial opens it again.
    clock.advance(10_000);
    assert.equal(models.breakerState("primary"), "half-open");
    assert.equal((await models.call(ask("primary"))).model, "backup");
    assert.equal(toPrimary(), 3);
    assert.equal(models.breakerState("primary"), "open");

    // A good trial closes it.
    primaryUp = true;
    clock.advance(10_000);
    assert.equal((await models.call(ask("primary"))).model, "primary");
    assert.equal(models.breakerState("primary"), "closed");
    assert.equal(toPrimary(), 4);
  });

  test("every model open: ModelUnavailableError saying when the first one admits a trial", async () => {
    const clock = new ObservedClock();
    const models = pool(
      [model("solo", server.url, { maxRetries: 0, breaker: { failures: 1, coolDownMs: 7000 } })],
      { clock },
    );
    server.respond(() => httpError(502));
    await assert.rejects(models.call(ask("solo")), ModelUnavailableError);
    clock.advance(1000);
    await assert.rejects(
      models.call(ask("solo")),
      (error: unknown) =>
        error instanceof ModelUnavailableError &&
        error.failures[0]?.reason === "circuit-open" &&
        error.retryAfterMs === 6000,
    );
    assert.equal(server.requests.length, 1);
  });
});
