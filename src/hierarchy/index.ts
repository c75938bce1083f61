/**
 * The team's shape: optimal role assignment (the Hungarian algorithm over a
 * suitability matrix), minimal re-assignment when an agent drops out, and the
 * autoscaling policy a supervisor applies to a pool of workers. Pure: the
 * runtime observes the swarm, applies the plans and publishes the events.
 *
 * @example
 * ```ts
 * const { assignments, unfilled } = assignRoles(agents, [
 *   { name: "reviewer", requires: ["code_review"], prefers: ["security"], slots: 2 },
 *   { name: "deployer", requires: ["deploy"] },
 * ]);
 * const plan = planReassignment(assignments, agents, roles, { kind: "halted", agent: "rev-1" });
 * ```
 */
export {
  type AutoscaleAction,
  type Autoscaler,
  type AutoscalerConfig,
  createAutoscaler,
  type PoolObservation,
  type PoolWorker,
} from "./autoscaler.js";
export { type AssignmentSolution, FORBIDDEN, solveAssignment } from "./hungarian.js";
export {
  type AgentEvent,
  type AgentReassigned,
  DEFAULT_REPUTATION_FLOOR,
  planReassignment,
  type ReassignmentOptions,
  type ReassignmentPlan,
  type ReassignmentReason,
} from "./reassignment.js";
export {
  type AssignRolesOptions,
  assignRoles,
  type RoleAssignment,
  type SlotAssignment,
  type UnfilledReason,
  type UnfilledSlot,
} from "./role-assignment.js";
export {
  type AgentProfile,
  DEFAULT_SUITABILITY_WEIGHTS,
  type RoleRequirement,
  type SuitabilityWeights,
  suitability,
  validateSuitabilityWeights,
} from "./suitability.js";
