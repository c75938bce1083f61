/**
 * Voter policies: how an agent decides its vote on a proposal. Either a
 * declarative policy of CEL rules (a YAML or JSON file an operator can read
 * and review), or a handler (code, e.g. an LLM judge), or both combined with
 * {@link allOf} so cheap rules veto before an expensive judge is asked.
 *
 * A rules policy:
 *
 * ```yaml
 * rules:
 *   - when: action == "funds.transfer"
 *     require: data.amount <= 1000 && data.env != "prod"
 *     message: transfers over 1000 credits or to prod need a human
 *   - require: proposer != "intern"
 *     message: interns cannot propose privileged actions
 * default: reject
 * ```
 *
 * Semantics: a rule applies when it has no `when` or its `when` is true.
 * The vote is `reject` if any applicable rule's `require` is false (each
 * such rule's `message` is a reason); else `approve` if at least one rule
 * applied; else `default` (the proposal is outside what the rules speak
 * about). A rule that cannot be evaluated (a missing key, a non-boolean
 * result) fails closed: it counts as a failed `require`.
 *
 * Expressions see the proposal's fields as variables: `id`, `action`,
 * `data`, `proposer`, `ts`, `deadline`, `protocol`, the whole `proposal`, and
 * `context` (whatever the caller passes, e.g. the voter's local state).
 * Unknown variables and type errors are compile errors ({@link PolicyError}
 * naming the rule and the line and column). Numbers from JSON are CEL
 * doubles; comparisons with integer literals (`data.amount <= 1000`) work.
 */
import { type ASTNode, Environment, type ParseResult } from "@marcbachmann/cel-js";
import { parse as parseYaml } from "yaml";
import { PolicyError } from "../errors/index.js";
import type { Proposal, VoteChoice } from "./types.js";
import { isVoteChoice } from "./vote.js";

/** One rule of a {@link VoterPolicy}. */
export interface PolicyRule {
  /** Optional label used in reasons and errors. */
  readonly name?: string;
  /** CEL: when the rule applies. Omitted: always. */
  readonly when?: string;
  /** CEL: what must hold when it applies. */
  readonly require: string;
  /** The reason given when `require` does not hold. */
  readonly message: string;
}

/** A declarative voter policy, loadable from YAML or JSON. */
export interface VoterPolicy {
  /** Every applicable rule is checked: one that fails makes the vote `reject`; else one that holds, `approve`; else `default`. */
  readonly rules: readonly PolicyRule[];
  /** The vote when no rule applies. */
  readonly default: VoteChoice;
}

/** A policy's vote and why. */
export interface PolicyVerdict {
  /** `approve`, `reject` or `abstain`. */
  readonly choice: VoteChoice;
  /** Why, one line each: the rules that held or failed, or the judge's words. Recorded with the vote. */
  readonly reasons: readonly string[];
}

/** Extra variables for the expressions (`context.*`) or for a handler. */
export type PolicyContext = Readonly<Record<string, unknown>>;

/**
 * A policy as code, e.g. an LLM judge: given the proposal, returns the vote.
 * It may be async. A thrown error is passed through to the caller (who may
 * retry or abstain).
 */
export type PolicyHandler = (
  proposal: Proposal,
  context: PolicyContext,
) => PolicyVerdict | Promise<PolicyVerdict>;

/** A rules policy with its expressions compiled; build with {@link compilePolicy}. */
export interface CompiledPolicy {
  readonly kind: "compiled-policy";
  readonly policy: VoterPolicy;
  /** @internal */
  readonly rules: readonly CompiledRule[];
}

/** Anything that can decide a vote. */
export type AnyPolicy = VoterPolicy | CompiledPolicy | PolicyHandler;

interface CompiledRule {
  readonly index: number;
  readonly label: string;
  readonly rule: PolicyRule;
  readonly when: ParseResult | undefined;
  readonly require: ParseResult;
}

const VARIABLES = [
  "proposal",
  "id",
  "action",
  "data",
  "proposer",
  "ts",
  "deadline",
  "protocol",
  "context",
] as const;

const celEnvironment = (() => {
  const env = new Environment({ unlistedVariablesAreDyn: false });
  for (const name of VARIABLES) env.registerVariable(name, "dyn");
  return env;
})();

const RULE_KEYS: ReadonlySet<string> = new Set(["name", "when", "require", "message"]);
const POLICY_KEYS: ReadonlySet<string> = new Set(["rules", "default"]);

/**
 * Validates a policy read from YAML or JSON (shape only; see
 * {@link compilePolicy} for the expressions).
 *
 * @throws PolicyError naming the first invalid field.
 */
