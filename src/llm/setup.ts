/**
 * What a node does once at start for its LLM agents: resolve the models its
 * agents use into a pool, and load each agent's prompt and output schema.
 * Every problem surfaces here, before a task runs.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Environment } from "../config/interpolate.js";
import type { AgentLlmConfig } from "../config/models.js";
import type { SwarmConfig } from "../config/schema.js";
import type { Clock } from "../core/clock.js";
import type { Random } from "../core/random.js";
import { ConfigError } from "../errors/index.js";
import { createPriceTable } from "../ledger/prices.js";
import type { LlmSettings } from "./client.js";
import { outputValidator } from "./messages.js";
import { createModelPool, type ModelPool, type ModelPoolConfig } from "./model-pool.js";
import { modelsUsedBy, resolveModels } from "./models.js";
import type { JsonSchema } from "./ports.js";

/** Options of {@link openModelPool}. */
export interface OpenModelPoolOptions {
  /** Ids of the agents this node hosts; their models (and fallbacks) are resolved. Default: every agent. */
  readonly agents?: readonly string[];
  /** Default `process.env`. */
  readonly env?: Environment;
  readonly clock?: Clock;
  readonly random?: Random;
  /** For tests: builds each entry's SDK model. */
  readonly languageModel?: ModelPoolConfig["languageModel"];
}

/**
 * The model pool of a node hosting `options.agents` of `config`: only the
 * models they use are resolved, so a node without LLM agents needs no model
 * variable and loads no provider.
 *
 * @throws ModelNotConfiguredError naming the variables to set.
 * @throws ConfigError for a model without a price, a bad base URL, or prices that do not parse.
 *
 * @example
 * ```ts
 * const pool = openModelPool(config, { agents: ["researcher-1"] });
 * ```
 */
export function openModelPool(config: SwarmConfig, options: OpenModelPoolOptions = {}): ModelPool {
  const hosted =
    options.agents === undefined
      ? config.agents
      : config.agents.filter((agent) => options.agents?.includes(agent.id));
  const prices = createPriceTable(config.prices);
  const models = resolveModels(config.models, {
    prices,
    names: modelsUsedBy(hosted, config.models),
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  return createModelPool({
    models,
    prices,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.random === undefined ? {} : { random: options.random }),
    ...(options.languageModel === undefined ? {} : { languageModel: options.languageModel }),
  });
}

/** Options of {@link loadAgentLlm}. */
export interface LoadAgentLlmOptions {
  /** Folder relative paths resolve against (the swarm file's). Absolute paths are kept. */
  readonly baseDir: string;
  /** Dotted path of the block in the swarm file, for messages, e.g. `agents.2.llm`. */
  readonly path?: string;
}

/**
 * An agent's LLM settings from its `llm:` block: the instructions file read
 * as the system prompt, the output schema file parsed and compiled.
 *
 * @throws ConfigError naming the field and the file when a file is missing,
 * unreadable, not JSON, or not a usable JSON Schema.
 *
 * @example
 * ```ts
 * const settings = await loadAgentLlm(agent.llm, { baseDir: dirname(swarmFile), path: "agents.0.llm" });
 * ```
 */
export async function loadAgentLlm(
  llm: AgentLlmConfig,
  options: LoadAgentLlmOptions,
): Promise<LlmSettings> {
  const at = options.path ?? "llm";
  const read = async (field: string, file: string): Promise<{ path: string; text: string }> => {
    const path = resolve(options.baseDir, file);
    try {
      return { path, text: await readFile(path, "utf8") };
    } catch (cause) {
      const reason =
        (cause as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(cause);
      throw fileError(
        `${at}.${field}`,
        `cannot read ${path}: ${reason}; check the path (relative to the swarm file)`,
        cause,
      );
    }
  };
  let system: string | undefined;
  if (llm.instructions !== undefined) system = (await read("instructions", llm.instructions)).text;
  let output: JsonSchema | undefined;
  if (llm.output !== undefined) {
    const { path, text } = await read("output", llm.output);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      throw fileError(`${at}.output`, `${path} is not JSON: ${(cause as Error).message}`, cause);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw fileError(`${at}.output`, `${path} must hold a JSON Schema object`);
    }
    try {
      outputValidator(parsed as JsonSchema);
    } catch (cause) {
      throw fileError(
        `${at}.output`,
        `${path} is not a usable JSON Schema: ${(cause as Error).message}`,
        cause,
      );
    }
    output = parsed as JsonSchema;
  }
  return {
    model: llm.model,
    ...(system === undefined ? {} : { system }),
    tools: llm.tools,
    ...(output === undefined ? {} : { output }),
    maxSteps: llm.maxSteps,
    maxOutputTokens: llm.maxOutputTokens,
    ...(llm.temperature === undefined ? {} : { temperature: llm.temperature }),
  };
}

function fileError(path: string, message: string, cause?: unknown): ConfigError {
  return new ConfigError(`${path}: ${message}`, [{ path, message }], { cause });
}
