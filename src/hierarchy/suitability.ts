/**
 * How well an agent suits a role: the number the role assignment maximises.
 */
import { ConfigError } from "../errors/index.js";
import { clampReputation } from "../market/reputation.js";
import { FORBIDDEN } from "./hungarian.js";

/**
 * What the assignment knows about an agent. Structurally a subset of the
 * registry's agent card plus what the runtime measures (reputation, load,
 * cost), so a card with those added can be passed as is.
 */
export interface AgentProfile {
  readonly id: string;
  /** Skills the agent offers, matched against the role's `requires` and `prefers`. */
  readonly capabilities: readonly string[];
  /** The agent's reputation in [0, 1]; default 0.5 (neutral). */
  readonly reputation?: number;
  /** Share of its capacity in use, in [0, 1] (in flight ÷ max in flight); default 0. */
  readonly load?: number;
  /** What one task costs with this agent (e.g. credits per task), ≥ 0; default 0. */
  readonly cost?: number;
}

/** A role to fill. */
export interface RoleRequirement {
  readonly name: string;
  /** Capabilities an agent must have all of to take the role. */
  readonly requires?: readonly string[];
  /** Capabilities that make an agent better at the role. */
  readonly prefers?: readonly string[];
  /** How many agents the role takes. Default 1. */
  readonly slots?: number;
}

/**
 * How much each criterion counts in {@link suitability}. The defaults favour
 * fit first, then track record, then spare capacity, then price: a good
 * specialist is worth more than a cheap generalist, but of two equal agents
 * the idle and cheaper one wins.
 */
export interface SuitabilityWeights {
  /** Weight of the share of preferred capabilities the agent has. Default 0.4. */
  readonly preferred: number;
  /** Weight of reputation. Default 0.3. */
  readonly reputation: number;
  /** Weight of spare capacity (1 − load). Default 0.2. */
  readonly spareCapacity: number;
  /** Weight of the cost penalty `cost / (cost + costScale)`. Default 0.1. */
  readonly cost: number;
  /** The cost at which the cost penalty is half its maximum. Default 100. */
  readonly costScale: number;
}

/** The default {@link SuitabilityWeights}. */
export const DEFAULT_SUITABILITY_WEIGHTS: SuitabilityWeights = Object.freeze({
  preferred: 0.4,
  reputation: 0.3,
  spareCapacity: 0.2,
  cost: 0.1,
  costScale: 100,
});

/**
 * The suitability of `agent` for `role`: {@link FORBIDDEN} (−∞) when the
 * agent lacks a required capability, else
 *
 * `preferred × share of role.prefers the agent has (1 without prefers)
 *  + reputation × reputation
 *  + spareCapacity × (1 − load)
 *  − cost × cost / (cost + costScale)`
 *
 * With the default weights a value in [−0.1, 0.9]; higher is better.
 * Reputation and load are clamped to [0, 1], a negative cost counts 0 and an
 * infinite one the whole penalty; a NaN figure counts as its default.
 *
 * @example
 * ```ts
 * suitability(
 *   { id: "rev-1", capabilities: ["code_review", "typescript"], reputation: 0.8, load: 0.5, cost: 100 },
 *   { name: "reviewer", requires: ["code_review"], prefers: ["typescript", "security"] },
 * ); // 0.4 × 0.5 + 0.3 × 0.8 + 0.2 × 0.5 − 0.1 × 0.5 = 0.49
 * ```
 */
export function suitability(
  agent: AgentProfile,
  role: RoleRequirement,
  weights: SuitabilityWeights = DEFAULT_SUITABILITY_WEIGHTS,
): number {
  const has = new Set(agent.capabilities);
  for (const needed of role.requires ?? []) if (!has.has(needed)) return FORBIDDEN;
  const prefers = role.prefers ?? [];
  const preferred =
    prefers.length === 0 ? 1 : prefers.filter((c) => has.has(c)).length / prefers.length;
  // Measured figures, so clamped rather than refused: an unknown (NaN) load
  // or cost counts as its default, as an unknown reputation counts as neutral.
  const load = Math.min(1, Math.max(0, orDefault(agent.load, 0)));
  const cost = Math.max(0, orDefault(agent.cost, 0));
  // cost ÷ (cost + scale), written so that it is 0 for a cost of 0 (whatever
  // the scale, 0 included) and tends
  // to 1 for a huge or infinite one (∞ ÷ ∞ is NaN; a sum that overflows gave 0).
  const costPenalty = cost === 0 ? 0 : 1 / (1 + weights.costScale / cost);
  return (
    weights.preferred * preferred +
    weights.reputation * clampReputation(agent.reputation) +
    weights.spareCapacity * (1 - load) -
    weights.cost * costPenalty
  );
}

function orDefault(value: number | undefined, fallback: number): number {
  return value === undefined || Number.isNaN(value) ? fallback : value;
}

/** Checks a {@link SuitabilityWeights}. @throws ConfigError on a negative or non-finite weight. */
export function validateSuitabilityWeights(weights: SuitabilityWeights): void {
  for (const [name, value] of Object.entries(weights)) {
    if (!(Number.isFinite(value) && value >= 0)) {
      throw new ConfigError(`suitability weight ${name} must be a finite number ≥ 0, got ${value}`);
    }
  }
  if (weights.costScale <= 0) {
    throw new ConfigError(`suitability costScale must be > 0, got ${weights.costScale}`);
  }
}
