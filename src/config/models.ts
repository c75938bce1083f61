// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the ${VAR} syntax is documented literally.
// The `models:` section of a swarm file and the `llm:` block of an agent.
//
// Model entries are NOT interpolated when the file is loaded (see
// `DEFERRED_SECTIONS` in interpolate.ts): the schema must see what was
// written to refuse a literal API key, and a node that runs no model agent
// must start without the model's variables. The model layer (`src/llm`)
// substitutes `${VAR}` in baseURL, apiKey, model and headers when a node
// starts a model, and names every variable left unset.
import { resolve } from "node:path";
import { z } from "zod";
import { expecting, integer, isRecord, path, pattern } from "./fields.js";
import { didYouMean, quoteList } from "./messages.js";

/** The providers a model entry may name. */
export const MODEL_PROVIDERS = ["openai", "anthropic", "openai-compatible"] as const;
export type ModelProvider = (typeof MODEL_PROVIDERS)[number];

/** A circuit breaker's settings: when a model is skipped, and for how long. */
export interface ModelBreakerConfig {
  /** Consecutive failed attempts (429, 5xx, network, timeout) that open the breaker. */
  readonly failures: number;
  /** How long an open breaker skips the model before one trial call (half-open). */
  readonly coolDownMs: number;
}

/**
 * One entry of `models:`. String fields are as written: `baseURL`, `apiKey`,
 * `model` and header values may hold `${VAR}` references, which the model
 * layer resolves when a node starts the model (`resolveModels` in
 * `src/llm`). `apiKey` is always a reference, never a key.
 */
export interface ModelConfig {
  /** The key under `models`, repeated so an entry can be passed around alone. */
  readonly name: string;
  readonly provider: ModelProvider;
  /** The API's base URL, e.g. `http://127.0.0.1:11434/v1`; required for `openai-compatible`. */
  readonly baseURL?: string;
  /** A `${VAR}` reference to the key; openai and anthropic default to `${OPENAI_API_KEY}` / `${ANTHROPIC_API_KEY}`. */
  readonly apiKey?: string;
  /** The provider's model id, e.g. `gpt-4.1-mini`. */
  readonly model: string;
  /** Another entry's name, called when this one is unavailable (breaker open, retries exhausted, timeout). */
  readonly fallback?: string;
  /** Longest one attempt may take, in ms; a longer one is aborted. */
  readonly timeoutMs: number;
  /** Retries of one call after a 429, a 5xx or a network error, with backoff, honouring Retry-After. */
  readonly maxRetries: number;
  /** Extra HTTP headers; secrets among them must be `${VAR}` references too. */
  readonly headers: Readonly<Record<string, string>>;
  readonly breaker: ModelBreakerConfig;
}

/** What an LLM agent runs with: its model, prompt, tools and limits. */
export interface AgentLlmConfig {
  /** A key of `SwarmConfig.models`. */
  readonly model: string;
  /** Path of the system prompt (Markdown or text); relative to the swarm file until loaded. */
  readonly instructions?: string;
  /** Tools the model may call: task types served by roles of the swarm, local functions of the agent module, or `mcp:<server>[/<tool>]`. */
  readonly tools: readonly string[];
  /** Path of a JSON Schema file the final answer must satisfy (structured output). */
  readonly output?: string;
  /** Model calls per `generate` at most; the last one is told to answer without tools. */
  readonly maxSteps: number;
  /** Output tokens per model call at most; also what the budget holds for the answer. */
  readonly maxOutputTokens: number;
  readonly temperature?: number;
  /** Credits escrowed per call of a tool that is another role's task, released to whoever answers it. */
  readonly toolBudget: number;
  /** Publish the text deltas of `ctx.llm.stream` calls as signed `llm.delta` events on the bus. */
  readonly publishDeltas: boolean;
}

