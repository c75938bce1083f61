/**
 * The durable agent loop behind `ctx.llm`: model call, tool calls, model
 * call… until the model answers or `maxSteps` is reached. Every model call
 * is one journal step (hold the most it can cost, send, charge what it cost,
 * record) and every tool call another, so a redelivered task replays its
 * recorded steps — no request sent, nothing charged — and carries on from
 * the first step that never completed.
 *
 * Step names, unique in a task: `<prefix>/<generation>/model/<i>` for the
 * i-th model call of the task's `generation`-th `generate`/`stream`, and
 * `<prefix>/<generation>/tool/<i>/<j>` for the j-th tool call it made.
 */

import { LLM_DEFAULTS } from "../config/models.js";
import { ConclaveError, ConfigError } from "../errors/index.js";
import { ModelResponseError, ToolResultTooLargeError, UnknownToolError } from "../errors/llm.js";
import type { JsonValue } from "../wire/json-value.js";
import { estimateInputTokens } from "./cost.js";
import { outputValidator, parseOutput } from "./messages.js";
import type {
  FailedAttemptCost,
  ModelPool,
  ModelStepRequest,
  ModelStepResult,
  ModelToolCall,
} from "./model-pool.js";
import type {
  Budget,
  GenerateOptions,
  GenerateResult,
  JsonSchema,
  LlmCallRecord,
  LlmClient,
  LlmDelta,
  LlmMessage,
  LlmStream,
  StepJournal,
  ToolDefinition,
  ToolRunner,
} from "./ports.js";

/** An agent's LLM settings: what `generate` uses for what it is not told. */
export interface LlmSettings {
  /** A model entry name. */
  readonly model: string;
  readonly system?: string;
  readonly tools?: readonly string[];
  readonly output?: JsonSchema;
  readonly maxSteps?: number;
  readonly maxOutputTokens?: number;
  readonly temperature?: number;
}

/** Largest tool result passed back to a model, in bytes of JSON, unless configured. */
export const DEFAULT_MAX_TOOL_RESULT_BYTES = 64 * 1024;
/** How often an answer that breaks the output schema is sent back for a corrected one. */
export const DEFAULT_OUTPUT_REPAIRS = 1;

/** What an agent's LLM client (`ctx.llm`) is built from. */
export interface LlmClientConfig {
  /** The node's models. */
  readonly pool: ModelPool;
  /** The task's journal. */
  readonly journal: StepJournal;
  /** The agent's budget (`unmeteredBudget` for an agent without one). */
  readonly budget: Budget;
  /** The agent's tools; without it, no tool can be offered. */
  readonly tools?: ToolRunner;
  readonly settings: LlmSettings;
  /** Receives one record per model call, fresh or replayed (the runtime publishes `llm.call`). */
  readonly onCall?: (record: LlmCallRecord) => void;
  /** Receives the text deltas of `stream` calls (the runtime publishes them when asked). */
  readonly onDelta?: (delta: LlmDelta) => void;
  /** Default {@link DEFAULT_MAX_TOOL_RESULT_BYTES}. */
  readonly maxToolResultBytes?: number;
  /** Default {@link DEFAULT_OUTPUT_REPAIRS}. */
  readonly outputRepairs?: number;
  /** First segment of step names. Default `llm`. */
  readonly stepPrefix?: string;
  /**
   * Aborts every call of this client (the runtime gives the task's signal,
   * `ctx.signal`): a call's own `signal` is added to it, not put in its place.
   */
  readonly signal?: AbortSignal;
}

/**
 * Creates the loop of one task (one per handler invocation: step names count
 * from zero per task).
 *
 * @example
 * ```ts
 * const llm = createLlmClient({ pool, journal, budget, tools, settings: { model: "fast" } });
 * const { text } = await llm.generate({ prompt: "Summarise the findings" });
 * ```
 */
export function createLlmClient(config: LlmClientConfig): LlmClient {
  return new Loop(config);
}

interface Totals {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  cost: number;
  modelCalls: number;
  toolCalls: number;
}

class Loop implements LlmClient {
  readonly #config: LlmClientConfig;
  readonly #prefix: string;
  #generations = 0;

  constructor(config: LlmClientConfig) {
    this.#config = config;
    this.#prefix = config.stepPrefix ?? "llm";
  }

  generate(options: GenerateOptions): Promise<GenerateResult> {
    return this.#run(options, undefined);
  }

