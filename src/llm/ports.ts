/**
 * The ports of the LLM agent loop: what it needs from the runtime, written
 * as contracts so an in-memory implementation (tests, `src/llm/memory.ts`)
 * and the store-backed one behave the same.
 *
 * - {@link StepJournal}: durable steps, replayed instead of re-run.
 * - {@link Budget} / {@link Hold}: credits held before a model call, charged after.
 * - {@link ToolRunner}: the tools a model may call, run durably.
 *
 * And what the loop offers: {@link LlmClient} (`ctx.llm`), emitting one
 * {@link LlmCallRecord} per model call.
 */
import type { JsonValue } from "../wire/json-value.js";

/**
 * The journal of one task's steps, keyed by (task, step name).
 *
 * Contract:
 * - `step(name, fn)` runs `fn` once and records its result under `name`;
 *   when a record for `name` exists (a redelivered task replaying), it
 *   returns the recorded result without calling `fn`. Results are JSON
 *   values (the store keeps them as JSON): what replay returns is the JSON
 *   round trip of what `fn` returned.
 * - A step whose `fn` throws records nothing: it runs again on replay.
 * - Determinism: each call of `step` in an execution takes the next
 *   position (0, 1, 2…) at the moment it is called, before any await. On
 *   replay, asking at position `p` for a name other than the one recorded at
 *   `p` (or for a name recorded at another position) throws
 *   `NonDeterminismError` and runs nothing. Steps may run concurrently;
 *   positions follow call order, not completion order.
 * - A name may be used once per execution: a second `step` with the same
 *   name throws `DuplicateStepError`.
 * - A record is written only after `fn` resolved, atomically; a crash
 *   before that leaves no record (the step runs again).
 * - Implementations should read a task's records once when the task starts,
 *   so that a replayed step costs no round trip to the store.
 */
export interface StepJournal {
  step<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/** What a hold is for. */
export interface HoldRequest {
  /** The journal step of the model call, unique in the task: the key of the hold's ledger operations. */
  readonly step: string;
  /** The model entry the call starts with. */
  readonly model: string;
  /**
   * The call's signal (the task's, in a swarm). A charge that waits for an
   * unreachable store, rather than lose a call already paid for, stops
   * waiting when it aborts.
   */
  readonly signal?: AbortSignal;
}

/** What a charge records with the fee (the ledger memo). */
export interface ChargeDetails {
  readonly step: string;
  /** The model entry that answered (a fallback, maybe). */
  readonly model: string;
  /** The provider's model id: what the price table priced. */
  readonly modelId: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedInputTokens: number;
  /** The price table's version, so a bill can be reproduced. */
  readonly priceVersion: string;
  /**
   * Set when the charge is (partly) an estimate rather than the usage the
   * provider reported: `failed-call` when the call failed after the
   * provider produced output (the whole charge estimates what its failed
   * attempts generated), `usage-not-reported` when the answer came without
   * usage. Absent when the provider reported the usage charged.
   */
  readonly estimate?: "failed-call" | "usage-not-reported";
  /**
   * Attempts of this call that failed after the provider produced output
   * (streamed text or tool-call deltas; retried, fallen back, or the call's
   * last), each charged by estimate. Absent when none.
   */
  readonly failedAttempts?: number;
  /** The credits of those attempts, included in the charge (at most what was held). */
  readonly failedAttemptCredits?: number;
}

/**
 * An agent's credits, held before a model call and charged after it.
 *
 * Contract:
 * - `hold(credits)` reserves `credits` of the agent's balance atomically, so
 *   concurrent holds can never together exceed it (holds, not checks). It
 *   throws the ledger's `AgentHaltedError` when the agent is halted and
 *   `InsufficientCreditsError` when the balance (less what other holds
 *   keep) cannot cover `credits`; then nothing is held and the loop sends
 *   nothing. `hold(0)` holds nothing but still throws for a halted agent.
 * - A budget given to a loop speaks for one agent within one task (the
 *   runtime creates it per task), so `request.step` is unique within it:
 *   holds and their ledger operations are keyed by (task, step). A hold left
 *   by a crashed execution is released, or reused, when the step runs again;
 *   the step never holds or charges twice.
 */
export interface Budget {
  hold(credits: number, request: HoldRequest): Promise<Hold>;
}

/**
 * Credits held for one model call. Exactly one of `charge` or `release`
 * settles it; settling twice is a no-op.
 */
export interface Hold {
  /** The credits held. */
  readonly credits: number;
  /**
   * Charges `actual` credits (the call's real cost) to the agent as a fee
   * with `details`, and releases the rest of the hold. When `actual` exceeds
   * the hold (the provider counted more input tokens than estimated), the
   * excess is charged from the free balance as far as it goes. Idempotent by
   * the hold's step. Returns the credits charged.
   */
  charge(actual: number, details: ChargeDetails): Promise<number>;
  /** Releases the whole hold: the call was not made, or failed before the provider produced any output. */
  release(): Promise<void>;
}

/** A tool as the model sees it. */
export interface ToolDefinition {
  /** The tool's name in the swarm, e.g. `search.web` (the loop maps it to a name providers accept). */
  readonly name: string;
  readonly description?: string;
  /** A JSON Schema of the input object. */
  readonly inputSchema: JsonSchema;
}

/** A JSON Schema, as a plain object. */
export type JsonSchema = { readonly [key: string]: JsonValue };

/** What the loop tells a tool runner about one call. */
export interface ToolCallContext {
  /** The journal step running the call: the key a durable tool derives its child task's id from. */
  readonly step: string;
  /** The model's id for this call. */
  readonly callId: string;
  readonly signal?: AbortSignal;
}

/**
 * The tools an agent's model may call.
 *
 * Contract:
 * - `describe(name)` returns the definition offered to the model, or
 *   `undefined` when this runner has no such tool (the loop then throws
 *   `UnknownToolError` before calling any model).
 * - `run(name, input, context)` runs the tool and resolves with its JSON
 *   result; the loop runs it inside a journal step, so it runs once per
 *   task unless it throws. A tool that is a task of another role must be
 *   durable on its own: the child task's id derives from the parent task
 *   and `context.step`, so a retry never submits it twice.
 * - A tool reports a failure the model should see by resolving with a value
 *   (e.g. `{ error: "not found" }`); throwing fails the step (the task is
 *   retried or dead-lettered like any handler error). `run` for a name it
 *   does not know throws `UnknownToolError`.
 */
export interface ToolRunner {
  describe(name: string): ToolDefinition | undefined;
  run(name: string, input: JsonValue, context: ToolCallContext): Promise<JsonValue>;
}

/** One message of a conversation, in the loop's own JSON form (what the journal keeps). */
export type LlmMessage =
  | { readonly role: "user"; readonly content: string }
  | {
      readonly role: "assistant";
      readonly content: string;
      readonly toolCalls?: readonly LlmToolCall[];
    }
  | {
      readonly role: "tool";
      readonly toolCallId: string;
      readonly name: string;
      readonly output: JsonValue;
    };

/** A tool call the model made. */
export interface LlmToolCall {
  readonly id: string;
  /** The tool's swarm name. */
  readonly name: string;
  readonly input: JsonValue;
}

/** Tokens of one call or a sum of calls. `inputTokens` includes `cachedInputTokens`. */
export interface TokenUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedInputTokens: number;
}