/** Defaults of an agent's `llm:` block, shared with `ctx.llm` calls that set nothing. */
export const LLM_DEFAULTS = Object.freeze({
  maxSteps: 8,
  maxOutputTokens: 4096,
  timeoutMs: 120_000,
  maxRetries: 3,
  breakerFailures: 5,
  breakerCoolDownMs: 30_000,
});

/** The variable each provider's key conventionally comes from. */
export const DEFAULT_KEY_VARIABLE: Readonly<Record<ModelProvider, string | undefined>> =
  Object.freeze({
    openai: "OPENAI_API_KEY",
    anthropic: "ANTHROPIC_API_KEY",
    // Local servers (Ollama, llama.cpp) need no key.
    "openai-compatible": undefined,
  });

const MODEL_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const TOOL_NAME =
  /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$|^mcp:[A-Za-z0-9_-]{1,64}(\/[A-Za-z0-9_./-]{1,128})?$/;
/** Exactly one `${NAME}`: what an API key must be written as. */
/** `${VAR}`, or `${VAR:-}` for a key that may be left unset (a local server without one). */
const VARIABLE_REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-)?\}$/;
/** Header names whose values are credentials and so must come from the environment. */
const SECRET_HEADER = /authorization|api[-_]?key|token|secret|cookie/i;

const modelSchema = z
  .strictObject({
    provider: z
      .enum(MODEL_PROVIDERS)
      .describe(
        "openai, anthropic, or openai-compatible (any server with OpenAI's chat completions: Ollama, vLLM, llama.cpp, LM Studio).",
      ),
    baseURL: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Base URL of the API, e.g. http://127.0.0.1:11434/v1 or ${OPENAI_BASE_URL}; required for openai-compatible.",
      ),
    apiKey: z
      .string()
      .optional()
      .describe(
        "The key, from the environment only: ${OPENAI_API_KEY}. A literal key is refused. Default: ${OPENAI_API_KEY} (openai), ${ANTHROPIC_API_KEY} (anthropic), none (openai-compatible).",
      ),
    model: z
      .string()
      .min(1)
      .describe("The provider's model id, e.g. gpt-4.1-mini or ${CONCLAVE_MODEL:-llama3.2}."),
    fallback: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Another model entry, called when this one is unavailable (breaker open, retries exhausted, timeout).",
      ),
    timeoutMs: integer(100, 3_600_000)
      .default(LLM_DEFAULTS.timeoutMs)
      .describe("Longest one attempt may take, in ms."),
    maxRetries: integer(0, 20)
      .default(LLM_DEFAULTS.maxRetries)
      .describe("Retries after a 429, a 5xx or a network error, honouring Retry-After."),
    headers: z
      .record(z.string().min(1), z.string())
      .default({})
      .describe("Extra HTTP headers; credentials among them must be ${VAR} references."),
    breaker: z
      .strictObject({
        failures: integer(1, 1000)
          .default(LLM_DEFAULTS.breakerFailures)
          .describe("Consecutive failed attempts that open the circuit breaker."),
        coolDownMs: integer(100, 3_600_000)
          .default(LLM_DEFAULTS.breakerCoolDownMs)
          .describe("How long an open breaker skips the model before a trial call, in ms."),
      })
      .prefault({})
      .describe("Circuit breaker of this model."),
  })
  .describe(
    "A model the swarm's LLM agents may call. baseURL, apiKey, model and header values take ${VAR} references, resolved when a node starts the model.",
  );

/** The `models:` section: model entries by name. */
export const modelsSchema = z
  .record(
    pattern(MODEL_NAME, "a model name of letters, digits, '_', '.' or '-', starting with a letter"),
    modelSchema,
  )
  .default({})
  .describe("Models by name, for the agents' llm blocks (and ctx.llm).");

