/**
 * Where each kind of message travels, from the swarm name. Documented in
 * docs/PROTOCOL.md ("Subjects"); a client in another language builds the
 * same strings.
 */
export const subjects = Object.freeze({
  /** A durable task for a role: `<swarm>.task.<role>.<task>`. */
  task: (swarm: string, role: string, task: string) => `${swarm}.task.${role}.${task}`,
  /** Every task of a role (the role queue's filter). */
  roleTasks: (swarm: string, role: string) => `${swarm}.task.${role}.>`,
  /** A fan-out event: `<swarm>.event.<type>`. */
  event: (swarm: string, type: string) => `${swarm}.event.${type}`,
  /** Dead letters of a role queue, or of a kind of bad input: `<swarm>.dlq.<name>`. */
  deadLetter: (swarm: string, name: string) => `${swarm}.dlq.${name}`,
  allDeadLetters: (swarm: string) => `${swarm}.dlq.>`,
  /** Agent cards and heartbeats. */
  heartbeat: (swarm: string) => `${swarm}.registry.heartbeat`,
  leave: (swarm: string) => `${swarm}.registry.leave`,
  /** Revocations, signed by the operator or by the agent revoked. */
  revoke: (swarm: string) => `${swarm}.registry.revoke`,
  /** Requests routed to one agent. */
  agentRequest: (swarm: string, agentId: string) => `${swarm}.agent.${agentId}.request`,
  /** A call for proposals to the agents of a role (fan-out). */
  cfp: (swarm: string, role: string) => `${swarm}.market.cfp.${role}`,
  allCfps: (swarm: string) => `${swarm}.market.cfp.*`,
  /** Bids for one auction (fan-out; the auctioneer's node listens). */
  bid: (swarm: string, auction: string) => `${swarm}.market.bid.${auction}`,
  allBids: (swarm: string) => `${swarm}.market.bid.*`,
  /** The award (or unsold notice) of one auction (fan-out). */
  award: (swarm: string, auction: string) => `${swarm}.market.award.${auction}`,
  /** A task awarded to one agent: `<swarm>.market.task.<agent>.<task>` (that agent's durable queue). */
  awardedTask: (swarm: string, agentId: string, task: string) =>
    `${swarm}.market.task.${agentId}.${task}`,
  awardedTasks: (swarm: string, agentId: string) => `${swarm}.market.task.${agentId}.>`,
  /** A task of a type allocated by auction, waiting for a node to auction it: `<swarm>.market.request.<role>.<task>`. */
  auctionRequest: (swarm: string, role: string, task: string) =>
    `${swarm}.market.request.${role}.${task}`,
  allAuctionRequests: (swarm: string) => `${swarm}.market.request.>`,
});

/** Durable queue names. */
export const queueNames = Object.freeze({
  role: (swarm: string, role: string) => `${swarm}-task-${role}`,
  deadLetters: (swarm: string) => `${swarm}-dlq`,
  /** Tasks awarded to one agent by auction. */
  awarded: (swarm: string, agentId: string) => `${swarm}-award-${agentId}`,
  /** Tasks of auction-allocated types waiting for their auction. */
  auctionRequests: (swarm: string) => `${swarm}-market`,
});

/** Envelope type of a task named `name` (as listed under a role's `tasks`). */
export const taskType = (name: string) => `task.${name}`;

/** The task name inside an envelope type `task.<name>`, or undefined. */
export function taskName(type: string): string | undefined {
  return type.startsWith("task.") ? type.slice(5) : undefined;
}