export function parsePolicy(value: unknown): VoterPolicy {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new PolicyError(
      "a voter policy must be an object { rules: [...], default: approve | reject | abstain }",
    );
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!POLICY_KEYS.has(key)) {
      throw new PolicyError(`unknown policy field "${key}"; a policy has only rules and default`);
    }
  }
  const fallback = record["default"];
  if (!isVoteChoice(fallback)) {
    throw new PolicyError(
      'policy.default must be "approve", "reject" or "abstain": the vote when no rule applies',
    );
  }
  const rawRules = record["rules"] ?? [];
  if (!Array.isArray(rawRules)) throw new PolicyError("policy.rules must be a list of rules");
  const rules = rawRules.map((raw, index): PolicyRule => {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      throw new PolicyError(`rule ${index} must be an object { when?, require, message }`, index);
    }
    const r = raw as Record<string, unknown>;
    for (const key of Object.keys(r)) {
      if (!RULE_KEYS.has(key)) {
        throw new PolicyError(
          `rule ${index} has an unknown field "${key}"; a rule has name, when, require and message`,
          index,
        );
      }
    }
    for (const key of ["require", "message"] as const) {
      if (typeof r[key] !== "string" || (r[key] as string).trim() === "") {
        throw new PolicyError(
          `rule ${index}: ${key} is required and must be a non-empty string`,
          index,
        );
      }
    }
    for (const key of ["when", "name"] as const) {
      if (r[key] !== undefined && typeof r[key] !== "string") {
        throw new PolicyError(`rule ${index}: ${key} must be a string`, index);
      }
    }
    return {
      ...(r["name"] === undefined ? {} : { name: r["name"] as string }),
      ...(r["when"] === undefined ? {} : { when: r["when"] as string }),
      require: r["require"] as string,
      message: r["message"] as string,
    };
  });
  return { rules, default: fallback };
}

/**
 * Parses a policy from YAML text (JSON is YAML too).
 *
 * @throws PolicyError for YAML syntax errors (with line and column) and as
 *   {@link parsePolicy}.
 */
export function parsePolicyYaml(text: string): VoterPolicy {
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    const linePos = (err as { linePos?: { line: number; col: number }[] }).linePos?.[0];
    throw new PolicyError(
      `the policy is not valid YAML: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`,
      undefined,
      linePos === undefined ? undefined : { line: linePos.line, column: linePos.col },
      { cause: err },
    );
  }
  return parsePolicy(value);
}

/**
 * Validates a policy and compiles its expressions once, for evaluating many
 * proposals.
 *
 * @throws PolicyError naming the rule, the field (`when`/`require`) and the
 *   line and column within the expression of the first error: syntax,
 *   unknown variable, a type error, or a non-boolean expression.
 *
 * @example
 * ```ts
 * const policy = compilePolicy(parsePolicyYaml(await readFile("policy.yaml", "utf8")));
 * evaluatePolicy(policy, proposal); // { choice: "approve", reasons: [...] }
 * ```
 */
export function compilePolicy(policy: unknown): CompiledPolicy {
  const parsed = parsePolicy(policy);
  const rules = parsed.rules.map((rule, index): CompiledRule => {
    const label = rule.name === undefined ? `rule ${index}` : `rule ${index} (${rule.name})`;
    return {
      index,
      label,
      rule,
      when:
        rule.when === undefined ? undefined : compileExpression(rule.when, label, "when", index),
      require: compileExpression(rule.require, label, "require", index),
    };
  });
  return { kind: "compiled-policy", policy: parsed, rules };
}

function compileExpression(
  source: string,
  label: string,
  field: "when" | "require",
  index: number,
): ParseResult {
  let compiled: ParseResult;
  try {
    compiled = celEnvironment.parse(source);
  } catch (err) {
    throw celError(err, source, label, field, index);
  }
  const checked = compiled.check();
  if (!checked.valid) throw celError(checked.error, source, label, field, index);
  if (checked.type !== "bool" && checked.type !== "dyn") {
    throw new PolicyError(
      `${label}: ${field} must be a boolean expression, but "${source}" is a ${checked.type}; compare it (e.g. == , <=)`,
      index,
      { line: 1, column: 1 },
    );
  }
  return compiled;
}

function celError(
  err: unknown,
  source: string,
  label: string,
  field: string,
  index: number,
): PolicyError {
  const e = err as {
    summary?: string;
    message?: string;
    range?: { start: number };
    node?: ASTNode;
  };
  const offset = e.range?.start ?? e.node?.pos ?? 0;
  const position = lineColumn(source, offset);
  const summary = e.summary ?? String(e.message ?? err).split("\n")[0];
  return new PolicyError(
    `${label}: ${field} does not compile at line ${position.line}, column ${position.column}: ${summary} (in "${source}"); fix the expression`,
    index,
    position,
    { cause: err },
  );
}

function lineColumn(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let column = 1;
  for (let i = 0; i < offset && i < source.length; i++) {
    if (source[i] === "\n") {
      line++;
      column = 1;
    } else {
      column++;
    }
  }
  return { line, column };
}

const compiledCache = new WeakMap<object, CompiledPolicy>();

