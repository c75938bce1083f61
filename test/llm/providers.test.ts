import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { MockLanguageModelV3 } from "ai/test";
import { createPriceTable } from "../../src/ledger/prices.js";
import {
  createLanguageModel,
  createLlmClient,
  createMemoryBudget,
  createMemoryJournal,
  createModelPool,
  estimateInputTokens,
  ModelRequestError,
} from "../../src/llm/index.js";
import { model, PRICES } from "./fixtures.js";

const usage = (input: number | undefined, output: number | undefined, cached?: number) => ({
  inputTokens: { total: input, noCache: undefined, cacheRead: cached, cacheWrite: undefined },
  outputTokens: { total: output, text: output, reasoning: undefined },
});

function mockPool(doGenerate: ConstructorParameters<typeof MockLanguageModelV3>[0]) {
  const mock = new MockLanguageModelV3(doGenerate);
  const pool = createModelPool({
    models: { fast: model("fast", "http://unused.invalid/v1") },
    prices: createPriceTable(PRICES),
    languageModel: () => mock,
  });
  return { mock, pool };
}

describe("with the AI SDK's mock model", () => {
  test("cached input tokens are read from the provider's usage", async () => {
    const { pool } = mockPool({
      doGenerate: async () => ({
        content: [{ type: "text", text: "hi" }],
        finishReason: { unified: "stop", raw: "stop" },
        usage: usage(100, 10, 64),
        warnings: [],
      }),
    });
    const journal = createMemoryJournal();
    const budget = createMemoryBudget(10_000);
    const result = await createLlmClient({
      pool,
      journal,
      budget,
      settings: { model: "fast" },
    }).generate({
      prompt: "hello",
    });
    assert.deepEqual(result.usage, { inputTokens: 100, outputTokens: 10, cachedInputTokens: 64 });
    assert.equal(budget.charges[0]?.cachedInputTokens, 64);
    assert.equal(budget.charges[0]?.credits, 100 + 20);
  });

  test("a provider that reports no usage is charged the estimate", async () => {
    const { pool } = mockPool({
      doGenerate: async () => ({
        content: [{ type: "text", text: "abcdef" }],
        finishReason: { unified: "stop", raw: "stop" },
        usage: usage(undefined, undefined),
        warnings: [],
      }),
    });
    const result = await pool.call({
      model: "fast",
      messages: [{ role: "user", content: "hello" }],
      tools: [],
      toolChoice: "auto",
      maxOutputTokens: 10,
    });
    assert.equal(result.usageReported, false);
    assert.equal(
      result.usage.inputTokens,
      estimateInputTokens({ messages: [{ role: "user", content: "hello" }] }),
    );
    assert.equal(result.usage.outputTokens, 2);
  });

  test("the SDK is asked for one step, with tools that have no execute, and no retries of its own", async () => {
    const { mock, pool } = mockPool({
      doGenerate: async () => ({
        content: [
          { type: "tool-call", toolCallId: "c1", toolName: "search_web", input: '{"q":"x"}' },
        ],
        finishReason: { unified: "tool-calls", raw: "tool_calls" },
        usage: usage(5, 5),
        warnings: [],
      }),
    });
    const result = await pool.call({
      model: "fast",
      messages: [{ role: "user", content: "find x" }],
      tools: [{ name: "search.web", inputSchema: { type: "object" } }],
      toolChoice: "auto",
      maxOutputTokens: 10,
    });
    assert.equal(mock.doGenerateCalls.length, 1, "one step, no tool executed, no follow-up call");
    assert.deepEqual(result.toolCalls, [{ id: "c1", name: "search.web", input: { q: "x" } }]);
    assert.equal(mock.doGenerateCalls[0]?.tools?.[0]?.name, "search_web");
  });

  test("a prompt the SDK refuses to send is a ModelRequestError", async () => {
    const { pool } = mockPool({
      doGenerate: async () => {
        throw new Error("unreachable");
      },
    });
    await assert.rejects(
      pool.call({
        model: "fast",
        messages: [{ role: "user", content: "hi" }],
        tools: [],
        toolChoice: "auto",
        // The SDK wants at least one output token.
        maxOutputTokens: 0,
      }),
      ModelRequestError,
    );
  });
});

describe("providers", () => {
  test("each provider builds its SDK model", async () => {
    const base = model("m", "http://127.0.0.1:1/v1", { apiKey: "k" });
    const compatible = await createLanguageModel(base);
    const openai = await createLanguageModel({ ...base, provider: "openai" });
    const anthropic = await createLanguageModel({ ...base, provider: "anthropic" });
    for (const built of [compatible, openai, anthropic]) assert.equal(typeof built, "object");
    assert.match((compatible as { provider: string }).provider, /^m\./);
    assert.match((openai as { provider: string }).provider, /^openai\.chat/);
    assert.match((anthropic as { provider: string }).provider, /^anthropic/);
  });

  test("src/llm imports the SDK and its providers only lazily (types excepted)", () => {
    const dir = fileURLToPath(new URL("../../src/llm/", import.meta.url));
    for (const file of readdirSync(dir)) {
      const source = readFileSync(join(dir, file), "utf8");
      for (const match of source.matchAll(
        /^import\s+(type\s+)?[^;]*?from\s+"(ai|@ai-sdk\/[^"]+)"/gms,
      )) {
        assert.ok(match[1] !== undefined, `${file} imports ${match[2]} eagerly`);
      }
    }
  });
});
