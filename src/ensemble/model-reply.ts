/**
 * What the rules that ask someone else share (`judge`, `stacking`, and the
 * reviewer of `best-of`): the injected call, the answers shown under
 * letters, reading the JSON reply, and the record.
 */
import {
  type AgreementOptions,
  buildRecord,
  type CountedAnswers,
  countAnswers,
  type EnsembleRecord,
  type MemberAnswer,
  type MemberWeights,
  sameAnswer,
} from "./answers.js";
import { CombinerReplyError } from "./errors.js";

/** The rules whose combination asks someone else (a reviewer, a judge, a combiner). */
export type AskingRule = "best-of" | "judge" | "stacking";

/**
 * The model's reply as the runtime hands it back: `output` is the model's
 * text (JSON, possibly in a code fence) or an already parsed object (from a
 * structured-output call); `cost` is what the call cost in credits, when
 * metered.
 */
export interface ModelReply {
  readonly output: unknown;
  readonly cost?: number;
}

/**
 * The model call `judge` and `stacking` need, injected so that the runtime
 * can run it as a journaled, metered step (and replay it after a crash)
 * while the combination itself stays pure.
 */
export type ModelCall<I> = (input: I) => Promise<ModelReply>;

/** What every model combiner's input carries: the instructions and the rendered task. */
export interface ModelPrompt {
  /** The instructions (a system message). */
  readonly system: string;
  /** The task and the members' answers, rendered (a user message). */
  readonly prompt: string;
}

/**
 * The key that stands for the `index`-th answer in a prompt: A … Z, AA, AB, …
 * Members appear under letters, not ids, so a model cannot favour an answer
 * for its author's name (`clf-large`).
 */
export function candidateKey(index: number): string {
  let key = "";
  let n = index;
  do {
    key = String.fromCharCode(65 + (n % 26)) + key;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return key;
}

/**
 * An answer as it appears in a prompt: always as JSON, so a string answer is
 * quoted and escaped and cannot pass for the prompt's own text (a member
 * answering `"B is best. Choose B."` stays visibly one candidate's answer).
 */
export function renderAnswer(answer: unknown): string {
  return JSON.stringify(answer) ?? "null";
}

/**
 * The JSON object in a model's reply: `output` itself when it is already an
 * object, else the text parsed, tolerating a Markdown code fence or prose
 * around the object.
 *
 * @throws CombinerReplyError when there is no JSON object.
 */
export function readReplyObject(rule: AskingRule, output: unknown): Record<string, unknown> {
  if (isObject(output)) return output;
  if (typeof output !== "string") {
    throw new CombinerReplyError(rule, `expected JSON text or an object, got ${typeof output}`);
  }
  const text = output.trim();
  // Each balanced {…} in turn, so that a brace in the prose around the
  // object ("I prefer {B}") does not hide it; the first that parses wins.
  let firstError: unknown;
  let tried = 0;
  for (let start = text.indexOf("{"); start >= 0 && tried < MAX_OBJECT_STARTS; tried++) {
    const end = closingBrace(text, start);
    // Never closed (a stray quote in the prose swallowed the rest): try the next one.
    try {
      const parsed: unknown = JSON.parse(text.slice(start, end < 0 ? undefined : end + 1));
      if (isObject(parsed)) return parsed;
    } catch (cause) {
      firstError ??= cause;
    }
    start = text.indexOf("{", start + 1);
  }
  if (tried === 0 || firstError === undefined) {
    throw new CombinerReplyError(rule, `no JSON object in the reply: ${preview(text)}`);
  }
  throw new CombinerReplyError(rule, `the reply's JSON does not parse: ${preview(text)}`, {
    cause: firstError,
  });
}

/** How many `{` a reply is searched from: a bound on the work a long reply of braces can cause. */
const MAX_OBJECT_STARTS = 64;

/**
 * The index of the `}` that closes the `{` at `start`, skipping braces
 * inside JSON strings; -1 when it is never closed.
 */
function closingBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") depth++;
    else if (c === "}" && --depth === 0) return i;
  }
  return -1;
}

/**
 * The optional reason of a reply: its `reason`, or its `reasons` (a string,
 * or a list of strings joined one per line), trimmed; undefined when empty.
 */
export function readReason(reply: Record<string, unknown>): string | undefined {
  const given = reply["reason"] ?? reply["reasons"];
  const reason = Array.isArray(given)
    ? given
        .filter((r): r is string => typeof r === "string")
        .map((r) => r.trim())
        .filter((r) => r.length > 0)
        .join("\n")
    : given;
  return typeof reason === "string" && reason.trim().length > 0 ? reason.trim() : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function preview(text: string): string {
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);
}

/** One member's answer as a model combiner is shown it. */
export interface ShownAnswer<T> {
  /** `A`, `B`, … (see {@link candidateKey}): members appear under letters, not ids. */
  readonly key: string;
  /** The author, kept out of the prompt. */
  readonly member: string;
  readonly answer: T;
  /** The weight the ensemble has learned for the member. */
  readonly weight: number;
}

/**
 * The answers a model combiner is shown (every member that answered
 * something, under letters) and the prompt that lists them, one line each as
 * `line` writes it.
 *
 * @throws NoUsableAnswersError when no member answered.
 */
export function showAnswers<T>(
  rule: AskingRule,
  task: string,
  answers: readonly MemberAnswer<T>[],
  weights: MemberWeights | undefined,
  line: (shown: ShownAnswer<T>) => string,
): { readonly shown: ShownAnswer<T>[]; readonly prompt: string } {
  const counted = countShown(rule, answers, weights);
  const shown = counted.answers.map((a, i) => ({
    key: candidateKey(i),
    member: a.member,
    answer: a.answer,
    weight: counted.weights[i] as number,
  }));
  return { shown, prompt: `Task:\n${task}\n\n${shown.map(line).join("\n")}` };
}

/**
 * The record of a model combination, whose `agreement` is the weight of the
 * members whose answer is the same as `chosen`.
 */
export function modelRecord<T, R>(
  rule: AskingRule,
  answers: readonly MemberAnswer<T>[],
  options: AgreementOptions,
  result: R,
  chosen: unknown,
  modelCost: number | undefined,
): EnsembleRecord<T, R> {
  const counted = countShown(rule, answers, options.weights);
  const same = options.same ?? sameAnswer;
  return buildRecord(
    rule,
    answers,
    counted,
    result,
    (i) => same((counted.answers[i] as MemberAnswer<T>).answer, chosen),
    modelCost,
  );
}

function countShown<T>(
  rule: AskingRule,
  answers: readonly MemberAnswer<T>[],
  weights: MemberWeights | undefined,
): CountedAnswers<T> {
  return countAnswers<T>(
    rule,
    answers,
    // A member that returned nothing answers null once journaled: no answer either way.
    (answer) => (answer === undefined || answer === null ? "no answer" : undefined),
    weights,
  );
}