  stream(options: GenerateOptions): LlmStream {
    const queue: string[] = [];
    let finished = false;
    let wake: (() => void) | undefined;
    const push = (delta: LlmDelta) => {
      this.#config.onDelta?.(delta);
      queue.push(delta.text);
      wake?.();
    };
    const result = this.#run(options, push).finally(() => {
      finished = true;
      wake?.();
    });
    // Whoever only iterates still sees the failure: the iterator rethrows it.
    result.catch(() => undefined);
    return {
      result,
      async *[Symbol.asyncIterator]() {
        for (;;) {
          const next = queue.shift();
          if (next !== undefined) {
            yield next;
            continue;
          }
          if (finished) {
            await result;
            return;
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
        }
      },
    };
  }

  async #run(
    options: GenerateOptions,
    emit: ((delta: LlmDelta) => void) | undefined,
  ): Promise<GenerateResult> {
    const prefix = `${this.#prefix}/${this.#generations++}`;
    const { settings } = this.#config;
    const model = options.model ?? settings.model;
    const maxSteps = options.maxSteps ?? settings.maxSteps ?? LLM_DEFAULTS.maxSteps;
    if (!Number.isInteger(maxSteps) || maxSteps < 1 || maxSteps > 1000) {
      throw new ConfigError(
        `maxSteps must be a whole number from 1 to 1000 (model calls in one generate), not ${String(maxSteps)}`,
      );
    }
    const output = options.output ?? settings.output;
    const toolNames = options.tools ?? settings.tools ?? [];
    const tools = toolNames.map((name) => this.#describe(name, toolNames));
    if (output !== undefined) compileOutput(output);
    const messages: LlmMessage[] = [...(options.messages ?? [])];
    if (options.prompt !== undefined) messages.push({ role: "user", content: options.prompt });
    if (messages.length === 0) {
      throw new ConfigError('generate needs a prompt or messages; pass { prompt: "…" }');
    }
    const signal = eitherSignal(this.#config.signal, options.signal);
    signal?.throwIfAborted();
    const system = options.system ?? settings.system;
    const temperature = options.temperature ?? settings.temperature;
    const maxOutputTokens =
      options.maxOutputTokens ?? settings.maxOutputTokens ?? LLM_DEFAULTS.maxOutputTokens;
    // Checked before anything is held or sent: the budget's arithmetic and
    // the provider would each refuse it later, naming neither the setting nor the fix.
    if (!Number.isInteger(maxOutputTokens) || maxOutputTokens < 1) {
      throw new ConfigError(
        `maxOutputTokens must be a whole number of at least 1 (output tokens per model call), not ${String(maxOutputTokens)}`,
      );
    }
    if (temperature !== undefined && !Number.isFinite(temperature)) {
      throw new ConfigError(
        `temperature must be a finite number (0 to 2 for most models), not ${String(temperature)}`,
      );
    }
    const base = {
      model,
      ...(system === undefined ? {} : { system }),
      messages,
      tools,
      ...(output === undefined ? {} : { output }),
      maxOutputTokens,
      ...(temperature === undefined ? {} : { temperature }),
      ...(signal === undefined ? {} : { signal }),
    };
    const totals: Totals = {
      inputTokens: 0,
      outputTokens: 0,
      cachedInputTokens: 0,
      cost: 0,
      modelCalls: 0,
      toolCalls: 0,
    };
    const outputRepairs = this.#config.outputRepairs ?? DEFAULT_OUTPUT_REPAIRS;
    let repairs = 0;
    for (let i = 0; ; i++) {
      // The last allowed call, and a repair, must answer rather than call tools.
      const answerNow = i >= maxSteps - 1 || repairs > 0;
      const step = await this.#modelStep(
        `${prefix}/model/${i}`,
        { ...base, toolChoice: answerNow ? "none" : "auto" },
        emit,
      );
      add(totals, step);
      messages.push(assistantMessage(step));
      if (step.toolCalls.length > 0) {
        checkToolCalls(step, toolNames, answerNow, maxSteps);
        const results = await Promise.all(
          step.toolCalls.map((call, j) => this.#toolStep(`${prefix}/tool/${i}/${j}`, call, signal)),
        );
        step.toolCalls.forEach((call, j) => {
          messages.push({
            role: "tool",
            toolCallId: call.id,
            name: call.name,
            output: results[j] ?? null,
          });
        });
        totals.toolCalls += step.toolCalls.length;
        continue;
      }
      if (output === undefined) return finish(step.text, undefined, messages, totals);
      const parsed = parseOutput(step.text, output);
      if (parsed.ok) return finish(step.text, parsed.value, messages, totals);
      if (repairs >= outputRepairs) {
        throw new ModelResponseError(
          step.model,
          `its final answer does not satisfy the output schema (${parsed.problems})${outputRepairs > 0 ? ` even after ${outputRepairs} request(s) to correct it` : ""}; make the instructions say what JSON to return, or use a model that supports structured output`,
        );
      }
      repairs++;
      messages.push({
        role: "user",
        content: `Your answer is not valid: ${parsed.problems}. Answer again with only a JSON value that satisfies the requested schema, without any other text.`,
      });
    }
  }

  #describe(name: string, offered: readonly string[]): ToolDefinition {
    const definition = this.#config.tools?.describe(name);
    if (definition === undefined)
      throw new UnknownToolError(
        name,
        offered.filter((n) => n !== name),
      );
    return definition;
  }

  async #modelStep(
    name: string,
    request: ModelStepRequest,
    emit: ((delta: LlmDelta) => void) | undefined,
  ): Promise<ModelStepResult> {
    const { pool, budget, journal } = this.#config;
    let fresh = false;
    const step = await journal.step(name, async () => {
      fresh = true;
      // Aborted between steps (while a tool ran): hold nothing, send nothing.
      request.signal?.throwIfAborted();
      const inputTokens = estimateInputTokens(request);
      const most = pool.maxCost(request.model, inputTokens, request.maxOutputTokens);
      // Throws (InsufficientCreditsError, AgentHaltedError) before anything is sent.
      const hold = await budget.hold(most, {
        step: name,
        model: request.model,
        ...(request.signal === undefined ? {} : { signal: request.signal }),
      });
      // Attempts that failed after the provider produced output: it billed them.
      const failed: FailedAttemptCost[] = [];
      const send: ModelStepRequest = {
        ...request,
        onFailedAttempt: (spent) => failed.push(spent),
        ...(emit === undefined
          ? {}
          : { onText: (text: string) => emit({ step: name, text, replayed: false }) }),
      };
      let result: ModelStepResult;
      const started = performance.now();
      try {
        result = await pool.call(send);
      } catch (error) {
        // The hold is keyed by the step: should settling fail, the next attempt reclaims it.
        const spent = failed.length === 0 ? undefined : failedAttemptsCharge(failed, most);
        if (spent === undefined) await hold.release().catch(() => undefined);
        else {
          await hold
            .charge(spent.credits, {
              step: name,
              model: spent.model,
              modelId: spent.modelId,
              inputTokens: spent.inputTokens,
              outputTokens: spent.outputTokens,
              cachedInputTokens: 0,
              priceVersion: pool.priceVersion,
              estimate: "failed-call",
              failedAttempts: failed.length,
              failedAttemptCredits: spent.credits,
            })
            .catch(() => undefined);
        }
        // Failed calls are calls too: their record says so, with what they cost.
        const entry = pool.chain(request.model)[0];
        this.#config.onCall?.({
          model: spent?.model ?? request.model,
          modelId: spent?.modelId ?? entry?.modelId ?? "",
          inputTokens: spent?.inputTokens ?? 0,
          outputTokens: spent?.outputTokens ?? 0,
          cachedInputTokens: 0,
          cost: spent?.credits ?? 0,
          latencyMs: Math.round(performance.now() - started),
          step: name,
          replayed: false,
          failed: error instanceof ConclaveError ? error.code : "E_UNKNOWN",
        });
        throw error;
      }
      const earlier = failed.length === 0 ? undefined : failedAttemptsCharge(failed, most);
      const cost = result.cost + (earlier?.credits ?? 0);
      await hold.charge(cost, {
        step: name,
        model: result.model,
        modelId: result.modelId,
        inputTokens: result.usage.inputTokens + (earlier?.inputTokens ?? 0),
        outputTokens: result.usage.outputTokens + (earlier?.outputTokens ?? 0),
        cachedInputTokens: result.usage.cachedInputTokens,
        priceVersion: pool.priceVersion,
        ...(result.usageReported ? {} : { estimate: "usage-not-reported" as const }),
        ...(earlier === undefined
          ? {}
          : { failedAttempts: failed.length, failedAttemptCredits: earlier.credits }),
      });
      // The step's cost is what was charged for it, its failed attempts included.
      return earlier === undefined ? result : { ...result, cost };
    });
    if (!fresh && emit !== undefined && step.text !== "") {
      emit({ step: name, text: step.text, replayed: true });
    }
    this.#config.onCall?.({
      model: step.model,
      modelId: step.modelId,
      inputTokens: step.usage.inputTokens,
      outputTokens: step.usage.outputTokens,
      cachedInputTokens: step.usage.cachedInputTokens,
      cost: step.cost,
      latencyMs: step.latencyMs,
      step: name,
      replayed: !fresh,
    });
    return step;
  }

  #toolStep(
    name: string,
    call: ModelToolCall,
    signal: AbortSignal | undefined,
  ): Promise<JsonValue> {
    const { journal, tools } = this.#config;
    const limit = this.#config.maxToolResultBytes ?? DEFAULT_MAX_TOOL_RESULT_BYTES;
    return journal.step(name, async () => {
      // Offered tools were described by this runner, so it exists here.
      const runner = tools as ToolRunner;
      const value = await runner.run(call.name, call.input, {
        step: name,
        callId: call.id,
        ...(signal === undefined ? {} : { signal }),
      });
      const json = JSON.stringify(value ?? null);
      const size = Buffer.byteLength(json, "utf8");
      if (size > limit) throw new ToolResultTooLargeError(call.name, size, limit);
      return value ?? null;
    });
  }
}