/** An agent's `llm:` block. */
export const agentLlmSchema = z
  .strictObject({
    model: z.string().min(1).describe("A model defined under models."),
    instructions: path
      .optional()
      .describe("The system prompt: a Markdown or text file, relative to the swarm file."),
    tools: z
      .array(
        pattern(
          TOOL_NAME,
          "a tool name: a task type or a function name, dot-separated words, or mcp:<server>[/<tool>]",
        ),
      )
      .default([])
      .describe(
        "Tools the model may call: task types served by roles of the swarm, local functions of the agent module, or MCP tools (mcp:<server> for all of a server's tools, mcp:<server>/<tool> for one).",
      ),
    output: path
      .optional()
      .describe(
        "A JSON Schema file the final answer must satisfy (structured output), relative to the swarm file.",
      ),
    maxSteps: integer(1, 1000)
      .default(LLM_DEFAULTS.maxSteps)
      .describe("Model calls per generate at most; the last one answers without tools."),
    maxOutputTokens: integer(1, 1_000_000)
      .default(LLM_DEFAULTS.maxOutputTokens)
      .describe("Output tokens per model call at most; the budget holds this much for the answer."),
    temperature: z
      .number({ error: expecting("a number from 0 to 2") })
      .min(0, { error: expecting("a number from 0 to 2") })
      .max(2, { error: expecting("a number from 0 to 2") })
      .optional()
      .describe("Sampling temperature."),
    toolBudget: integer(0, Number.MAX_SAFE_INTEGER)
      .default(0)
      .describe(
        "Credits escrowed from the agent's budget for each call of a tool that is another role's task: released to the agent that answers, refunded if the task is dead-lettered.",
      ),
    publishDeltas: z
      .boolean({ error: expecting("true or false") })
      .default(false)
      .describe(
        "Publish the text deltas of the agent's streamed model calls (ctx.llm.stream) as signed llm.delta events on the bus, for dashboards and watchers; off by default (one event per delta).",
      ),
  })
  .describe("Makes the agent an LLM agent: its model, prompt, tools and limits.");

type ParsedModels = z.output<typeof modelsSchema>;

/** Adds each entry's name and its provider's default key reference. */
export function buildModels(parsed: ParsedModels): Record<string, ModelConfig> {
  const models: Record<string, ModelConfig> = {};
  for (const [name, entry] of Object.entries(parsed)) {
    const defaultKey = DEFAULT_KEY_VARIABLE[entry.provider];
    const apiKey = entry.apiKey ?? (defaultKey === undefined ? undefined : `\${${defaultKey}}`);
    models[name] = {
      name,
      provider: entry.provider,
      ...(entry.baseURL === undefined ? {} : { baseURL: entry.baseURL }),
      ...(apiKey === undefined ? {} : { apiKey }),
      model: entry.model,
      ...(entry.fallback === undefined ? {} : { fallback: entry.fallback }),
      timeoutMs: entry.timeoutMs,
      maxRetries: entry.maxRetries,
      headers: entry.headers,
      breaker: entry.breaker,
    };
  }
  return models;
}

/**
 * Makes an agent's prompt and output-schema paths absolute against the swarm
 * file's folder; absolute paths are kept. For the loader's path resolution.
 */
export function resolveAgentLlmPaths(llm: AgentLlmConfig, baseDir: string): AgentLlmConfig {
  return {
    ...llm,
    ...(llm.instructions === undefined ? {} : { instructions: resolve(baseDir, llm.instructions) }),
    ...(llm.output === undefined ? {} : { output: resolve(baseDir, llm.output) }),
  };
}

type AddIssue = (issue: { path: (string | number)[]; message: string }) => void;

/**
 * Cross-field checks of `models:` and the agents' `llm:` blocks: keys from
 * the environment only, a base URL where one is needed, fallbacks that exist
 * and never loop, agents naming defined models. The value may be partly
 * malformed (other checks failed): every check looks before it leaps.
 */
