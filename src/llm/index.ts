/**
 * LLM agents: model entries resolved from the environment, a resilient call
 * per model step (retries, timeout, breaker, fallback), costs held and
 * charged in credits, and the durable loop behind `ctx.llm`, written against
 * the ports the runtime implements (`StepJournal`, `Budget`, `ToolRunner`).
 */
export {
  DuplicateStepError,
  type ModelFailure,
  ModelNotConfiguredError,
  ModelRequestError,
  ModelResponseError,
  ModelStreamError,
  ModelTimeoutError,
  ModelUnavailableError,
  NonDeterminismError,
  ToolResultTooLargeError,
  UnknownToolError,
} from "../errors/llm.js";
export { type BreakerState, CircuitBreaker, type CircuitBreakerConfig } from "./breaker.js";
export {
  createLlmClient,
  DEFAULT_MAX_TOOL_RESULT_BYTES,
  DEFAULT_OUTPUT_REPAIRS,
  type LlmClientConfig,
  type LlmSettings,
} from "./client.js";
export {
  BYTES_PER_TOKEN,
  callCost,
  estimateInputTokens,
  estimateTokens,
  type InputEstimateRequest,
  MESSAGE_OVERHEAD_TOKENS,
  maxCallCost,
  REPLY_OVERHEAD_TOKENS,
} from "./cost.js";
export {
  createMemoryBudget,
  createMemoryJournal,
  type MemoryBudget,
  type MemoryCharge,
  type MemoryJournal,
  unmeteredBudget,
} from "./memory.js";
export {
  createModelPool,
  type FailedAttemptCost,
  type ModelPool,
  type ModelPoolConfig,
  type ModelStepRequest,
  type ModelStepResult,
  type ModelToolCall,
} from "./model-pool.js";
export {
  modelsUsedBy,
  type ResolvedModel,
  type ResolveModelsOptions,
  resolveModels,
} from "./models.js";
export type * from "./ports.js";
export { createLanguageModel } from "./providers.js";
export {
  type AttemptVerdict,
  defaultModelRetryPolicy,
  judgeAttemptError,
  type ModelRetryPolicy,
  parseRetryAfter,
  retryDelay,
} from "./retry.js";
export {
  type LoadAgentLlmOptions,
  loadAgentLlm,
  type OpenModelPoolOptions,
  openModelPool,
} from "./setup.js";
