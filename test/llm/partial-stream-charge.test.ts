/**
 * A model call that fails after the provider produced output is paid for:
 * the provider bills the input and every token it generated, even when the
 * stream then breaks (a dropped connection, an error in the stream), times
 * out, or is aborted by the task's signal. Before, the loop released the
 * whole hold on any failure, so an agent whose streams failed at the end
 * spent real money while its budget showed nothing. Now such a call is
 * charged an estimate (the input as held, the output from what was
 * streamed, at the model's price, never more than the hold), marked
 * `estimate: "failed-call"` on the ledger; an attempt that failed after
 * output and was retried or fell back is charged with the answer
 * (`failedAttempts`, `failedAttemptCredits`). A failure before any output
 * still releases the hold.
 *
 * Real HTTP: a small front server before the local OpenAI-compatible one
 * plays each queued fault once (stream some output, then break or hang),
 * then passes requests through.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, test } from "node:test";
import type { LanguageModelV3, LanguageModelV3StreamPart } from "@ai-sdk/provider";
import { agentAccount } from "../../src/ledger/index.js";
import { createPriceTable } from "../../src/ledger/prices.js";
import {
  createLlmClient,
  createMemoryBudget,
  createMemoryJournal,
  createModelPool,
  estimateInputTokens,
  estimateTokens,
  type LlmCallRecord,
  type LlmClientConfig,
  type MemoryBudget,
  type MemoryJournal,
  type ModelPool,
  ModelUnavailableError,
} from "../../src/llm/index.js";
import { createTestSwarm, type TestSwarm } from "../../src/testkit/index.js";
import { answer, type OpenAiServer, startOpenAiServer } from "../helpers/openai-server.js";
import { until } from "../helpers/until.js";
import { localTools, model, PRICES, pool } from "./fixtures.js";

/** Answers one request in place of the model. */
type Fault = (res: ServerResponse) => void;

const sseChunk = (delta: unknown) =>
  `data: ${JSON.stringify({ id: "x", object: "chat.completion.chunk", created: 0, model: "test-model", choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;
const textChunk = (text: string) => sseChunk({ role: "assistant", content: text });
/** The start of a tool call, its arguments cut short (not JSON yet). */
const TOOL_NAME = "search";
const TOOL_ARGUMENTS = '{"q": "how bees da';
const toolChunk = sseChunk({
  role: "assistant",
  tool_calls: [
    {
      index: 0,
      id: "call_1",
      type: "function",
      function: { name: TOOL_NAME, arguments: TOOL_ARGUMENTS },
    },
  ],
});

/** A 200 stream that sends `chunks`, then loses its connection. */
const sendThenDrop =
  (...chunks: string[]): Fault =>
  (res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    for (const chunk of chunks) res.write(chunk);
    setTimeout(() => res.socket?.destroy(), 30);
  };
/** A 200 stream that sends `chunks`, then nothing until the client hangs up. */
const sendThenHang =
  (...chunks: string[]): Fault =>
  (res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    for (const chunk of chunks) res.write(chunk);
  };
/** A 500 before anything is streamed. */
const serverError: Fault = (res) => {
  res.writeHead(500, { "content-type": "application/json" });
  res.end(JSON.stringify({ error: { message: "boom", type: "server_error" } }));
};

const PARTIAL = "half an answer";
const PROMPT = "How do bees talk?";
/** The input tokens the loop holds for PROMPT (no system, no tools offered). */
const INPUT_TOKENS = estimateInputTokens({ messages: [{ role: "user", content: PROMPT }] });
/** test-model: 1 credit an input token, 2 an output token; backup-model: 2 and 4. */
const partialCost = (outputText: string, input = INPUT_TOKENS, rates = { input: 1, output: 2 }) =>
  input * rates.input + estimateTokens(outputText) * rates.output;

let upstream: OpenAiServer;
let front: Server;
let url: string;
let faults: Fault[] = [];
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
    res.on("error", () => undefined);
    void readBody(req).then((body) => {
      requests++;
      const fault = faults.shift();
      if (fault !== undefined) return fault(res);
      return passThrough(req, res, body);
    });
  });
  await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(front.address() as AddressInfo).port}/v1`;
});
after(async () => {
  for (const t of swarms) await t.cleanup();
  front.closeAllConnections();
  await new Promise<void>((resolve) => front.close(() => resolve()));
  await upstream.close();
});
beforeEach(() => {
  faults = [];
  requests = 0;
  // 10 prompt + 5 completion tokens: 20 credits on test-model, 40 on backup-model.
  upstream.respond((request) =>
    answer(request.body.model === "backup-model" ? "from the backup" : "recovered", {
      usage: { prompt: 10, completion: 5 },
    }),
  );
});