/** The `llm.call` record: one per model call, fresh or replayed. */
export interface LlmCallRecord {
  /** The model entry that answered (the fallback's name when one was used). */
  readonly model: string;
  readonly modelId: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedInputTokens: number;
  /** Credits the call cost when it was made (a replayed call charges nothing now). */
  readonly cost: number;
  readonly latencyMs: number;
  /** The journal step. */
  readonly step: string;
  /** True when the result came from the journal: no request was sent, nothing was charged. */
  readonly replayed: boolean;
  /**
   * The error's code when the call gave no answer (after its retries and
   * fallbacks). `cost` and the tokens are then what was charged as an
   * estimate for the output the provider produced before it failed, 0 when
   * it produced none (the hold was released).
   */
  readonly failed?: string;
}

/** A streamed piece of text, for publishing as an event. */
export interface LlmDelta {
  readonly step: string;
  readonly text: string;
  /** True for text replayed from the journal (sent whole, as one delta). */
  readonly replayed: boolean;
}

/** One `generate` or `stream` call. Unset fields take the agent's settings. */
export interface GenerateOptions {
  /** A single user message; or give `messages`. */
  readonly prompt?: string;
  readonly messages?: readonly LlmMessage[];
  /** The system prompt; default the agent's instructions. */
  readonly system?: string;
  /** A model entry name; default the agent's model. */
  readonly model?: string;
  /** Tool names offered to the model; default the agent's tools. `[]` offers none. */
  readonly tools?: readonly string[];
  /** A JSON Schema the final answer must satisfy; default the agent's output schema. */
  readonly output?: JsonSchema;
  readonly maxSteps?: number;
  readonly maxOutputTokens?: number;
  readonly temperature?: number;
  /**
   * Aborts this call. Through `ctx.llm` the task's own signal (`ctx.signal`:
   * its deadline, the node stopping) aborts it as well: either one does.
   */
  readonly signal?: AbortSignal;
}

/** What a finished loop returns. */
export interface GenerateResult {
  /** The final answer's text. */
  readonly text: string;
  /** The parsed, validated final answer when an output schema was set. */
  readonly output?: JsonValue;
  /** The conversation, given messages first, then everything the loop added. */
  readonly messages: readonly LlmMessage[];
  /** Model calls made or replayed. */
  readonly modelCalls: number;
  readonly toolCalls: number;
  readonly usage: TokenUsage;
  /** Credits of all model calls (replayed ones included, at what they cost then). */
  readonly cost: number;
}

/** Text deltas as they arrive, and the loop's result when it ends. */
export interface LlmStream extends AsyncIterable<string> {
  readonly result: Promise<GenerateResult>;
}

/**
 * A durable LLM loop for one task (`ctx.llm`). Each model call is one
 * journal step (held, sent, charged, recorded), each tool call another;
 * replaying a task returns recorded steps without sending or charging.
 */
export interface LlmClient {
  generate(options: GenerateOptions): Promise<GenerateResult>;
  /**
   * Like `generate`, yielding the text deltas of every model call as they
   * arrive (a replayed call yields its recorded text as one delta).
   */
  stream(options: GenerateOptions): LlmStream;
}
