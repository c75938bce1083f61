/**
 * The models of one node and the resilience around each call: a timeout
 * per attempt, retries with backoff and jitter on 429, 5xx and network
 * errors honouring `Retry-After`, a circuit breaker per model, and the
 * fallback chain. Every wait runs on the injected clock (the provider
 * models have no retries of their own).
 *
 * One call here is one model step: the provider is asked for one answer
 * with the tools described, and never runs a tool itself.
 */
import type { LanguageModelV3 } from "@ai-sdk/provider";
import { type Clock, systemClock } from "../core/clock.js";
import { type Random, systemRandom } from "../core/random.js";
import { assertBackoffPolicy } from "../delivery/backoff.js";
import { ConfigError } from "../errors/index.js";
import {
  type ModelFailure,
  ModelRequestError,
  ModelResponseError,
  ModelTimeoutError,
  ModelUnavailableError,
} from "../errors/llm.js";
import type { PriceTable } from "../ledger/prices.js";
import type { JsonValue } from "../wire/json-value.js";
import { type BreakerState, CircuitBreaker } from "./breaker.js";
import { callCost, estimateInputTokens, estimateTokens, maxCallCost } from "./cost.js";
import { type ToolNaming, toolNaming } from "./messages.js";
import {
  type AttemptProgress,
  type FailedAttemptCost,
  type ModelStepRequest,
  type RawStep,
  type RawToolCall,
  runModelStep,
  type StepCall,
  stepSettingsProblem,
} from "./model-step.js";
import type { ResolvedModel } from "./models.js";
import type { TokenUsage } from "./ports.js";
import { createLanguageModel } from "./providers.js";
import {
  defaultModelRetryPolicy,
  judgeAttemptError,
  type ModelRetryPolicy,
  retryDelay,
} from "./retry.js";

export type { FailedAttemptCost, ModelStepRequest } from "./model-step.js";

/** A tool call as the model made it, named back in the swarm's terms. */
export interface ModelToolCall {
  readonly id: string;
  /** The swarm name, or the provider's spelling when it was not offered. */
  readonly name: string;
  readonly input: JsonValue;
  /** Set when the call cannot run: a tool not offered, or input that is not JSON. */
  readonly problem?: "unknown-tool" | "invalid-input";
}

/** One answered model step. */
export interface ModelStepResult {
  /** The entry that answered (a fallback, maybe). */
  readonly model: string;
  readonly modelId: string;
  readonly text: string;
  readonly toolCalls: readonly ModelToolCall[];
  readonly finishReason: string;
  readonly usage: TokenUsage;
  /** False when the provider reported no usage and the estimate was charged. */
  readonly usageReported: boolean;
  /** Credits at the answering model's price. */
  readonly cost: number;
  /** From the first attempt to the answer, retries and fallbacks included. */
  readonly latencyMs: number;
}

/** What a {@link ModelPool} is built from: resolved models, their prices, retry and clock. */
export interface ModelPoolConfig {
  readonly models: Readonly<Record<string, ResolvedModel>>;
  readonly prices: PriceTable;
  readonly clock?: Clock;
  readonly random?: Random;
  readonly retry?: ModelRetryPolicy;
  /** Builds an entry's SDK model. Default: its provider package, imported on first use. Tests inject mocks. */
  readonly languageModel?: (model: ResolvedModel) => LanguageModelV3 | Promise<LanguageModelV3>;
}

/** A node's models, shared by its agents' loops (one breaker per model per node). */
export interface ModelPool {
  /** The price table's version, recorded with every charge. */
  readonly priceVersion: string;
  has(name: string): boolean;
  /** The entries a call starting at `name` may reach: it, then its fallbacks. */
  chain(name: string): readonly ResolvedModel[];
  /** The most a call starting at `name` can cost (the dearest model of its chain). */
  maxCost(name: string, inputTokens: number, maxOutputTokens: number): number;
  /** The breaker of `name`, now. */
  breakerState(name: string): BreakerState;
  /**
   * Runs one model step with retries, timeout, breaker and fallback. Each
   * attempt that failed after the provider produced output is reported to
   * `request.onFailedAttempt` with its estimated cost, whatever follows.
   */
  call(request: ModelStepRequest): Promise<ModelStepResult>;
}

