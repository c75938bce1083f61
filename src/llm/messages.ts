/**
 * Between the loop's own JSON messages (what the journal keeps, readable
 * from any language) and the provider prompt of the AI SDK's model
 * interface; tool names between the swarm's (`search.web`) and what
 * providers accept (`^[A-Za-z0-9_-]{1,64}$`); and structured output: the
 * provider is asked for JSON, the loop parses and validates it, so an
 * invalid answer is still journaled and paid for before it is judged.
 */
import type { LanguageModelV3Message, LanguageModelV3Prompt } from "@ai-sdk/provider";
import { z } from "zod";
import type { JsonValue } from "../wire/json-value.js";
import type { JsonSchema, LlmMessage, ToolDefinition } from "./ports.js";

const PROVIDER_TOOL_NAME_LIMIT = 64;

/** Swarm tool names ↔ names a provider accepts, for one request. */
export interface ToolNaming {
  toProvider(name: string): string;
  /** The swarm name, or undefined for a name this request did not offer. */
  fromProvider(name: string): string | undefined;
}

/**
 * Maps each tool name to one a provider accepts: characters outside
 * `[A-Za-z0-9_-]` become `_`, the name is cut to 64 characters, and a name
 * already taken gets a numeric suffix. Deterministic for a given list, so a
 * replayed conversation maps the same way.
 */
export function toolNaming(tools: readonly ToolDefinition[]): ToolNaming {
  // Most calls offer no tool: one shared naming instead of two maps per call.
  if (tools.length === 0) return NO_TOOLS;
  const toProvider = new Map<string, string>();
  const fromProvider = new Map<string, string>();
  for (const { name } of tools) {
    if (toProvider.has(name)) continue;
    const base = name.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, PROVIDER_TOOL_NAME_LIMIT) || "tool";
    let candidate = base;
    for (let n = 2; fromProvider.has(candidate); n++) {
      const suffix = `_${n}`;
      candidate = base.slice(0, PROVIDER_TOOL_NAME_LIMIT - suffix.length) + suffix;
    }
    toProvider.set(name, candidate);
    fromProvider.set(candidate, name);
  }
  return {
    // A name from an older turn that is no longer offered keeps a safe spelling.
    toProvider: (name) => toProvider.get(name) ?? name.replace(/[^A-Za-z0-9_-]/g, "_"),
    fromProvider: (name) => fromProvider.get(name),
  };
}

const NO_TOOLS: ToolNaming = Object.freeze({
  toProvider: (name: string) => name.replace(/[^A-Za-z0-9_-]/g, "_"),
  fromProvider: () => undefined,
});

/**
 * The provider prompt (the AI SDK's `LanguageModelV3Prompt`, the interface
 * every provider package implements) for the loop's system prompt and
 * messages. The loop's messages are built by code, so the SDK's own prompt
 * conversion and validation (a zod parse of every message, half of
 * `generateText`'s CPU) would only check what cannot be wrong.
 */
export function toProviderPrompt(
  system: string | undefined,
  messages: readonly LlmMessage[],
  naming: ToolNaming,
): LanguageModelV3Prompt {
  const prompt: LanguageModelV3Prompt = [];
  if (system !== undefined) prompt.push({ role: "system", content: system });
  for (const message of messages) prompt.push(toProviderMessage(message, naming));
  return prompt;
}

function toProviderMessage(message: LlmMessage, naming: ToolNaming): LanguageModelV3Message {
  if (message.role === "user") {
    return { role: "user", content: [{ type: "text", text: message.content }] };
  }
  if (message.role === "tool") {
    return {
      role: "tool",
      content: [
        {
          type: "tool-result",
          toolCallId: message.toolCallId,
          toolName: naming.toProvider(message.name),
          output: { type: "json", value: message.output },
        },
      ],
    };
  }
  const calls = message.toolCalls ?? [];
  if (calls.length === 0) {
    return { role: "assistant", content: [{ type: "text", text: message.content }] };
  }
  return {
    role: "assistant",
    content: [
      ...(message.content === "" ? [] : [{ type: "text" as const, text: message.content }]),
      ...calls.map((call) => ({
        type: "tool-call" as const,
        toolCallId: call.id,
        toolName: naming.toProvider(call.name),
        input: call.input,
      })),
    ],
  };
}

/**
 * A tool call's input as the provider sent it (JSON text) read back: empty
 * text is `{}` (a call without arguments), text that is not JSON is an
 * invalid call the loop answers with an error for the model.
 */
export function parseToolInput(text: string): { ok: true; input: JsonValue } | { ok: false } {
  if (text.trim() === "") return { ok: true, input: {} };
  try {
    return { ok: true, input: JSON.parse(text) as JsonValue };
  } catch {
    return { ok: false };
  }
}

/** A compiled output schema. */
export type OutputValidator = (value: unknown) => { ok: true } | { ok: false; problems: string };

const validators = new WeakMap<object, OutputValidator>();

/**
 * Compiles a JSON Schema into a validator (through zod's
 * `z.fromJSONSchema`), once per schema object. Throws when the schema uses
 * what the converter cannot express.
 */
export function outputValidator(schema: JsonSchema): OutputValidator {
  const cached = validators.get(schema);
  if (cached !== undefined) return cached;
  const compiled = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
  const validator: OutputValidator = (value) => {
    const result = compiled.safeParse(value);
    if (result.success) return { ok: true };
    const problems = result.error.issues
      .slice(0, 5)
      .map(
        (issue) => `${issue.path.length === 0 ? "(root)" : issue.path.join(".")}: ${issue.message}`,
      )
      .join("; ");
    return { ok: false, problems };
  };
  validators.set(schema, validator);
  return validator;
}

/**
 * Parses a final answer as JSON and validates it: a Markdown code fence
 * around the JSON (a common habit of models) is tolerated.
 */
export function parseOutput(
  text: string,
  schema: JsonSchema,
): { ok: true; value: JsonValue } | { ok: false; problems: string } {
  const fenced = /^\s*```(?:json)?\s*\n([\s\S]*?)\n?```\s*$/.exec(text);
  let value: JsonValue;
  try {
    value = JSON.parse(fenced?.[1] ?? text) as JsonValue;
  } catch (error) {
    return { ok: false, problems: `not valid JSON (${(error as Error).message})` };
  }
  const verdict = outputValidator(schema)(value);
  return verdict.ok ? { ok: true, value } : verdict;
}
