/**
 * One model step through the provider: the loop's request turned into the
 * call options of the AI SDK's model interface (`LanguageModelV3`, which
 * every provider package implements: the prompt, function tools, the tool
 * choice, JSON output, no retries), sent with `doGenerate` or `doStream`,
 * and the answer read back as plain data. The loop runs its own steps,
 * retries, timeouts and tool calls, so `generateText`'s wrapping of the same
 * provider call (prompt validation, telemetry, its step loop) would cost
 * twice the CPU of the call for nothing. No policy here: retries, timeouts
 * and fallbacks are the pool's.
 */
import type {
  LanguageModelV3,
  LanguageModelV3CallOptions,
  LanguageModelV3FinishReason,
  LanguageModelV3FunctionTool,
  LanguageModelV3ToolCall,
  LanguageModelV3Usage,
} from "@ai-sdk/provider";
import { parseToolInput, type ToolNaming, toProviderPrompt } from "./messages.js";
import type { JsonSchema, LlmMessage, ToolDefinition } from "./ports.js";
import { streamPartError } from "./stream-error.js";

/** One model step to run. */
export interface ModelStepRequest {
  /** The entry the call starts with; its fallbacks follow. */
  readonly model: string;
  readonly system?: string;
  readonly messages: readonly LlmMessage[];
  readonly tools: readonly ToolDefinition[];
  /** `none` asks for an answer without tool calls (the loop's last step). */
  readonly toolChoice: "auto" | "none";
  readonly output?: JsonSchema;
  readonly maxOutputTokens: number;
  readonly temperature?: number;
  readonly signal?: AbortSignal;
  /** Set to stream: called with each text delta as it arrives. */
  readonly onText?: (delta: string) => void;
  /**
   * Called for each attempt that failed after the provider produced output
   * (streamed text, reasoning or tool-call deltas), with the estimate of
   * what the provider billed for it, before the call retries, falls back or
   * throws: the loop charges it.
   */
  readonly onFailedAttempt?: (spent: FailedAttemptCost) => void;
}

/**
 * The estimate of what one failed attempt cost: the request's input tokens
 * (estimated as for the hold) and the output the provider streamed before
 * the failure (estimated from its text, at most `maxOutputTokens`), at the
 * attempt's model's price.
 */
export interface FailedAttemptCost {
  /** The entry the attempt was sent to. */
  readonly model: string;
  readonly modelId: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Credits, at the entry's price. */
  readonly cost: number;
}

/** What an attempt produced before it ended: read when it fails. */
export interface AttemptProgress {
  /** Whether any text went out to `onText` (then the call is not retried). */
  streamed: boolean;
  /**
   * The output the provider generated so far (text, reasoning, tool names
   * and arguments), the base of a failed attempt's estimated cost; empty
   * when it produced none.
   */
  output: string;
}

/** What one attempt returned, before usage and cost are settled. */
export interface RawStep {
  readonly text: string;
  readonly toolCalls: readonly RawToolCall[];
  readonly finishReason: string;
  readonly usage: {
    readonly inputTokens?: number | undefined;
    readonly outputTokens?: number | undefined;
    readonly cachedInputTokens?: number | undefined;
  };
}

export interface RawToolCall {
  readonly toolCallId: string;
  readonly toolName: string;
  /** The parsed input; the provider's text when it is not JSON (`invalid`). */
  readonly input: unknown;
  readonly invalid?: boolean;
}

/** What one step needs besides the model: the request and its tool names. */
export interface StepCall {
  readonly request: ModelStepRequest;
  readonly naming: ToolNaming;
}

/**
 * Sends one step: streamed when the request has `onText` (then `progress`
 * says whether any text went out and what output arrived), else generated
 * (a failed generate has produced nothing that can be read).
 */
export function runModelStep(
  call: StepCall,
  model: LanguageModelV3,
  signal: AbortSignal,
  progress: AttemptProgress,
): Promise<RawStep> {
  const { onText } = call.request;
  return onText === undefined
    ? generateStep(call, model, signal)
    : streamStep(call, model, signal, onText, progress);
}

/**
 * What is wrong with a step's settings that a provider would send as they
 * are and an API would refuse (as `generateText` refuses them), or
 * undefined: checked before anything is sent.
 */
export function stepSettingsProblem(request: ModelStepRequest): string | undefined {
  if (!Number.isInteger(request.maxOutputTokens) || request.maxOutputTokens < 1) {
    return `maxOutputTokens must be an integer of at least 1, not ${request.maxOutputTokens}`;
  }
  if (request.temperature !== undefined && !Number.isFinite(request.temperature)) {
    return `temperature must be a finite number, not ${request.temperature}`;
  }
  return undefined;
}

