/**
 * Turns the swarm file's `models:` entries into models a node can call: the
 * `${VAR}` references substituted from the environment, every price found.
 * Runs when a node starts, so a model that cannot work fails the start with
 * a typed error instead of failing each task.
 */
import type { Environment } from "../config/interpolate.js";
import { interpolate } from "../config/interpolate.js";
import type { ModelBreakerConfig, ModelConfig, ModelProvider } from "../config/models.js";
import type { AgentConfig } from "../config/schema.js";
import { ConfigError, type ConfigIssue } from "../errors/index.js";
import { ModelNotConfiguredError } from "../errors/llm.js";
import type { PriceTable } from "../ledger/prices.js";

/** A model entry with its variables substituted and its price found. */
export interface ResolvedModel {
  readonly name: string;
  readonly provider: ModelProvider;
  readonly baseURL?: string;
  readonly apiKey?: string;
  /** The provider's model id. */
  readonly modelId: string;
  readonly fallback?: string;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly breaker: ModelBreakerConfig;
  /** The key of its price in the price table: the model id, or the entry's name when only that is priced. */
  readonly priceKey: string;
}

/** Options of {@link resolveModels}. */
export interface ResolveModelsOptions {
  /** Where `${VAR}` values come from. Default `process.env`. */
  readonly env?: Environment;
  readonly prices: PriceTable;
  /** The entries to resolve (their fallbacks come along). Default: every entry. */
  readonly names?: readonly string[];
}

/**
 * The model names `agents` use, with the fallbacks they may reach, sorted.
 *
 * @example
 * ```ts
 * const names = modelsUsedBy(config.agents, config.models); // ["fast", "smart"]
 * ```
 */
export function modelsUsedBy(
  agents: readonly AgentConfig[],
  models: Readonly<Record<string, ModelConfig>>,
): string[] {
  return withFallbacks(
    agents.flatMap((agent) => (agent.llm === undefined ? [] : [agent.llm.model])),
    models,
  );
}

function withFallbacks(
  names: readonly string[],
  models: Readonly<Record<string, ModelConfig>>,
): string[] {
  const found = new Set<string>();
  for (const name of names) {
    // The schema refuses cycles; the `found` check keeps a hand-built config from looping.
    for (let next: string | undefined = name; next !== undefined && !found.has(next); ) {
      found.add(next);
      next = models[next]?.fallback;
    }
  }
  return [...found].sort();
}

/**
 * Resolves model entries for a node that will call them.
 *
 * @throws ModelNotConfiguredError naming every unset variable (an empty key
 * counts as unset), so one message says everything to export.
 * @throws ConfigError for an unknown entry, a malformed reference, a base URL
 * that is not http(s) once substituted, or a model the price table does not
 * price (the budget could not hold for it).
 *
 * @example
 * ```ts
 * const models = resolveModels(config.models, {
 *   prices: createPriceTable(config.prices),
 *   names: modelsUsedBy(config.agents, config.models),
 * });
 * ```
 */
export function resolveModels(
  models: Readonly<Record<string, ModelConfig>>,
  options: ResolveModelsOptions,
): Readonly<Record<string, ResolvedModel>> {
  const env = options.env ?? process.env;
  const names = withFallbacks(options.names ?? Object.keys(models), models);
  const issues: ConfigIssue[] = [];
  const missing = new Set<string>();
  const unconfigured = new Set<string>();
  const resolved: Record<string, ResolvedModel> = {};
  for (const name of names) {
    const entry = models[name];
    if (entry === undefined) {
      issues.push({
        path: "models",
        message: `no model "${name}" is defined under models; defined: ${Object.keys(models).join(", ") || "none"}`,
      });
      continue;
    }
    const substitute = (field: string, text: string): string => {
      const result = interpolate(text, env);
      for (const variable of result.missing) missing.add(variable);
      if (result.missing.length > 0) unconfigured.add(name);
      for (const message of result.errors) {
        if (!message.startsWith("environment variable")) {
          issues.push({ path: `models.${name}.${field}`, message });
        }
      }
      return result.value;
    };
    const modelId = substitute("model", entry.model);
    if (modelId.trim() === "" && !unconfigured.has(name)) {
      // `${CONCLAVE_MODEL}` set to "" (or `${VAR:-}` left unset): every call
      // would ask for model "", which the provider refuses.
      const variable = /\$\{([A-Za-z_][A-Za-z0-9_]*)/.exec(entry.model)?.[1];
      if (variable === undefined) {
        issues.push({
          path: `models.${name}.model`,
          message: "the model id is blank; give the provider's model id, e.g. gpt-4.1-mini",
        });
      } else {
        missing.add(variable);
        unconfigured.add(name);
      }
    }
    const baseURL = entry.baseURL === undefined ? undefined : substitute("baseURL", entry.baseURL);
    if (baseURL === "" && entry.baseURL !== undefined && entry.baseURL.startsWith("${")) {
      // `${OPENAI_BASE_URL}` set to "": as good as unset.
      missing.add(
        /^\$\{([A-Za-z_][A-Za-z0-9_]*)/.exec(entry.baseURL)?.[1] ?? `models.${name}.baseURL`,
      );
      unconfigured.add(name);
    }
    const substituted = entry.apiKey === undefined ? undefined : substitute("apiKey", entry.apiKey);
    // `${VAR:-}`: the key is optional, and unset means none is sent.
    const optionalKey = entry.apiKey?.endsWith(":-}") === true;
    const apiKey = substituted === "" && optionalKey ? undefined : substituted;
    if (apiKey === "" && entry.apiKey !== undefined) {
      // `${OPENAI_API_KEY}` set to "": as good as unset, and clearer said so.
      missing.add(
        /^\$\{([A-Za-z_][A-Za-z0-9_]*)/.exec(entry.apiKey)?.[1] ?? `models.${name}.apiKey`,
      );
      unconfigured.add(name);
    }
    const headers: Record<string, string> = {};
    for (const [header, value] of Object.entries(entry.headers)) {
      headers[header] = substitute(`headers.${header}`, value);
    }
    if (unconfigured.has(name)) continue;
    if (baseURL !== undefined && !/^https?:\/\/[^\s/]+/.test(baseURL)) {
      issues.push({
        path: `models.${name}.baseURL`,
        message: `expected an http:// or https:// URL once substituted, got ${JSON.stringify(baseURL)}`,
      });
    }
    const priceKey = options.prices.models.has(modelId)
      ? modelId
      : options.prices.models.has(name)
        ? name
        : undefined;
    if (priceKey === undefined) {
      issues.push({
        path: `prices.models`,
        message: `no price for model "${modelId}" (models.${name}): the budget could not hold for its calls; add prices: { models: { "${modelId}": { input: <USD per 1M input tokens>, output: <USD per 1M output tokens> } } } (0 for a free local model)`,
      });
      continue;
    }
    resolved[name] = Object.freeze({
      name,
      provider: entry.provider,
      ...(baseURL === undefined ? {} : { baseURL }),
      ...(apiKey === undefined ? {} : { apiKey }),
      modelId,
      ...(entry.fallback === undefined ? {} : { fallback: entry.fallback }),
      timeoutMs: entry.timeoutMs,
      maxRetries: entry.maxRetries,
      headers: Object.freeze(headers),
      breaker: entry.breaker,
      priceKey,
    });
  }
  if (missing.size > 0) throw new ModelNotConfiguredError([...unconfigured], [...missing].sort());
  if (issues.length > 0) {
    throw new ConfigError(
      `models cannot start:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join("\n")}`,
      issues,
    );
  }
  return Object.freeze(resolved);
}
