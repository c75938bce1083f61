/**
 * The AI SDK models behind model entries. Each provider package, and the
 * SDK itself, is imported on first use: a swarm without models never loads
 * them, and one that uses only a local server never loads Anthropic's.
 */
import type { LanguageModel } from "ai";
import type { ResolvedModel } from "./models.js";

/** The AI SDK module, loaded once, on the first model call. */
export type AiSdk = typeof import("ai");

let loading: Promise<AiSdk> | undefined;
let loaded: AiSdk | undefined;

/** Loads the AI SDK (once). */
export function loadAiSdk(): Promise<AiSdk> {
  loading ??= import("ai").then((module) => {
    loaded = module;
    return module;
  });
  return loading;
}

/** The AI SDK if it is loaded already: the hot path then skips an await. */
export function loadedAiSdk(): AiSdk | undefined {
  return loaded;
}

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
export async function createLanguageModel(model: ResolvedModel): Promise<LanguageModel> {
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
