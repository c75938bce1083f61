/**
 * What a model call may cost before it is sent, and what it cost after.
 * Pure functions over the price table (`src/ledger/prices.ts`): integer
 * credits, rounded up.
 *
 * The estimate of input tokens is deliberately high, because the budget
 * holds it: UTF-8 bytes ÷ 3, rounded up, per text, plus
 * {@link MESSAGE_OVERHEAD_TOKENS} per message and
 * {@link REPLY_OVERHEAD_TOKENS} per request. BPE tokenizers average about
 * 4 bytes of English per token, and never less than 1 byte, so bytes ÷ 3 is
 * a third above typical prose and close to exact for CJK (3 bytes a
 * character, about a token each). It can still fall short for text that
 * tokenizes badly (random identifiers, base64); the charge then takes the
 * excess from the free balance (see `Hold.charge`).
 */
import { type PriceTable, tokenCost } from "../ledger/prices.js";
import type { JsonSchema, LlmMessage, TokenUsage, ToolDefinition } from "./ports.js";

/** Tokens a chat format adds per message (role markers, separators). */
export const MESSAGE_OVERHEAD_TOKENS = 4;
/** Tokens that prime the model's reply. */
export const REPLY_OVERHEAD_TOKENS = 3;
/** UTF-8 bytes per token assumed by the estimate (lower is more conservative). */
export const BYTES_PER_TOKEN = 3;

/** Tokens of `text` by the conservative estimate. */
export function estimateTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text, "utf8") / BYTES_PER_TOKEN);
}

/** What a request sends, for the estimate. */
export interface InputEstimateRequest {
  readonly system?: string;
  readonly messages: readonly LlmMessage[];
  readonly tools?: readonly ToolDefinition[];
  readonly output?: JsonSchema;
}

/**
 * A conservative estimate of a request's input tokens: its texts, tool
 * calls and results, tool definitions and output schema, plus overheads.
 */
export function estimateInputTokens(request: InputEstimateRequest): number {
  let tokens = REPLY_OVERHEAD_TOKENS;
  if (request.system !== undefined)
    tokens += MESSAGE_OVERHEAD_TOKENS + estimateTokens(request.system);
  for (const message of request.messages) {
    tokens += MESSAGE_OVERHEAD_TOKENS;
    switch (message.role) {
      case "user":
        tokens += estimateTokens(message.content);
        break;
      case "assistant":
        tokens += estimateTokens(message.content);
        for (const call of message.toolCalls ?? []) {
          tokens += estimateTokens(call.id) + estimateTokens(call.name);
          tokens += estimateTokens(JSON.stringify(call.input));
        }
        break;
      case "tool":
        tokens += estimateTokens(message.toolCallId) + estimateTokens(message.name);
        tokens += estimateTokens(JSON.stringify(message.output));
        break;
    }
  }
  for (const tool of request.tools ?? []) {
    tokens += MESSAGE_OVERHEAD_TOKENS + estimateTokens(tool.name);
    tokens +=
      estimateTokens(tool.description ?? "") + estimateTokens(JSON.stringify(tool.inputSchema));
  }
  if (request.output !== undefined) tokens += estimateTokens(JSON.stringify(request.output));
  return tokens;
}

/**
 * The most a call can cost: `inputTokens` and `maxOutputTokens` at the
 * dearest of the models it may end up on (its fallbacks included), in
 * credits. `priceKeys` are the price-table keys of those models.
 */
export function maxCallCost(
  prices: PriceTable,
  priceKeys: readonly string[],
  inputTokens: number,
  maxOutputTokens: number,
): number {
  let most = 0;
  for (const key of priceKeys) {
    most = Math.max(most, tokenCost(prices, key, { inputTokens, outputTokens: maxOutputTokens }));
  }
  return most;
}

/**
 * What a call cost, from the usage the provider reported. Cached input
 * tokens are part of `inputTokens` and are billed at the input rate: the
 * price table has no cached rate yet, so a cache hit never costs less than
 * the table says (conservative).
 */
export function callCost(prices: PriceTable, priceKey: string, usage: TokenUsage): number {
  return tokenCost(prices, priceKey, {
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
  });
}
