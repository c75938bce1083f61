// Shared set-up of the LLM tests: a pool over the local OpenAI-compatible
// server, a clock whose timers can be awaited, and a table of local tools.
import { ManualClock } from "../../src/core/clock.js";
import { type Random, seededRandom } from "../../src/core/random.js";
import { createPriceTable, type PriceTableInput } from "../../src/ledger/prices.js";
import {
  createModelPool,
  type ModelPool,
  type ModelRetryPolicy,
  type ResolvedModel,
  type ToolDefinition,
  type ToolRunner,
} from "../../src/llm/index.js";
import type { JsonValue } from "../../src/wire/json-value.js";
import { until } from "../helpers/until.js";

/** $1 per 1M input tokens, $2 per 1M output: with a credit a micro-dollar, 1 and 2 credits a token. */
export const PRICES: PriceTableInput = {
  version: "test-1",
  creditsPerUsd: 1_000_000,
  models: {
    "test-model": { input: 1, output: 2 },
    "backup-model": { input: 2, output: 4 },
  },
};

/** A fast retry policy for tests that do not measure waits. */
export const QUICK_RETRY: ModelRetryPolicy = {
  backoff: { baseMs: 1, maxMs: 5, factor: 2, jitter: "none" },
  maxRetryAfterMs: 60_000,
};

/** A resolved model entry on `baseURL`, with test-friendly defaults. */
export function model(
  name: string,
  baseURL: string,
  overrides: Partial<ResolvedModel> = {},
): ResolvedModel {
  return {
    name,
    provider: "openai-compatible",
    baseURL,
    modelId: "test-model",
    timeoutMs: 10_000,
    maxRetries: 2,
    headers: {},
    breaker: { failures: 5, coolDownMs: 30_000 },
    priceKey: overrides.modelId ?? "test-model",
    ...overrides,
  };
}

export function pool(
  models: readonly ResolvedModel[],
  options: { clock?: ManualClock; random?: Random; retry?: ModelRetryPolicy } = {},
): ModelPool {
  return createModelPool({
    models: Object.fromEntries(models.map((m) => [m.name, m])),
    prices: createPriceTable(PRICES),
    retry: options.retry ?? QUICK_RETRY,
    random: options.random ?? seededRandom(1),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
}

/** A manual clock that remembers the delays of the timers set on it. */
export class ObservedClock extends ManualClock {
  readonly delays: number[] = [];

  override setTimer(fn: () => void, ms: number): () => void {
    this.delays.push(ms);
    return super.setTimer(fn, ms);
  }

  /** Waits (in real time) until a timer of `ms` has been set. */
  async timerSet(ms: number, what = `a ${ms} ms timer`): Promise<void> {
    await until(() => this.delays.includes(ms), 5000, what, 2);
  }
}

/** Local tools from plain functions, each taking any object. */
export function localTools(
  functions: Record<string, (input: JsonValue) => JsonValue | Promise<JsonValue>>,
): ToolRunner & { readonly calls: { name: string; input: JsonValue; step: string }[] } {
  const calls: { name: string; input: JsonValue; step: string }[] = [];
  return {
    calls,
    describe: (name): ToolDefinition | undefined =>
      name in functions
        ? { name, description: `the ${name} tool`, inputSchema: { type: "object" } }
        : undefined,
    run: async (name, input, context) => {
      calls.push({ name, input, step: context.step });
      const fn = functions[name];
      if (fn === undefined) throw new Error(`no tool ${name}`);
      return fn(input);
    },
  };
}
