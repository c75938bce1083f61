/**
 * Re-assignment: when an agent holding a role stops being fit for it, refill
 * only the slots it held, from the agents without a role, and say why.
 */
import { ConfigError } from "../errors/index.js";
import { clampReputation } from "../market/reputation.js";
import { FORBIDDEN } from "./hungarian.js";
import {
  type AssignRolesOptions,
  assignRoles,
  type SlotAssignment,
  type UnfilledSlot,
} from "./role-assignment.js";
import { type AgentProfile, type RoleRequirement, suitability } from "./suitability.js";

/** What happened to an agent. */
export type AgentEvent =
  /** The agent was halted (e.g. out of credits): it takes no work. */
  | { readonly kind: "halted"; readonly agent: string }
  /** The agent left or failed its heartbeats. */
  | { readonly kind: "left"; readonly agent: string }
  /** The agent's reputation changed to `reputation`. */
  | { readonly kind: "reputation"; readonly agent: string; readonly reputation: number };

/** Why a slot changed hands; the `reason` of `agent.reassigned`. */
export type ReassignmentReason = "halted" | "left" | "reputation-below-floor";

/** The body of one `agent.reassigned` event. */
export interface AgentReassigned {
  readonly role: string;
  readonly slot: number;
  /** The agent that held the slot. */
  readonly from: string;
  /** The agent that holds it now; `null` when nobody could take it. */
  readonly to: string | null;
  readonly reason: ReassignmentReason;
}

/** The result of {@link planReassignment}. */
export interface ReassignmentPlan {
  /** The whole assignment after the event, in the order of `current` with the refilled slots last. */
  readonly assignments: readonly SlotAssignment[];
  /** One record per slot that changed hands; empty when the event changes nothing. */
  readonly reassigned: readonly AgentReassigned[];
  /** Vacated slots nobody could take. */
  readonly unfilled: readonly UnfilledSlot[];
}

/** The reputation below which an agent loses its role, by default. */
export const DEFAULT_REPUTATION_FLOOR = 0.2;

/** Options of {@link planReassignment}. */
export interface ReassignmentOptions extends AssignRolesOptions {
  /** An agent whose reputation falls below this loses its role and is not chosen as a replacement. Default {@link DEFAULT_REPUTATION_FLOOR}. */
  readonly reputationFloor?: number;
}

/**
 * The smallest change to `current` after `event`: when the event takes the
 * agent out (halted, left, or reputation below the floor) and it holds slots,
 * those slots, and only those, are refilled optimally (Hungarian, as
 * {@link assignRoles}) from the agents that hold no slot, are not the event's
 * agent, and are at or above the reputation floor. Every other slot keeps its
 * agent, so work in progress elsewhere is not disturbed.
 *
 * `agents` are the current profiles (reputation, load, cost); `roles` the
 * role requirements the slots were assigned under.
 *
 * @throws ConfigError when a slot of `current` names a role not in `roles`, or the floor is not in [0, 1].
 *
 * @example
 * ```ts
 * const plan = planReassignment(current, agents, roles, { kind: "left", agent: "rev-2" });
 * for (const body of plan.reassigned) await ctx.publish("agent.reassigned", body);
 * ```
 */
export function planReassignment(
  current: readonly SlotAssignment[],
  agents: readonly AgentProfile[],
  roles: readonly RoleRequirement[],
  event: AgentEvent,
  options: ReassignmentOptions = {},
): ReassignmentPlan {
  const floor = options.reputationFloor ?? DEFAULT_REPUTATION_FLOOR;
  if (!(floor >= 0 && floor <= 1)) {
    throw new ConfigError(`reputation floor must be in [0, 1], got ${floor}`);
  }
  const reason = reasonOf(event, floor);
  const vacated = reason === undefined ? [] : current.filter((s) => s.agent === event.agent);
  if (vacated.length === 0) return { assignments: current, reassigned: [], unfilled: [] };

  const rolesByName = new Map(roles.map((r) => [r.name, r]));
  const vacatedRoles = new Map<string, number>();
  for (const s of vacated) {
    if (!rolesByName.has(s.role)) {
      throw new ConfigError(
        `slot ${s.slot} of role "${s.role}" is assigned but the role is not among the roles given; pass the roles the assignment was made under`,
      );
    }
    vacatedRoles.set(s.role, (vacatedRoles.get(s.role) ?? 0) + 1);
  }
  const holding = new Set(current.map((s) => s.agent));
  const free = agents.filter(
    (a) => a.id !== event.agent && !holding.has(a.id) && clampReputation(a.reputation) >= floor,
  );
  // Solve only the vacated slots: one role per vacated role name, with as many slots as were vacated.
  const refill = assignRoles(
    free,
    [...vacatedRoles].map(([name, slots]) => ({
      ...(rolesByName.get(name) as RoleRequirement),
      slots,
    })),
    options,
  );
  // Hand the refill's slots back the vacated slot numbers, in order, per role.
  const slotNumbers = new Map<string, number[]>();
  for (const s of vacated) slotNumbers.set(s.role, [...(slotNumbers.get(s.role) ?? []), s.slot]);
  const originalSlot = (role: string, refillSlot: number) =>
    (slotNumbers.get(role) as number[])[refillSlot] as number;

  const filled = refill.assignments.map((a) => ({ ...a, slot: originalSlot(a.role, a.slot) }));
  // The refill saw only the free agents; whether anyone at all could take the role decides the reason.
  const score =
    options.suitability ??
    ((a: AgentProfile, r: RoleRequirement) => suitability(a, r, options.weights));
  const others = agents.filter((a) => a.id !== event.agent);
  const unfilled = refill.unfilled.map((u) => ({
    role: u.role,
    slot: originalSlot(u.role, u.slot),
    reason: others.some((a) => score(a, rolesByName.get(u.role) as RoleRequirement) !== FORBIDDEN)
      ? ("no-free-agent" as const)
      : ("no-capable-agent" as const),
  }));
  const takenBy = new Map(filled.map((a) => [`${a.role}\u0000${a.slot}`, a.agent]));
  return {
    assignments: [...current.filter((s) => s.agent !== event.agent), ...filled],
    reassigned: vacated.map((s) => ({
      role: s.role,
      slot: s.slot,
      from: s.agent,
      to: takenBy.get(`${s.role}\u0000${s.slot}`) ?? null,
      reason: reason as ReassignmentReason,
    })),
    unfilled,
  };
}

function reasonOf(event: AgentEvent, floor: number): ReassignmentReason | undefined {
  switch (event.kind) {
    case "halted":
      return "halted";
    case "left":
      return "left";
    case "reputation":
      return clampReputation(event.reputation) < floor ? "reputation-below-floor" : undefined;
  }
}