function loop(
  models: ModelPool,
  overrides: Partial<Omit<LlmClientConfig, "journal" | "budget">> & {
    journal?: MemoryJournal;
    budget?: MemoryBudget;
  } = {},
) {
  const calls: LlmCallRecord[] = [];
  const journal = overrides.journal ?? createMemoryJournal();
  const budget = overrides.budget ?? createMemoryBudget(1_000_000);
  const llm = createLlmClient({
    pool: models,
    journal,
    budget,
    tools: localTools({ search: () => ({ found: true }) }),
    settings: { model: "fast", maxOutputTokens: 100 },
    onCall: (record) => calls.push(record),
    ...overrides,
  });
  return { llm, journal, budget, calls };
}

/** Drains a stream, returning its deltas and how it ended. */
async function drain(stream: AsyncIterable<string>) {
  const deltas: string[] = [];
  try {
    for await (const delta of stream) deltas.push(delta);
    return { deltas, error: undefined };
  } catch (error) {
    return { deltas, error };
  }
}

describe("a call that fails after the provider produced output", () => {
  /** The hold: 9 input tokens + 100 output tokens at test-model's price. */
  const HOLD = INPUT_TOKENS * 1 + 100 * 2;

  test("a stream that breaks after text is charged the estimate of what it produced", async () => {
    faults = [sendThenDrop(textChunk(PARTIAL))];
    const { llm, budget, calls } = loop(pool([model("fast", url, { maxRetries: 0 })]));
    const { deltas, error } = await drain(llm.stream({ prompt: PROMPT }));
    assert.ok(error instanceof ModelUnavailableError, String(error));
    assert.deepEqual(deltas, [PARTIAL]);
    assert.equal(requests, 1);
    assert.equal(budget.held, 0);
    assert.equal(budget.charges.length, 1, "the broken stream is charged");
    const [charge] = budget.charges;
    assert.ok(charge !== undefined);
    assert.equal(charge.credits, partialCost(PARTIAL));
    assert.equal(budget.balance, 1_000_000 - partialCost(PARTIAL));
    assert.ok(charge.credits <= charge.held);
    assert.equal(charge.held, HOLD);
    assert.equal(charge.estimate, "failed-call");
    assert.equal(charge.failedAttempts, 1);
    assert.equal(charge.failedAttemptCredits, charge.credits);
    assert.equal(charge.inputTokens, INPUT_TOKENS);
    assert.equal(charge.outputTokens, estimateTokens(PARTIAL));
    assert.equal(charge.model, "fast");
    assert.equal(charge.modelId, "test-model");
    assert.equal(charge.priceVersion, "test-1");
    // The llm.call record says the call failed, and what it cost.
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.failed, "E_MODEL_UNAVAILABLE");
    assert.equal(calls[0]?.cost, charge.credits);
    assert.equal(calls[0]?.outputTokens, estimateTokens(PARTIAL));
    assert.equal(calls[0]?.model, "fast");
    assert.equal(calls[0]?.modelId, "test-model");
  });

  test("a stream aborted by its signal after text is charged too", async () => {
    faults = [sendThenHang(textChunk(PARTIAL))];
    const stop = new AbortController();
    const { llm, budget } = loop(pool([model("fast", url, { maxRetries: 0 })]), {
      signal: stop.signal,
    });
    const deltas: string[] = [];
    await assert.rejects(async () => {
      for await (const delta of llm.stream({ prompt: PROMPT })) {
        deltas.push(delta);
        stop.abort(new Error("the agent was stopped"));
      }
    }, /the agent was stopped/);
    assert.deepEqual(deltas, [PARTIAL]);
    assert.equal(budget.held, 0);
    assert.equal(budget.charges.length, 1, "the aborted stream is charged");
    assert.equal(budget.charges[0]?.credits, partialCost(PARTIAL));
    assert.equal(budget.charges[0]?.estimate, "failed-call");
  });

  test("a stream that times out after text is charged too", async () => {
    faults = [sendThenHang(textChunk(PARTIAL))];
    const { llm, budget } = loop(pool([model("fast", url, { maxRetries: 0, timeoutMs: 300 })]));
    const { error } = await drain(llm.stream({ prompt: PROMPT }));
    assert.ok(error instanceof ModelUnavailableError, String(error));
    assert.equal(budget.held, 0);
    assert.equal(budget.charges.length, 1, "the timed-out stream is charged");
    assert.equal(budget.charges[0]?.credits, partialCost(PARTIAL));
    assert.equal(budget.charges[0]?.estimate, "failed-call");
  });

  test("the estimate is never more than the hold", async () => {
    const long = "x".repeat(3 * 500); // 500 tokens by the estimate, 5 times maxOutputTokens
    faults = [sendThenDrop(textChunk(long))];
    const { llm, budget } = loop(pool([model("fast", url, { maxRetries: 0 })]));
    const { error } = await drain(llm.stream({ prompt: PROMPT }));
    assert.ok(error instanceof ModelUnavailableError, String(error));
    assert.equal(budget.charges[0]?.credits, HOLD);
    assert.equal(budget.charges[0]?.outputTokens, 100, "no more output than maxOutputTokens");
  });

  test("a failure before any output still releases the hold", async () => {
    faults = [serverError];
    const { llm, budget, calls } = loop(pool([model("fast", url, { maxRetries: 0 })]));
    const { error } = await drain(llm.stream({ prompt: PROMPT }));
    assert.ok(error instanceof ModelUnavailableError, String(error));
    assert.equal(budget.charges.length, 0);
    assert.equal(budget.held, 0);
    assert.equal(budget.balance, 1_000_000);
    // Still a call: its record shows the failure, at no cost.
    assert.deepEqual(
      calls.map((c) => [c.failed, c.cost, c.inputTokens, c.outputTokens, c.modelId]),
      [["E_MODEL_UNAVAILABLE", 0, 0, 0, "test-model"]],
    );
  });

  test("a failed call retried by the task is charged once more for the new call only", async () => {
    faults = [sendThenDrop(textChunk(PARTIAL))];
    const models = pool([model("fast", url, { maxRetries: 0 })]);
    const first = loop(models);
    assert.ok((await drain(first.llm.stream({ prompt: PROMPT }))).error);
    // The task's retry: the failed step was not recorded, so it is a new call.
    const retry = loop(models, { journal: first.journal.replay(), budget: first.budget });
    const result = await retry.llm.stream({ prompt: PROMPT }).result;
    assert.equal(result.text, "recovered");
    assert.deepEqual(
      first.budget.charges.map((c) => [c.credits, c.estimate]),
      [
        [partialCost(PARTIAL), "failed-call"],
        [20, undefined],
      ],
    );
    // A replay of the finished task sends and charges nothing.
    const sent = requests;
    const replay = loop(models, { journal: first.journal.replay(), budget: first.budget });
    await replay.llm.stream({ prompt: PROMPT }).result;
    assert.equal(requests, sent);
    assert.equal(first.budget.charges.length, 2);
  });
});

