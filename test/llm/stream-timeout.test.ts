/**
 * docs/LLM.md: "A stream is retried only before its first delta went out."
 * A streamed attempt that timed out after it sent text fell back to the
 * next model of the chain anyway (the timeout branch came before the
 * `streamed` check), so the consumer received the first model's partial
 * text followed by the fallback's whole answer. Now the call fails with
 * ModelUnavailableError (the task is retried) and nothing more is sent.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { LanguageModelV3, LanguageModelV3StreamPart } from "@ai-sdk/provider";
import { ModelTimeoutError, ModelUnavailableError } from "../../src/errors/llm.js";
import { createPriceTable } from "../../src/ledger/prices.js";
import {
  createLlmClient,
  createMemoryBudget,
  createMemoryJournal,
  createModelPool,
} from "../../src/llm/index.js";
import { model, PRICES } from "./fixtures.js";

const usage = {
  inputTokens: { total: 10, noCache: undefined, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 5, text: 5, reasoning: undefined },
};

function streamingModel(name: string, stall: boolean): LanguageModelV3 {
  return {
    specificationVersion: "v3",
    provider: "test",
    modelId: name,
    supportedUrls: {},
    doGenerate: async () => {
      throw new Error("not used");
    },
    doStream: async (options) => ({
      stream: new ReadableStream<LanguageModelV3StreamPart>({
        start(controller) {
          controller.enqueue({ type: "text-start", id: "t" });
          if (stall) {
            controller.enqueue({ type: "text-delta", id: "t", delta: "partial " });
            // Then nothing until the timeout aborts the call.
            options.abortSignal?.addEventListener("abort", () =>
              controller.error(options.abortSignal?.reason),
            );
            return;
          }
          controller.enqueue({ type: "text-delta", id: "t", delta: "whole answer" });
          controller.enqueue({ type: "text-end", id: "t" });
          controller.enqueue({
            type: "finish",
            finishReason: { unified: "stop", raw: "stop" },
            usage,
          });
          controller.close();
        },
      }),
    }),
  } as LanguageModelV3;
}

test("a stream that timed out after its first delta is not sent again by a fallback", async () => {
  const pool = createModelPool({
    models: {
      fast: model("fast", "http://unused.invalid/v1", { timeoutMs: 200, fallback: "backup" }),
      backup: model("backup", "http://unused.invalid/v1"),
    },
    prices: createPriceTable(PRICES),
    languageModel: (m) => streamingModel(m.name, m.name === "fast"),
  });
  const llm = createLlmClient({
    pool,
    journal: createMemoryJournal(),
    budget: createMemoryBudget(1_000_000),
    settings: { model: "fast", maxOutputTokens: 20 },
  });
  const deltas: string[] = [];
  const stream = llm.stream({ prompt: "hi" });
  let error: unknown;
  try {
    for await (const d of stream) deltas.push(d);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ModelUnavailableError, String(error));
  assert.ok((error as Error).cause instanceof ModelTimeoutError, String(error));
  assert.deepEqual(deltas, ["partial "], "nothing after the text that went out");
});
