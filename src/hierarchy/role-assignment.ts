/**
 * Role assignment: agents to roles (each role with a number of slots), the
 * total suitability maximised by the Hungarian algorithm.
 */
import { ConfigError } from "../errors/index.js";
import { FORBIDDEN, solveAssignment } from "./hungarian.js";
import {
  type AgentProfile,
  DEFAULT_SUITABILITY_WEIGHTS,
  type RoleRequirement,
  type SuitabilityWeights,
  suitability,
  validateSuitabilityWeights,
} from "./suitability.js";

/** One filled slot. */
export interface SlotAssignment {
  readonly role: string;
  /** 0-based slot within the role. */
  readonly slot: number;
  readonly agent: string;
  readonly suitability: number;
}

/** Why a slot stayed empty. */
export type UnfilledReason =
  /** No agent has every capability the role requires. */
  | "no-capable-agent"
  /** Capable agents exist, but all of them were needed elsewhere (or there are too few). */
  | "no-free-agent";

/** An empty slot. */
export interface UnfilledSlot {
  readonly role: string;
  readonly slot: number;
  readonly reason: UnfilledReason;
}

/** The result of {@link assignRoles}. */
export interface RoleAssignment {
  /** Filled slots, in role order then slot order. */
  readonly assignments: readonly SlotAssignment[];
  /** Empty slots, in role order then slot order. */
  readonly unfilled: readonly UnfilledSlot[];
  /** Roles no agent can take at all (a required capability nobody has). */
  readonly unassignable: readonly string[];
  /** Agents without a role, in the order given. */
  readonly idle: readonly string[];
  /** Sum of the assigned pairs' suitability. */
  readonly total: number;
}

/** Options of {@link assignRoles}. */
export interface AssignRolesOptions {
  /** Weights of the default suitability function. */
  readonly weights?: SuitabilityWeights;
  /**
   * A suitability function to use instead of the default one: a finite
   * number (higher is better) or −∞ for an agent that must not take the role.
   */
  readonly suitability?: (agent: AgentProfile, role: RoleRequirement) => number;
}

/**
 * Assigns each agent at most one role slot so that, first, as many slots as
 * possible are filled, and then the total suitability is the largest possible.
 * A role with `slots: k` is k columns of the matrix. Works for more agents
 * than slots (some stay idle) and fewer (some slots stay empty, reported with
 * the reason). Deterministic for the same input order.
 *
 * @throws ConfigError on duplicate agent ids or role names, a bad slot count, bad weights, or a
 *   suitability that is neither a finite number nor {@link FORBIDDEN}.
 *
 * @example
 * ```ts
 * const { assignments, unfilled } = assignRoles(
 *   [
 *     { id: "a1", capabilities: ["code_review"], reputation: 0.9 },
 *     { id: "a2", capabilities: ["code_review", "deploy"] },
 *   ],
 *   [{ name: "reviewer", requires: ["code_review"] }, { name: "deployer", requires: ["deploy"] }],
 * );
 * // a1 → reviewer, a2 → deployer: a2 is the only one who can deploy
 * ```
 */
export function assignRoles(
  agents: readonly AgentProfile[],
  roles: readonly RoleRequirement[],
  options: AssignRolesOptions = {},
): RoleAssignment {
  requireDistinct(
    "agent id",
    agents.map((a) => a.id),
  );
  requireDistinct(
    "role name",
    roles.map((r) => r.name),
  );
  const weights = options.weights ?? DEFAULT_SUITABILITY_WEIGHTS;
  validateSuitabilityWeights(weights);
  const score = options.suitability ?? ((a, r) => suitability(a, r, weights));

  const slots: { role: RoleRequirement; slot: number; column: number }[] = [];
  for (const role of roles) {
    const count = role.slots ?? 1;
    if (!Number.isInteger(count) || count < 0) {
      throw new ConfigError(`role "${role.name}" slots must be a whole number ≥ 0, got ${count}`);
    }
    for (let slot = 0; slot < count; slot++) slots.push({ role, slot, column: slots.length });
  }
  // Score each (agent, role) pair once; a role's slots share the column values.
  const byRole = roles.map((role) =>
    agents.map((agent) => {
      const value = score(agent, role);
      // Checked here, where the agent and role have names: the solver only knows matrix indices.
      if (value !== FORBIDDEN && !Number.isFinite(value)) {
        throw new ConfigError(
          `suitability of agent "${agent.id}" for role "${role.name}" is ${typeof value === "number" ? value : JSON.stringify(value)}; return a finite number, or FORBIDDEN (−∞) for an agent that must not take the role`,
        );
      }
      return value;
    }),
  );
  const roleIndex = new Map(roles.map((r, i) => [r.name, i]));
  const matrix = agents.map((_, a) =>
    slots.map(({ role }) => (byRole[roleIndex.get(role.name) as number] as number[])[a] as number),
  );
  const solution = solveAssignment(matrix);

  const capable = new Set(
    roles.filter((_, i) => (byRole[i] as number[]).some((v) => v !== FORBIDDEN)).map((r) => r.name),
  );
  const assignments: SlotAssignment[] = [];
  const unfilled: UnfilledSlot[] = [];
  for (const { role, slot, column } of slots) {
    const agent = solution.rowOfColumn[column] as number;
    if (agent >= 0) {
      assignments.push({
        role: role.name,
        slot,
        agent: (agents[agent] as AgentProfile).id,
        suitability: (matrix[agent] as number[])[column] as number,
      });
    } else {
      unfilled.push({
        role: role.name,
        slot,
        reason: capable.has(role.name) ? "no-free-agent" : "no-capable-agent",
      });
    }
  }
  return {
    assignments,
    unfilled,
    unassignable: roles
      .filter((r) => (r.slots ?? 1) > 0 && !capable.has(r.name))
      .map((r) => r.name),
    idle: agents.filter((_, a) => solution.columnOfRow[a] === -1).map((a) => a.id),
    total: solution.total,
  };
}

function requireDistinct(what: string, names: readonly string[]): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name))
      throw new ConfigError(`${what} "${name}" appears twice; each must be unique`);
    seen.add(name);
  }
}