describe("an attempt that failed after output, then retried or fallen back", () => {
  test("a stream that broke after a tool-call delta is retried; both attempts are charged", async () => {
    faults = [sendThenDrop(toolChunk)];
    const { llm, budget, calls, journal } = loop(pool([model("fast", url, { maxRetries: 1 })]));
    const result = await llm.stream({ prompt: PROMPT, tools: ["search"] }).result;
    assert.equal(result.text, "recovered");
    assert.equal(requests, 2, "the broken attempt was retried");
    const input = estimateInputTokens({
      messages: [{ role: "user", content: PROMPT }],
      tools: [{ name: "search", description: "the search tool", inputSchema: { type: "object" } }],
    });
    const partial = partialCost(TOOL_NAME + TOOL_ARGUMENTS, input);
    assert.equal(budget.charges.length, 1, "one charge for the step");
    const [charge] = budget.charges;
    assert.ok(charge !== undefined);
    assert.equal(charge.credits, 20 + partial, "the answer plus the broken attempt");
    assert.equal(charge.failedAttempts, 1);
    assert.equal(charge.failedAttemptCredits, partial);
    assert.equal(charge.estimate, undefined, "the answer's own usage was reported");
    assert.equal(result.cost, 20 + partial, "the result counts what was charged");
    assert.equal(calls[0]?.cost, 20 + partial);
    // Replayed from the journal: nothing sent, nothing charged again.
    const sent = requests;
    const replay = loop(pool([model("fast", url)]), { journal: journal.replay(), budget });
    const again = await replay.llm.stream({ prompt: PROMPT, tools: ["search"] }).result;
    assert.equal(again.text, "recovered");
    assert.equal(requests, sent);
    assert.equal(budget.charges.length, 1);
    assert.equal(replay.calls[0]?.replayed, true);
  });

  test("a fallback after a broken attempt: each attempt at its own model's price", async () => {
    faults = [sendThenDrop(toolChunk)];
    const models = pool([
      model("fast", url, { maxRetries: 0, fallback: "backup" }),
      model("backup", url, { modelId: "backup-model" }),
    ]);
    const { llm, budget } = loop(models);
    const result = await llm.stream({ prompt: PROMPT, tools: ["search"] }).result;
    assert.equal(result.text, "from the backup");
    const input = estimateInputTokens({
      messages: [{ role: "user", content: PROMPT }],
      tools: [{ name: "search", description: "the search tool", inputSchema: { type: "object" } }],
    });
    const partial = partialCost(TOOL_NAME + TOOL_ARGUMENTS, input);
    assert.equal(budget.charges[0]?.credits, 40 + partial);
    assert.equal(budget.charges[0]?.model, "backup");
    assert.equal(budget.charges[0]?.failedAttemptCredits, partial);
  });
});