/**
 * Creates the model pool of a node. Nothing is loaded until the first call.
 *
 * @example
 * ```ts
 * const pool = createModelPool({ models: resolveModels(config.models, { prices }), prices });
 * const step = await pool.call({ model: "fast", messages: [{ role: "user", content: "hi" }],
 *   tools: [], toolChoice: "auto", maxOutputTokens: 256 });
 * ```
 */
export function createModelPool(config: ModelPoolConfig): ModelPool {
  return new Pool(config);
}

class Pool implements ModelPool {
  readonly #models: Readonly<Record<string, ResolvedModel>>;
  readonly #prices: PriceTable;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #retry: ModelRetryPolicy;
  readonly #build: (model: ResolvedModel) => LanguageModelV3 | Promise<LanguageModelV3>;
  readonly #breakers = new Map<string, CircuitBreaker>();
  readonly #languageModels = new Map<string, Promise<LanguageModelV3>>();
  readonly #builtModels = new Map<string, LanguageModelV3>();
  readonly #chains = new Map<string, readonly ResolvedModel[]>();
  /** The price keys of each chain, for the hold made before every call. */
  readonly #chainPriceKeys = new Map<string, readonly string[]>();

  readonly priceVersion: string;

  constructor(config: ModelPoolConfig) {
    this.priceVersion = config.prices.version;
    this.#models = config.models;
    this.#prices = config.prices;
    this.#clock = config.clock ?? systemClock;
    this.#random = config.random ?? systemRandom;
    this.#retry = config.retry ?? defaultModelRetryPolicy;
    assertBackoffPolicy(this.#retry.backoff, "model retry policy: backoff");
    this.#build = config.languageModel ?? createLanguageModel;
  }

  has(name: string): boolean {
    return name in this.#models;
  }

  chain(name: string): readonly ResolvedModel[] {
    const known = this.#chains.get(name);
    if (known !== undefined) return known;
    const chain: ResolvedModel[] = [];
    for (let next: string | undefined = name; next !== undefined; ) {
      const model: ResolvedModel | undefined = this.#models[next];
      if (model === undefined || chain.includes(model)) break;
      chain.push(model);
      next = model.fallback;
    }
    if (chain.length === 0) {
      throw new ConfigError(
        `no model "${name}" on this node (models: ${Object.keys(this.#models).join(", ") || "none"}); define it under models and give it to the agent`,
      );
    }
    this.#chains.set(name, chain);
    return chain;
  }

  maxCost(name: string, inputTokens: number, maxOutputTokens: number): number {
    let keys = this.#chainPriceKeys.get(name);
    if (keys === undefined) {
      keys = this.chain(name).map((model) => model.priceKey);
      this.#chainPriceKeys.set(name, keys);
    }
    return maxCallCost(this.#prices, keys, inputTokens, maxOutputTokens);
  }

  breakerState(name: string): BreakerState {
    return this.#breaker(this.chain(name)[0] as ResolvedModel).state(this.#clock.now());
  }

  async call(request: ModelStepRequest): Promise<ModelStepResult> {
    const chain = this.chain(request.model);
    const problem = stepSettingsProblem(request);
    if (problem !== undefined) throw new ModelRequestError(request.model, undefined, problem);
    const call: StepCall = {
      request,
      naming: toolNaming(request.tools),
    };
    const started = this.#clock.now();
    const failures: ModelFailure[] = [];
    let retryAfterMs: number | undefined;
    // A model that failed without asking for a wait may be tried again after
    // the usual backoff: then no wait is reported, whatever the others asked.
    let canRetrySoon = false;
    let cause: unknown;
    const waitAtLeast = (ms: number) => {
      retryAfterMs = retryAfterMs === undefined ? ms : Math.min(retryAfterMs, ms);
    };
    for (const model of chain) {
      const breaker = this.#breaker(model);
      for (let attempt = 0; ; attempt++) {
        if (!breaker.tryAcquire(this.#clock.now())) {
          failures.push({ model: model.name, reason: "circuit-open" });
          waitAtLeast(Math.max(0, (breaker.retryAt() ?? 0) - this.#clock.now()));
          break;
        }
        const outcome = await this.#attempt(call, model);
        if (outcome.ok) {
          breaker.success();
          return this.#settle(model, outcome.step, call, started);
        }
        const { error, timedOut, streamed } = outcome;
        // The provider billed what it generated, however the attempt ended.
        if (outcome.output !== "") {
          request.onFailedAttempt?.(this.#failedAttemptCost(model, request, outcome.output));
        }
        if (request.signal?.aborted) {
          breaker.abandon();
          throw request.signal.reason ?? error;
        }
        if (timedOut) {
          breaker.failure(this.#clock.now());
          failures.push({ model: model.name, reason: "timeout" });
          canRetrySoon = true;
          cause = new ModelTimeoutError(model.name, model.timeoutMs);
          // Text already went out: a fallback would send an answer after it.
          if (streamed)
            throw new ModelUnavailableError(request.model, failures, undefined, { cause });
          break; // a slow model is likely slow again: fall back rather than wait twice
        }
        const verdict = judgeAttemptError(error, this.#clock.now());
        if (verdict.kind === "refused") {
          breaker.success(); // reachable: the request itself is wrong
          throw new ModelRequestError(model.name, verdict.statusCode, messageOf(error), {
            cause: error,
          });
        }
        if (verdict.kind === "malformed") {
          breaker.abandon();
          throw new ModelResponseError(
            model.name,
            `the response body is not the API's JSON (${messageOf(error)}); check that baseURL points at an OpenAI-compatible /v1 endpoint`,
            { cause: error },
          );
        }
        if (verdict.kind === "unusable" || verdict.kind === "unsendable") {
          breaker.abandon();
          throw verdict.kind === "unusable"
            ? new ModelResponseError(model.name, verdict.detail, { cause: error })
            : new ModelRequestError(model.name, undefined, verdict.detail, { cause: error });
        }
        if (verdict.kind === "unknown") {
          breaker.abandon();
          throw error;
        }
        breaker.failure(this.#clock.now());
        cause = error;
        const failure = {
          model: model.name,
          detail: messageOf(error),
          ...(verdict.statusCode === undefined ? {} : { statusCode: verdict.statusCode }),
        };
        if (streamed) {
          // Text already went out; another attempt would send it twice.
          throw new ModelUnavailableError(
            request.model,
            [
              ...failures,
              {
                ...failure,
                reason: "retries-exhausted",
                detail: `the stream broke: ${failure.detail}`,
              },
            ],
            undefined,
            { cause: error },
          );
        }
        if (attempt >= model.maxRetries) {
          failures.push({ ...failure, reason: "retries-exhausted" });
          if (verdict.retryAfterMs !== undefined) waitAtLeast(verdict.retryAfterMs);
          else canRetrySoon = true;
          break;
        }
        if (
          verdict.retryAfterMs !== undefined &&
          verdict.retryAfterMs > this.#retry.maxRetryAfterMs
        ) {
          failures.push({ ...failure, reason: "retry-after-too-long" });
          waitAtLeast(verdict.retryAfterMs);
          break;
        }
        await this.#sleep(
          retryDelay(attempt + 1, verdict.retryAfterMs, this.#retry, this.#random),
          request.signal,
        );
      }
    }
    if (failures.every((failure) => failure.reason === "timeout")) {
      throw cause instanceof ModelTimeoutError
        ? cause
        : new ModelTimeoutError(request.model, (chain[0] as ResolvedModel).timeoutMs);
    }
    throw new ModelUnavailableError(
      request.model,
      failures,
      canRetrySoon ? undefined : retryAfterMs,
      { cause },
    );
  }

  #breaker(model: ResolvedModel): CircuitBreaker {
    let breaker = this.#breakers.get(model.name);
    if (breaker === undefined) {
      breaker = new CircuitBreaker(model.breaker);
      this.#breakers.set(model.name, breaker);
    }
    return breaker;
  }

  #languageModel(model: ResolvedModel): Promise<LanguageModelV3> {
    let found = this.#languageModels.get(model.name);
    if (found === undefined) {
      found = Promise.resolve(this.#build(model)).then((built) => {
        this.#builtModels.set(model.name, built);
        return built;
      });
      // A failed build (a missing package) is not cached: the next call tries again.
      found.catch(() => this.#languageModels.delete(model.name));
      this.#languageModels.set(model.name, found);
    }
    return found;
  }

  /** One attempt with its timeout; never throws. */
  async #attempt(
    call: StepCall,
    model: ResolvedModel,
  ): Promise<
    | { ok: true; step: RawStep }
    | { ok: false; error: unknown; timedOut: boolean; streamed: boolean; output: string }
  > {
    const timeout = new AbortController();
    let timedOut = false;
    const cancel = this.#clock.setTimer(() => {
      timedOut = true;
      timeout.abort(new ModelTimeoutError(model.name, model.timeoutMs));
    }, model.timeoutMs);
    const { request } = call;
    const signal =
      request.signal === undefined
        ? timeout.signal
        : AbortSignal.any([timeout.signal, request.signal]);
    const progress: AttemptProgress = { streamed: false, output: "" };
    try {
      const languageModel = this.#builtModels.get(model.name) ?? (await this.#languageModel(model));
      const step = await runModelStep(call, languageModel, signal, progress);
      return { ok: true, step };
    } catch (error) {
      return {
        ok: false,
        error,
        timedOut,
        streamed: progress.streamed,
        output: progress.output,
      };
    } finally {
      cancel();
    }
  }

  #settle(
    model: ResolvedModel,
    step: RawStep,
    { request, naming }: StepCall,
    started: number,
  ): ModelStepResult {
    const toolCalls = step.toolCalls.map((call) => toToolCall(call, naming));
    const reported = step.usage.inputTokens !== undefined && step.usage.outputTokens !== undefined;
    const usage: TokenUsage = {
      inputTokens: step.usage.inputTokens ?? estimateInputTokens(request),
      outputTokens:
        step.usage.outputTokens ??
        estimateTokens(step.text + (toolCalls.length === 0 ? "" : JSON.stringify(toolCalls))),
      cachedInputTokens: step.usage.cachedInputTokens ?? 0,
    };
    return {
      model: model.name,
      modelId: model.modelId,
      text: step.text,
      toolCalls,
      finishReason: step.finishReason,
      usage,
      usageReported: reported,
      cost: callCost(this.#prices, model.priceKey, usage),
      latencyMs: this.#clock.now() - started,
    };
  }

  /**
   * What a failed attempt that produced `output` cost by estimate: the input
   * as held, the output at most `maxOutputTokens` (so never more than the
   * hold), at the attempt's model's price.
   */
  #failedAttemptCost(
    model: ResolvedModel,
    request: ModelStepRequest,
    output: string,
  ): FailedAttemptCost {
    const usage: TokenUsage = {
      inputTokens: estimateInputTokens(request),
      outputTokens: Math.min(estimateTokens(output), request.maxOutputTokens),
      cachedInputTokens: 0,
    };
    return {
      model: model.name,
      modelId: model.modelId,
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      cost: callCost(this.#prices, model.priceKey, usage),
    };
  }

  #sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        cancel();
        reject(signal?.reason);
      };
      const cancel = this.#clock.setTimer(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}

function toToolCall(call: RawToolCall, naming: ToolNaming): ModelToolCall {
  const name = naming.fromProvider(call.toolName);
  const input = (call.input ?? null) as JsonValue;
  if (name === undefined)
    return { id: call.toolCallId, name: call.toolName, input, problem: "unknown-tool" };
  if (call.invalid === true) return { id: call.toolCallId, name, input, problem: "invalid-input" };
  return { id: call.toolCallId, name, input };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