function compiledOf(policy: VoterPolicy | CompiledPolicy): CompiledPolicy {
  if ((policy as CompiledPolicy).kind === "compiled-policy") return policy as CompiledPolicy;
  let compiled = compiledCache.get(policy);
  if (compiled === undefined) {
    compiled = compilePolicy(policy);
    compiledCache.set(policy, compiled);
  }
  return compiled;
}

/**
 * Decides a vote on `proposal` with a rules policy. Synchronous and pure.
 *
 * @throws PolicyError if the policy is malformed or does not compile.
 *
 * @example
 * ```ts
 * evaluatePolicy(
 *   { rules: [{ require: 'data.amount <= 1000 && data.env != "prod"', message: "too large" }], default: "reject" },
 *   proposal,
 * ); // { choice: "approve", reasons: ["rule 0 holds"] } for { amount: 500, env: "dev" }
 * ```
 */
export function evaluatePolicy(
  policy: VoterPolicy | CompiledPolicy,
  proposal: Proposal,
  context: PolicyContext = {},
): PolicyVerdict {
  const compiled = compiledOf(policy);
  const variables = {
    proposal,
    id: proposal.id,
    action: proposal.action,
    data: proposal.data ?? null,
    proposer: proposal.proposer,
    ts: proposal.ts,
    deadline: proposal.deadline,
    protocol: proposal.protocol,
    context,
  };
  const failed: string[] = [];
  const passed: string[] = [];
  for (const rule of compiled.rules) {
    if (rule.when !== undefined) {
      const applies = run(rule.when, variables);
      if (typeof applies === "string") {
        failed.push(
          `${rule.label}: ${rule.rule.message} (its when could not be evaluated: ${applies})`,
        );
        continue;
      }
      if (!applies) continue;
    }
    const holds = run(rule.require, variables);
    if (holds === true) passed.push(`${rule.label} holds`);
    else if (holds === false) failed.push(rule.rule.message);
    else failed.push(`${rule.rule.message} (${rule.label} could not be evaluated: ${holds})`);
  }
  if (failed.length > 0) return { choice: "reject", reasons: failed };
  if (passed.length > 0) return { choice: "approve", reasons: passed };
  return { choice: compiled.policy.default, reasons: ["no rule applies; the policy's default"] };
}

/** Runs a compiled expression: its boolean value, or why it failed. */
function run(expression: ParseResult, variables: Record<string, unknown>): boolean | string {
  try {
    const value: unknown = expression(variables);
    if (typeof value === "boolean") return value;
    return `it gave ${typeof value === "bigint" ? `${value}` : JSON.stringify(value)}, not a boolean`;
  } catch (err) {
    const e = err as { summary?: string; message?: string };
    return e.summary ?? String(e.message ?? err).split("\n")[0] ?? "evaluation failed";
  }
}

/**
 * Decides a vote with any kind of policy: a rules policy (compiled and
 * cached), or a handler. Always async, because handlers may be.
 *
 * @throws PolicyError if a rules policy is invalid or a handler returns
 *   something that is not a verdict; whatever a handler throws.
 */
export async function applyPolicy(
  policy: AnyPolicy,
  proposal: Proposal,
  context: PolicyContext = {},
): Promise<PolicyVerdict> {
  if (typeof policy !== "function") return evaluatePolicy(policy, proposal, context);
  const verdict = await policy(proposal, context);
  if (
    typeof verdict !== "object" ||
    verdict === null ||
    !isVoteChoice(verdict.choice) ||
    !Array.isArray(verdict.reasons)
  ) {
    throw new PolicyError(
      "a policy handler must return { choice: approve | reject | abstain, reasons: string[] }",
    );
  }
  return { choice: verdict.choice, reasons: verdict.reasons.map(String) };
}

/**
 * Combines policies: asks each in order and stops at the first `reject`
 * (so put cheap rules before an expensive judge). The result is `reject` if
 * one rejected, else `abstain` if one abstained, else `approve`; the reasons
 * of every policy asked are kept.
 *
 * @throws PolicyError if no policy is given.
 *
 * @example
 * ```ts
 * const vote = allOf(compilePolicy(rules), llmJudge);
 * const { choice, reasons } = await applyPolicy(vote, proposal);
 * ```
 */
export function allOf(...policies: readonly AnyPolicy[]): PolicyHandler {
  if (policies.length === 0) throw new PolicyError("allOf needs at least one policy");
  for (const policy of policies) if (typeof policy !== "function") compiledOf(policy);
  return async (proposal, context) => {
    const reasons: string[] = [];
    let abstained = false;
    for (const policy of policies) {
      const verdict = await applyPolicy(policy, proposal, context);
      reasons.push(...verdict.reasons);
      if (verdict.choice === "reject") return { choice: "reject", reasons };
      if (verdict.choice === "abstain") abstained = true;
    }
    return { choice: abstained ? "abstain" : "approve", reasons };
  };
}