/** A signal aborted when either of two is; `undefined` when neither is given. */
function eitherSignal(
  first: AbortSignal | undefined,
  second: AbortSignal | undefined,
): AbortSignal | undefined {
  if (first === undefined || first === second) return second;
  if (second === undefined) return first;
  return AbortSignal.any([first, second]);
}

function compileOutput(output: JsonSchema): void {
  try {
    outputValidator(output);
  } catch (cause) {
    throw new ConfigError(
      `the output schema cannot be used: ${(cause as Error).message}; give a JSON Schema (draft 2020-12 or 7) object`,
      [],
      { cause },
    );
  }
}

function checkToolCalls(
  step: ModelStepResult,
  offered: readonly string[],
  answerNow: boolean,
  maxSteps: number,
): void {
  for (const call of step.toolCalls) {
    if (call.problem === "unknown-tool") throw new UnknownToolError(call.name, offered);
    if (call.problem === "invalid-input") {
      throw new ModelResponseError(
        step.model,
        `the arguments of its call to tool "${call.name}" are not valid JSON`,
      );
    }
  }
  if (answerNow) {
    throw new ModelResponseError(
      step.model,
      `it called tools at its last allowed step (maxSteps ${maxSteps}) though told to answer; raise maxSteps, or check that the server honours tool_choice "none"`,
    );
  }
}