const swarms: TestSwarm[] = [];

describe("on the ledger", () => {
  test("a swarm agent's broken stream is a fee marked as an estimate, then the retry is charged", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, analyst: { tasks: ["analyse"] } },
      defaults: {
        heartbeatMs: 50,
        ackWaitMs: 5000,
        maxDeliver: 3,
        backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
      },
      prices: PRICES,
      models: pool([model("fast", url, { maxRetries: 0 })]),
    });
    swarms.push(t);
    const { swarm } = t;
    faults = [sendThenDrop(textChunk(PARTIAL))];
    upstream.respond(() => answer("done", { usage: { prompt: 100, completion: 50 } }));
    swarm.agent({ id: "lead", role: "lead" });
    const done: string[] = [];
    swarm
      .agent({
        id: "analyst-p",
        role: "analyst",
        budget: { initial: 100_000, minBalance: 0 },
        llm: { settings: { model: "fast", maxOutputTokens: 100 } },
      })
      .handle("analyse", async (ctx) => {
        const r = await ctx.llm.stream({ prompt: PROMPT }).result;
        done.push(r.text);
        ctx.finish(r.text);
      });
    await swarm.start();
    await swarm.submit("analyst", "analyse", {}, { as: "lead" });
    await until(() => done.length === 1, 10_000, "the answer");
    assert.equal(requests, 2, "the broken stream, then the task's retry");
    const fees = (await swarm.store.ledgerOperations({ kind: "fee" })).filter(
      (op) => op.memo["kind"] === "llm",
    );
    assert.equal(fees.length, 2, JSON.stringify(fees));
    const estimated = fees.find((op) => op.memo["estimate"] === "failed-call");
    assert.ok(estimated !== undefined, `a fee marked as an estimate: ${JSON.stringify(fees)}`);
    assert.equal(estimated.memo["outputTokens"], estimateTokens(PARTIAL));
    const estimateCredits =
      Number(estimated.memo["inputTokens"]) * 1 + Number(estimated.memo["outputTokens"]) * 2;
    assert.equal(estimated.memo["failedAttemptCredits"], estimateCredits);
    const balance = await swarm.store.balance(agentAccount("analyst-p"));
    assert.equal(100_000 - balance, 200 + estimateCredits, "both calls paid");
    // The metrics count both calls and agree with the ledger on what they cost.
    const text = await swarm.metrics.render();
    assert.match(text, /conclave_llm_calls_total\{model="fast",replayed="false"\} 2/);
    assert.match(
      text,
      new RegExp(`conclave_llm_cost_credits_total\\{model="fast"\\} ${200 + estimateCredits}\\b`),
    );
  });
});

