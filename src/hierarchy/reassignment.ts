/**
 * Re-assignment: when an agent holding a role stops being fit for it, refill
 * only the slots it held, from the agents without a role, and say why; and
 * later fill the slots nobody could take, once someone can.
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
  const floor = floorOf(options);
  const reason = reasonOf(event, floor);
  const vacated = reason === undefined ? [] : current.filter((s) => s.agent === event.agent);
  if (vacated.length === 0) return { assignments: current, reassigned: [], unfilled: [] };

  const holding = new Set(current.map((s) => s.agent));
  const free = agents.filter(
    (a) => a.id !== event.agent && !holding.has(a.id) && clampReputation(a.reputation) >= floor,
  );
  const others = agents.filter((a) => a.id !== event.agent);
  const { filled, unfilled } = refillSlots(vacated, free, others, roles, options);
  const takenBy = new Map(filled.map((a) => [slotKey(a), a.agent]));
  return {
    assignments: [...current.filter((s) => s.agent !== event.agent), ...filled],
    reassigned: vacated.map((s) => ({
      role: s.role,
      slot: s.slot,
      from: s.agent,
      to: takenBy.get(slotKey(s)) ?? null,
      reason: reason as ReassignmentReason,
    })),
    unfilled,
  };
}

/** A slot nobody holds: vacated with nobody to take it (`to: null`), or never filled. */
export interface VacantSlot {
  readonly role: string;
  /** 0-based slot within the role. */
  readonly slot: number;
}

/** The body of an `agent.reassigned` event for a vacant slot that someone took. */
export interface VacancyFilled {
  readonly role: string;
  readonly slot: number;
  /** Nobody held the slot. */
  readonly from: null;
  readonly to: string;
  readonly reason: "vacancy-filled";
}

/** The result of {@link planVacancyFill}. */
export interface VacancyFillPlan {
  /** The whole assignment: `current` with the filled slots last. */
  readonly assignments: readonly SlotAssignment[];
  /** One record per vacant slot that was filled. */
  readonly filled: readonly VacancyFilled[];
  /** The slots still vacant, and why. */
  readonly vacant: readonly UnfilledSlot[];
}

/**
 * Fills vacant slots (those {@link planReassignment} or the first
 * assignment left unfilled) optimally from the agents that hold no slot and
 * are at or above the reputation floor; every held slot keeps its agent.
 * The caller passes only the agents able to work now (not halted, not gone).
 *
 * @throws ConfigError when a vacant slot names a role not in `roles`, or the floor is not in [0, 1].
 *
 * @example
 * ```ts
 * // rev-1 was halted with no standby (to: null), and is funded again:
 * const plan = planVacancyFill(current, [{ role: "reviewer", slot: 0 }], agents, roles);
 * plan.filled; // [{ role: "reviewer", slot: 0, from: null, to: "rev-1", reason: "vacancy-filled" }]
 * ```
 */
export function planVacancyFill(
  current: readonly SlotAssignment[],
  vacant: readonly VacantSlot[],
  agents: readonly AgentProfile[],
  roles: readonly RoleRequirement[],
  options: ReassignmentOptions = {},
): VacancyFillPlan {
  const floor = floorOf(options);
  const held = new Set(current.map(slotKey));
  // Each slot once: a slot listed twice would be solved as two, and staffed twice.
  const open = [...new Map(vacant.map((v) => [slotKey(v), v])).values()].filter(
    (v) => !held.has(slotKey(v)),
  );
  if (open.length === 0) return { assignments: current, filled: [], vacant: [] };
  const holding = new Set(current.map((s) => s.agent));
  const free = agents.filter((a) => !holding.has(a.id) && clampReputation(a.reputation) >= floor);
  const { filled, unfilled } = refillSlots(open, free, agents, roles, options);
  return {
    assignments: [...current, ...filled],
    filled: filled.map((a) => ({
      role: a.role,
      slot: a.slot,
      from: null,
      to: a.agent,
      reason: "vacancy-filled" as const,
    })),
    vacant: unfilled,
  };
}

/**
 * Solves only the given slots (Hungarian, as {@link assignRoles}) over the
 * `free` agents, handing back the slots' own numbers; a slot left empty is
 * `no-capable-agent` when none of `others` could take the role at all.
 */
function refillSlots(
  slots: readonly VacantSlot[],
  free: readonly AgentProfile[],
  others: readonly AgentProfile[],
  roles: readonly RoleRequirement[],
  options: ReassignmentOptions,
): { filled: SlotAssignment[]; unfilled: UnfilledSlot[] } {
  const rolesByName = new Map(roles.map((r) => [r.name, r]));
  const slotNumbers = new Map<string, number[]>();
  for (const s of slots) {
    if (!rolesByName.has(s.role)) {
      throw new ConfigError(
        `slot ${s.slot} of role "${s.role}" is assigned but the role is not among the roles given; pass the roles the assignment was made under`,
      );
    }
    slotNumbers.set(s.role, [...(slotNumbers.get(s.role) ?? []), s.slot]);
  }
  // One role per role name, with as many slots as are to be filled.
  const refill = assignRoles(
    free,
    [...slotNumbers].map(([name, numbers]) => ({
      ...(rolesByName.get(name) as RoleRequirement),
      slots: numbers.length,
    })),
    options,
  );
  const originalSlot = (role: string, refillSlot: number) =>
    (slotNumbers.get(role) as number[])[refillSlot] as number;
  const score =
    options.suitability ??
    ((a: AgentProfile, r: RoleRequirement) => suitability(a, r, options.weights));
  return {
    filled: refill.assignments.map((a) => ({ ...a, slot: originalSlot(a.role, a.slot) })),
    // The refill saw only the free agents; whether anyone at all could take the role decides the reason.
    unfilled: refill.unfilled.map((u) => ({
      role: u.role,
      slot: originalSlot(u.role, u.slot),
      reason: others.some((a) => score(a, rolesByName.get(u.role) as RoleRequirement) !== FORBIDDEN)
        ? ("no-free-agent" as const)
        : ("no-capable-agent" as const),
    })),
  };
}

const slotKey = (s: VacantSlot) => `${s.role}\u0000${s.slot}`;

function floorOf(options: ReassignmentOptions): number {
  const floor = options.reputationFloor ?? DEFAULT_REPUTATION_FLOOR;
  if (!(floor >= 0 && floor <= 1)) {
    throw new ConfigError(`reputation floor must be in [0, 1], got ${floor}`);
  }
  return floor;
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