function assistantMessage(step: ModelStepResult): LlmMessage {
  if (step.toolCalls.length === 0) return { role: "assistant", content: step.text };
  return {
    role: "assistant",
    content: step.text,
    toolCalls: step.toolCalls.map(({ id, name, input }) => ({ id, name, input })),
  };
}

/**
 * The charge for attempts that failed after the provider produced output:
 * their estimates added up, never more than `most` (what the call held),
 * under the last attempt's model (where the call ended or moved on).
 */
function failedAttemptsCharge(
  failed: readonly FailedAttemptCost[],
  most: number,
): {
  readonly credits: number;
  readonly model: string;
  readonly modelId: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
} {
  const last = failed[failed.length - 1] as FailedAttemptCost;
  let cost = 0;
  let inputTokens = 0;
  let outputTokens = 0;
  for (const attempt of failed) {
    cost += attempt.cost;
    inputTokens += attempt.inputTokens;
    outputTokens += attempt.outputTokens;
  }
  return {
    credits: Math.min(cost, most),
    model: last.model,
    modelId: last.modelId,
    inputTokens,
    outputTokens,
  };
}

function add(totals: Totals, step: ModelStepResult): void {
  totals.inputTokens += step.usage.inputTokens;
  totals.outputTokens += step.usage.outputTokens;
  totals.cachedInputTokens += step.usage.cachedInputTokens;
  totals.cost += step.cost;
  totals.modelCalls++;
}

function finish(
  text: string,
  output: JsonValue | undefined,
  messages: readonly LlmMessage[],
  totals: Totals,
): GenerateResult {
  return {
    text,
    ...(output === undefined ? {} : { output }),
    messages,
    modelCalls: totals.modelCalls,
    toolCalls: totals.toolCalls,
    usage: {
      inputTokens: totals.inputTokens,
      outputTokens: totals.outputTokens,
      cachedInputTokens: totals.cachedInputTokens,
    },
    cost: totals.cost,
  };
}
