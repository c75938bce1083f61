/**
 * `generate({ maxOutputTokens, temperature })` (or the same in
 * `settings`, given in code) are now checked before anything is held or
 * sent, like `maxSteps`, with a `ConfigError` naming the setting. Before,
 * `maxOutputTokens: 0` took a hold and then failed as a `ModelRequestError`
 * telling the user to "check the model's key, model id and baseURL" (the
 * model refused nothing: nothing was sent); `1.5`, `-1` or `NaN` failed in
 * the price arithmetic as "outputTokens must be a whole number of tokens",
 * naming no setting; a `NaN` temperature blamed the model's key too.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MockLanguageModelV3 } from "ai/test";
import { createPriceTable } from "../../src/ledger/prices.js";
import {
  createLlmClient,
  createMemoryBudget,
  createMemoryJournal,
  createModelPool,
} from "../../src/llm/index.js";
import { model, PRICES } from "./fixtures.js";

function setup() {
  const mock = new MockLanguageModelV3({
    doGenerate: async () => ({
      content: [{ type: "text", text: "ok" }],
      finishReason: { unified: "stop", raw: "stop" },
      usage: {
        inputTokens: { total: 10, noCache: undefined, cacheRead: undefined, cacheWrite: undefined },
        outputTokens: { total: 5, text: 5, reasoning: undefined },
      },
      warnings: [],
    }),
  });
  const pool = createModelPool({
    models: { fast: model("fast", "http://unused.invalid/v1") },
    prices: createPriceTable(PRICES),
    languageModel: () => mock,
  });
  const budget = createMemoryBudget(1_000_000);
  const llm = createLlmClient({
    pool,
    journal: createMemoryJournal(),
    budget,
    settings: { model: "fast" },
  });
  return { llm, budget, mock };
}

for (const maxOutputTokens of [0, -1, 1.5, Number.NaN]) {
  test(`maxOutputTokens ${maxOutputTokens}: a ConfigError naming it, nothing held or sent`, async () => {
    const { llm, budget, mock } = setup();
    await assert.rejects(
      llm.generate({ prompt: "go", maxOutputTokens }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, "E_CONFIG", `got ${e.name}: ${e.message}`);
        assert.match(e.message, /maxOutputTokens/);
        return true;
      },
    );
    assert.equal(budget.holds, 0, "nothing held");
    assert.equal(mock.doGenerateCalls.length, 0, "nothing sent");
  });
}

test("temperature NaN: a ConfigError naming it, nothing held or sent", async () => {
  const { llm, budget, mock } = setup();
  await assert.rejects(
    llm.generate({ prompt: "go", temperature: Number.NaN }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, "E_CONFIG", `got ${e.name}: ${e.message}`);
      assert.match(e.message, /temperature/);
      return true;
    },
  );
  assert.equal(budget.holds, 0, "nothing held");
  assert.equal(mock.doGenerateCalls.length, 0, "nothing sent");
});

test("valid settings still answer", async () => {
  const { llm } = setup();
  const result = await llm.generate({ prompt: "go", maxOutputTokens: 16, temperature: 0 });
  assert.equal(result.text, "ok");
});