/** The provider call options for a step. */
function callOptions(
  { request, naming }: StepCall,
  signal: AbortSignal,
): LanguageModelV3CallOptions {
  let tools: LanguageModelV3FunctionTool[] | undefined;
  if (request.tools.length > 0) {
    tools = request.tools.map((tool) => ({
      type: "function",
      name: naming.toProvider(tool.name),
      ...(tool.description === undefined ? {} : { description: tool.description }),
      inputSchema: tool.inputSchema as LanguageModelV3FunctionTool["inputSchema"],
    }));
  }
  return {
    prompt: toProviderPrompt(request.system, request.messages, naming),
    ...(tools === undefined ? {} : { tools, toolChoice: { type: request.toolChoice } }),
    ...(request.output === undefined
      ? {}
      : {
          responseFormat: {
            type: "json",
            schema: request.output as LanguageModelV3FunctionTool["inputSchema"],
          },
        }),
    maxOutputTokens: request.maxOutputTokens,
    ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
    abortSignal: signal,
  };
}

async function generateStep(
  call: StepCall,
  model: LanguageModelV3,
  signal: AbortSignal,
): Promise<RawStep> {
  const result = await model.doGenerate(callOptions(call, signal));
  let text = "";
  const toolCalls: RawToolCall[] = [];
  for (const part of result.content) {
    if (part.type === "text") text += part.text;
    else if (part.type === "tool-call" && part.providerExecuted !== true) {
      toolCalls.push(readToolCall(part));
    }
  }
  return {
    text,
    toolCalls,
    finishReason: finishReasonOf(result.finishReason),
    usage: usageOf(result.usage),
  };
}

async function streamStep(
  call: StepCall,
  model: LanguageModelV3,
  signal: AbortSignal,
  onText: (delta: string) => void,
  progress: AttemptProgress,
): Promise<RawStep> {
  const { stream } = await model.doStream(callOptions(call, signal));
  let text = "";
  const toolCalls: RawToolCall[] = [];
  /** Tool calls whose input arrived as deltas (already in `progress.output`). */
  const toolInputsSeen = new Set<string>();
  let finishReason = "unknown";
  let usage: RawStep["usage"] = {};
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value: part } = await reader.read();
      if (done) break;
      switch (part.type) {
        case "text-delta":
          text += part.delta;
          progress.streamed = true;
          progress.output += part.delta;
          onText(part.delta);
          break;
        // Output the provider bills though it is not text: counted should the attempt fail.
        case "reasoning-delta":
          progress.output += part.delta;
          break;
        case "tool-input-start":
          toolInputsSeen.add(part.id);
          progress.output += part.toolName;
          break;
        case "tool-input-delta":
          progress.output += part.delta;
          break;
        case "tool-call":
          if (!toolInputsSeen.has(part.toolCallId)) progress.output += part.toolName + part.input;
          if (part.providerExecuted !== true) toolCalls.push(readToolCall(part));
          break;
        case "finish":
          finishReason = finishReasonOf(part.finishReason);
          usage = usageOf(part.usage);
          break;
        case "error":
          // A provider's error object (an overload sent in a 200 stream)
          // becomes an Error: before any text the pool retries and falls
          // back on it; after, it fails the call (ModelUnavailableError).
          throw streamPartError(part.error);
      }
    }
  } catch (error) {
    // Stop the provider's response (its connection) rather than leave it streaming.
    await reader.cancel(error).catch(() => {});
    throw signal.aborted ? (signal.reason ?? error) : error;
  } finally {
    reader.releaseLock();
  }
  if (signal.aborted) throw signal.reason ?? new Error("the model call was aborted");
  return { text, toolCalls, finishReason, usage };
}

function readToolCall(part: LanguageModelV3ToolCall): RawToolCall {
  const parsed = parseToolInput(part.input);
  return parsed.ok
    ? { toolCallId: part.toolCallId, toolName: part.toolName, input: parsed.input }
    : { toolCallId: part.toolCallId, toolName: part.toolName, input: part.input, invalid: true };
}

/** The unified reason (`stop`, `length`, `tool-calls`...), as `generateText` reports it. */
function finishReasonOf(reason: LanguageModelV3FinishReason | string): string {
  return typeof reason === "string" ? reason : reason.unified;
}

function usageOf(usage: LanguageModelV3Usage): RawStep["usage"] {
  return {
    inputTokens: usage.inputTokens.total,
    outputTokens: usage.outputTokens.total,
    cachedInputTokens: usage.inputTokens.cacheRead,
  };
}