export function checkModels(models: unknown, agents: unknown, addIssue: AddIssue): void {
  const entries = isRecord(models) ? models : {};
  const names = Object.keys(entries);
  for (const [name, entry] of Object.entries(entries)) {
    if (isRecord(entry)) checkModelEntry(name, entry, names, addIssue);
  }
  checkFallbackCycles(entries, addIssue);
  if (!Array.isArray(agents)) return;
  agents.forEach((agent, index) => {
    if (!isRecord(agent) || !isRecord(agent["llm"])) return;
    const model = agent["llm"]["model"];
    if (typeof model === "string" && !(model in entries)) {
      addIssue({
        path: ["agents", index, "llm", "model"],
        message: `model ${JSON.stringify(model)} is not defined under models${didYouMean(model, names)}; ${names.length === 0 ? "add a models: section" : `defined models: ${quoteList(names)}`}`,
      });
    }
  });
}

function checkModelEntry(
  name: string,
  entry: Record<string, unknown>,
  names: readonly string[],
  addIssue: AddIssue,
): void {
  const at = (...rest: string[]) => ["models", name, ...rest];
  const provider = entry["provider"];
  const apiKey = entry["apiKey"];
  if (typeof apiKey === "string" && !VARIABLE_REFERENCE.test(apiKey)) {
    const variable =
      (typeof provider === "string" && DEFAULT_KEY_VARIABLE[provider as ModelProvider]) ||
      "OPENAI_API_KEY";
    // The value itself is never echoed: it may be a real key.
    addIssue({
      path: at("apiKey"),
      message: `API keys come from the environment only: write apiKey: "\${${variable}}" and set ${variable}; a literal key in the file is refused (it would end up in version control and logs)`,
    });
  }
  const headers = entry["headers"];
  if (isRecord(headers)) {
    for (const [header, value] of Object.entries(headers)) {
      if (SECRET_HEADER.test(header) && typeof value === "string" && !value.includes("${")) {
        addIssue({
          path: at("headers", header),
          message: `header "${header}" carries a credential: take it from the environment with a \${VAR} reference instead of writing it in the file`,
        });
      }
    }
  }
  const baseURL = entry["baseURL"];
  if (provider === "openai-compatible" && baseURL === undefined) {
    addIssue({
      path: at("baseURL"),
      message:
        'an openai-compatible model needs the server\'s URL: add baseURL: "${OPENAI_BASE_URL}" (e.g. http://127.0.0.1:11434/v1 for Ollama)',
    });
  } else if (typeof baseURL === "string" && !baseURL.includes("${") && !isHttpUrl(baseURL)) {
    addIssue({
      path: at("baseURL"),
      message: `expected an http:// or https:// URL, got ${JSON.stringify(baseURL)}`,
    });
  }
  const fallback = entry["fallback"];
  if (typeof fallback === "string" && !names.includes(fallback)) {
    addIssue({
      path: at("fallback"),
      message: `fallback ${JSON.stringify(fallback)} is not defined under models${didYouMean(fallback, names)}; defined models: ${quoteList(names)}`,
    });
  }
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

// A fallback chain that comes back to a model would bounce between models
// forever once every breaker is open; each cycle is reported once, at the
// alphabetically first model on it.
function checkFallbackCycles(entries: Record<string, unknown>, addIssue: AddIssue): void {
  const fallbackOf = (name: string): string | undefined => {
    const entry = entries[name];
    const fallback = isRecord(entry) ? entry["fallback"] : undefined;
    return typeof fallback === "string" && fallback in entries ? fallback : undefined;
  };
  const reported = new Set<string>();
  for (const start of Object.keys(entries).sort()) {
    const chain = [start];
    for (let next = fallbackOf(start); next !== undefined; next = fallbackOf(next)) {
      if (next === start) {
        const cycle = [...chain].sort();
        const key = cycle.join(",");
        if (!reported.has(key)) {
          reported.add(key);
          addIssue({
            path: ["models", start, "fallback"],
            message: `fallbacks form a cycle (${[...chain, start].join(" → ")}); end the chain at a model without fallback`,
          });
        }
        break;
      }
      if (chain.includes(next)) break; // a cycle further on, reported from its own start
      chain.push(next);
    }
  }
}