describe("aborted with its task", () => {
  test("a stream cut off by its task's deadline after text is charged the estimate", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, analyst: { tasks: ["analyse"] } },
      defaults: {
        heartbeatMs: 50,
        ackWaitMs: 10_000,
        maxDeliver: 3,
        backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
      },
      prices: PRICES,
      models: pool([model("fast", url, { maxRetries: 0, timeoutMs: 30_000 })]),
    });
    swarms.push(t);
    const { swarm } = t;
    faults = [sendThenHang(textChunk(PARTIAL))];
    swarm.agent({ id: "lead", role: "lead" });
    const outcomes: unknown[] = [];
    swarm
      .agent({
        id: "analyst-d",
        role: "analyst",
        budget: { initial: 100_000, minBalance: 0 },
        llm: { settings: { model: "fast", maxOutputTokens: 100 } },
      })
      .handle("analyse", async (ctx) => {
        try {
          await ctx.llm.stream({ prompt: PROMPT }).result;
          outcomes.push("answered");
        } catch (error) {
          outcomes.push(error);
          throw error;
        }
      });
    await swarm.start();
    const id = await swarm.submit(
      "analyst",
      "analyse",
      {},
      { as: "lead", deadline: Date.now() + 500 },
    );
    await until(() => outcomes.length > 0, 5000, "the call to end");
    assert.match(String((outcomes[0] as Error).message), /passed its deadline/);
    await until(
      async () => (await swarm.store.deadLetter(id)) !== undefined,
      5000,
      "the dead letter",
    );
    const fees = (await swarm.store.ledgerOperations({ kind: "fee" })).filter(
      (op) => op.memo["kind"] === "llm",
    );
    assert.equal(fees.length, 1, JSON.stringify(fees));
    assert.equal(fees[0]?.memo["estimate"], "failed-call");
    assert.equal(fees[0]?.memo["outputTokens"], estimateTokens(PARTIAL));
    const credits = Number(fees[0]?.memo["inputTokens"]) + 2 * estimateTokens(PARTIAL);
    const balance = await swarm.store.balance(agentAccount("analyst-d"));
    assert.equal(100_000 - balance, credits, "the cut-off stream is paid for");
  });
});

/** A mock model that streams `parts`, then fails with `failure` (or finishes without usage). */
function mockModel(parts: LanguageModelV3StreamPart[], failure?: Error): LanguageModelV3 {
  return {
    specificationVersion: "v3",
    provider: "test",
    modelId: "test-model",
    supportedUrls: {},
    doGenerate: async () => {
      throw new Error("not used");
    },
    doStream: async () => ({
      stream: new ReadableStream<LanguageModelV3StreamPart>({
        start(controller) {
          for (const part of parts) controller.enqueue(part);
          // Later: an error discards what is still queued.
          if (failure !== undefined) return void setTimeout(() => controller.error(failure), 10);
          controller.enqueue({
            type: "finish",
            finishReason: { unified: "stop", raw: "stop" },
            usage: {
              inputTokens: {
                total: undefined,
                noCache: undefined,
                cacheRead: undefined,
                cacheWrite: undefined,
              },
              outputTokens: { total: undefined, text: undefined, reasoning: undefined },
            },
          });
          controller.close();
        },
      }),
    }),
  } as LanguageModelV3;
}

function mockLoop(languageModel: LanguageModelV3) {
  const budget = createMemoryBudget(1_000_000);
  const llm = createLlmClient({
    pool: createModelPool({
      models: { fast: model("fast", "http://unused.invalid/v1", { maxRetries: 0 }) },
      prices: createPriceTable(PRICES),
      languageModel: () => languageModel,
    }),
    journal: createMemoryJournal(),
    budget,
    settings: { model: "fast", maxOutputTokens: 100 },
  });
  return { llm, budget };
}

describe("with the AI SDK's model interface", () => {
  test("reasoning streamed before the failure is charged as output too", async () => {
    const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    const { llm, budget } = mockLoop(
      mockModel(
        [
          { type: "reasoning-start", id: "r" },
          { type: "reasoning-delta", id: "r", delta: "Let me think about bees. " },
          { type: "text-start", id: "t" },
          { type: "text-delta", id: "t", delta: PARTIAL },
        ],
        reset,
      ),
    );
    const { error } = await drain(llm.stream({ prompt: PROMPT }));
    assert.ok(error instanceof ModelUnavailableError, String(error));
    assert.equal(
      budget.charges[0]?.outputTokens,
      estimateTokens(`Let me think about bees. ${PARTIAL}`),
    );
    assert.equal(budget.charges[0]?.estimate, "failed-call");
  });

  test("an answer without usage is charged the estimate, marked as such", async () => {
    const { llm, budget } = mockLoop(
      mockModel([
        { type: "text-start", id: "t" },
        { type: "text-delta", id: "t", delta: "whole answer" },
        { type: "text-end", id: "t" },
      ]),
    );
    const result = await llm.stream({ prompt: PROMPT }).result;
    assert.equal(result.text, "whole answer");
    assert.equal(budget.charges[0]?.estimate, "usage-not-reported");
    assert.equal(budget.charges[0]?.failedAttempts, undefined);
  });
});
