/**
 * The AI SDK provider models behind model entries. Each provider package is
 * imported on first use: a swarm without models never loads one, and one
 * that uses only a local server never loads Anthropic's.
 */
import type { LanguageModelV3 } from "@ai-sdk/provider";
import type { ResolvedModel } from "./models.js";

/**
 * The AI SDK language model for a resolved entry: OpenAI (chat completions),
 * Anthropic (messages), or any OpenAI-compatible server by base URL (chat
 * completions with usage in streams and JSON-schema structured output, as
 * Ollama, vLLM, llama.cpp and LM Studio serve them).
 *
 * @example
 * ```ts
 * const model = await createLanguageModel(resolved["fast"]!);
 * ```
 */
export async function createLanguageModel(model: ResolvedModel): Promise<LanguageModelV3> {
  const common = {
    ...(model.apiKey === undefined ? {} : { apiKey: model.apiKey }),
    ...(model.baseURL === undefined ? {} : { baseURL: model.baseURL }),
    headers: { ...model.headers },
  };
  switch (model.provider) {
    case "openai": {
      const { createOpenAI } = await import("@ai-sdk/openai");
      // Chat completions rather than the Responses API: the one API every
      // OpenAI-compatible gateway in front of OpenAI also serves.
      return createOpenAI(common).chat(model.modelId);
    }
    case "anthropic": {
      const { createAnthropic } = await import("@ai-sdk/anthropic");
      return createAnthropic(common)(model.modelId);
    }
    case "openai-compatible": {
      const { createOpenAICompatible } = await import("@ai-sdk/openai-compatible");
      return createOpenAICompatible({
        ...common,
        name: model.name,
        baseURL: model.baseURL ?? "",
        includeUsage: true,
        supportsStructuredOutputs: true,
      })(model.modelId);
    }
  }
}
