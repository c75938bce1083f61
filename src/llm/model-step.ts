/**
 * One model step through the AI SDK: the loop's request turned into SDK
 * arguments (messages, tools without `execute`, the JSON output format, no
 * SDK retries), sent with `generateText` or `streamText`, and the answer read
 * back as plain data. No policy here: retries, timeouts and fallbacks are
 * the pool's.
 */
import type { LanguageModel, ToolSet } from "ai";
import { jsonOutput, type ToolNaming, toModelMessages } from "./messages.js";
import type { JsonSchema, LlmMessage, ToolDefinition } from "./ports.js";
import type { AiSdk } from "./providers.js";

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
}

/** What one attempt returned, before usage and cost are settled. */
export interface RawStep {
  readonly text: string;
  readonly toolCalls: readonly RawToolCall[];
  readonly finishReason: string;
  readonly usage: {
    readonly inputTokens?: number | undefined;
    readonly outputTokens?: number | undefined;
    readonly inputTokenDetails?: { readonly cacheReadTokens?: number | undefined };
    readonly cachedInputTokens?: number | undefined;
  };
}

export interface RawToolCall {
  readonly toolCallId: string;
  readonly toolName: string;
  readonly input: unknown;
  readonly invalid?: boolean;
  readonly error?: unknown;
}

/** What one step needs besides the model: the loaded SDK, the request, its tool names. */
export interface StepCall {
  readonly sdk: AiSdk;
  readonly request: ModelStepRequest;
  readonly naming: ToolNaming;
}

/**
 * Sends one step: streamed when the request has `onText` (then
 * `progress.streamed` says whether any text went out), else generated.
 */
export function runModelStep(
  call: StepCall,
  model: LanguageModel,
  signal: AbortSignal,
  progress: { streamed: boolean },
): Promise<RawStep> {
  const { onText } = call.request;
  return onText === undefined
    ? generateStep(call, model, signal)
    : streamStep(call, model, signal, onText, progress);
}

/** The SDK arguments shared by generate and stream. */
function stepArguments(
  { sdk, request, naming }: StepCall,
  model: LanguageModel,
  signal: AbortSignal,
) {
  let tools: ToolSet | undefined;
  if (request.tools.length > 0) {
    tools = {};
    for (const tool of request.tools) {
      tools[naming.toProvider(tool.name)] = {
        ...(tool.description === undefined ? {} : { description: tool.description }),
        inputSchema: sdk.jsonSchema(tool.inputSchema as Parameters<AiSdk["jsonSchema"]>[0]),
      };
    }
  }
  return {
    model,
    ...(request.system === undefined ? {} : { system: request.system }),
    messages: toModelMessages(request.messages, naming),
    ...(tools === undefined ? {} : { tools, toolChoice: request.toolChoice }),
    ...(request.output === undefined ? {} : { output: jsonOutput(request.output) }),
    maxOutputTokens: request.maxOutputTokens,
    ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
    maxRetries: 0,
    abortSignal: signal,
  };
}

async function generateStep(
  call: StepCall,
  model: LanguageModel,
  signal: AbortSignal,
): Promise<RawStep> {
  const result = await call.sdk.generateText(stepArguments(call, model, signal));
  return {
    text: result.text,
    toolCalls: result.toolCalls as readonly RawToolCall[],
    finishReason: result.finishReason,
    usage: result.usage,
  };
}

async function streamStep(
  call: StepCall,
  model: LanguageModel,
  signal: AbortSignal,
  onText: (delta: string) => void,
  progress: { streamed: boolean },
): Promise<RawStep> {
  const result = call.sdk.streamText({
    ...stepArguments(call, model, signal),
    // Errors arrive as stream parts below; the default handler would log them.
    onError: () => {},
  });
  let text = "";
  const toolCalls: RawToolCall[] = [];
  let finishReason = "unknown";
  let usage: RawStep["usage"] = {};
  for await (const part of result.fullStream) {
    switch (part.type) {
      case "text-delta":
        text += part.text;
        progress.streamed = true;
        onText(part.text);
        break;
      case "tool-call":
        toolCalls.push(part as RawToolCall);
        break;
      case "finish-step":
        finishReason = part.finishReason;
        usage = part.usage;
        break;
      case "error":
        throw part.error;
      case "abort":
        throw signal.reason ?? new Error("the model call was aborted");
    }
  }
  return { text, toolCalls, finishReason, usage };
}
