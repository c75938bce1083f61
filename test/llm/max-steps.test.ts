/**
 * `generate({ maxSteps })` (and `settings.maxSteps` given in code, e.g.
 * AgentSpec.llm.settings) is checked before anything is sent: the swarm
 * file's schema took an integer 1..1000, but the loop took whatever it was
 * given. maxSteps 0 sent a model call anyway (docs: "at most maxSteps model
 * calls"), and NaN never reached "the last step" (`i >= NaN - 1` is always
 * false), so a model that kept calling tools was called without bound.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MockLanguageModelV3 } from "ai/test";
import { createPriceTable } from "../../src/ledger/prices.js";
import {
  createLlmClient,
  createMemoryJournal,
  createModelPool,
  unmeteredBudget,
} from "../../src/llm/index.js";
import { localTools, model, PRICES } from "./fixtures.js";

const usage = {
  inputTokens: { total: 10, noCache: undefined, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 5, text: 5, reasoning: undefined },
};

function setup(limit: number) {
  let calls = 0;
  const mock = new MockLanguageModelV3({
    doGenerate: async () => {
      calls++;
      if (calls > limit)
        throw Object.assign(new Error(`runaway: ${calls} calls`), { runaway: true });
      return {
        content: [{ type: "tool-call", toolCallId: `c${calls}`, toolName: "ping", input: "{}" }],
        finishReason: { unified: "tool-calls", raw: "tool_calls" },
        usage,
        warnings: [],
      };
    },
  });
  const pool = createModelPool({
    models: { fast: model("fast", "http://unused.invalid/v1") },
    prices: createPriceTable(PRICES),
    languageModel: () => mock,
  });
  const llm = createLlmClient({
    pool,
    journal: createMemoryJournal(),
    budget: unmeteredBudget,
    tools: localTools({ ping: () => ({ pong: true }) }),
    settings: { model: "fast", tools: ["ping"] },
  });
  return { llm, calls: () => calls };
}

test("maxSteps 0: refused with a typed error, no call sent", async () => {
  const { llm, calls } = setup(50);
  await assert.rejects(
    llm.generate({ prompt: "go", maxSteps: 0 }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, "E_CONFIG", `got ${e.name}: ${e.message}`);
      return true;
    },
  );
  assert.equal(calls(), 0, "nothing sent");
});

test("maxSteps NaN: refused with a typed error, not an unbounded loop", async () => {
  const { llm, calls } = setup(50);
  await assert.rejects(
    llm.generate({ prompt: "go", maxSteps: Number.NaN }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, "E_CONFIG", `got ${e.name}: ${e.message} after ${calls()} model calls`);
      return true;
    },
  );
  assert.equal(calls(), 0, "nothing sent");
});
