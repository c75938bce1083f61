import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createPriceTable } from "../../src/ledger/prices.js";
import {
  callCost,
  estimateInputTokens,
  estimateTokens,
  MESSAGE_OVERHEAD_TOKENS,
  maxCallCost,
  REPLY_OVERHEAD_TOKENS,
} from "../../src/llm/index.js";
import { PRICES } from "./fixtures.js";

const prices = createPriceTable(PRICES);

describe("the input estimate", () => {
  test("is UTF-8 bytes ÷ 3, rounded up", () => {
    assert.equal(estimateTokens(""), 0);
    assert.equal(estimateTokens("abcd"), 2);
    assert.equal(estimateTokens("abcdef"), 2);
    // Three bytes a CJK character: about a token each, as tokenizers count them.
    assert.equal(estimateTokens("日本語"), 3);
  });

  test("adds per-message and reply overheads, tool calls, results, tools and the schema", () => {
    const bare = estimateInputTokens({ messages: [{ role: "user", content: "abc" }] });
    assert.equal(bare, REPLY_OVERHEAD_TOKENS + MESSAGE_OVERHEAD_TOKENS + 1);
    const full = estimateInputTokens({
      system: "sys",
      messages: [
        { role: "user", content: "abc" },
        { role: "assistant", content: "", toolCalls: [{ id: "c1", name: "t", input: { q: "x" } }] },
        { role: "tool", toolCallId: "c1", name: "t", output: { answer: 42 } },
      ],
      tools: [{ name: "t", description: "a tool", inputSchema: { type: "object" } }],
      output: { type: "object" },
    });
    assert.ok(full > bare + 3 * MESSAGE_OVERHEAD_TOKENS + 10, `got ${full}`);
  });

  test("stays above what an English text really takes (about 4 characters a token)", () => {
    const text = "The quick brown fox jumps over the lazy dog. ".repeat(50);
    assert.ok(estimateTokens(text) >= Math.ceil(text.length / 4) * 1.3);
  });
});

describe("costs in credits", () => {
  test("the most a call can cost takes the dearest model of its chain", () => {
    // test-model: 1 and 2 credits a token; backup-model: 2 and 4.
    assert.equal(maxCallCost(prices, ["test-model"], 100, 50), 100 + 100);
    assert.equal(maxCallCost(prices, ["test-model", "backup-model"], 100, 50), 200 + 200);
  });

  test("the actual cost counts cached input tokens at the input rate, rounded up", () => {
    assert.equal(
      callCost(prices, "test-model", { inputTokens: 10, outputTokens: 5, cachedInputTokens: 8 }),
      20,
    );
    const cheap = createPriceTable({
      version: "1",
      creditsPerUsd: 1_000_000,
      models: { m: { input: "0.15", output: "0.6" } },
    });
    // 7 × 0.15 + 3 × 0.6 = 2.85 credits → 3.
    assert.equal(
      callCost(cheap, "m", { inputTokens: 7, outputTokens: 3, cachedInputTokens: 0 }),
      3,
    );
  });
});
