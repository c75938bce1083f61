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
  /** A task a team's lead delegated to its members of one role: `<swarm>.team.<team>.<role>.<task>`. */
  teamTask: (swarm: string, team: string, role: string, task: string) =>
    `${swarm}.team.${team}.${role}.${task}`,
  /** Every task delegated to a team's members of one role (that queue's filter). */
  teamTasks: (swarm: string, team: string, role: string) => `${swarm}.team.${team}.${role}.>`,
  /** A fan-out event: `<swarm>.event.<type>`. */
  event: (swarm: string, type: string) => `${swarm}.event.${type}`,
  /** Dead letters of a role queue, or of a kind of bad input: `<swarm>.dlq.<name>`. */
  deadLetter: (swarm: string, name: string) => `${swarm}.dlq.${name}`,
  allDeadLetters: (swarm: string) => `${swarm}.dlq.>`,
  /** Tasks of another run of the swarm, parked unhandled: `<swarm>.other-run.<queue>`. */
  otherRun: (swarm: string, queue: string) => `${swarm}.other-run.${queue}`,
  allOtherRuns: (swarm: string) => `${swarm}.other-run.>`,
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

/**
 * Whether `subject` is one of the swarm's durable task subjects (a role's,
 * a team's, an awarded or an auction-request task): what a dead letter
 * must have been sent on to be run again.
 */
export function isTaskSubject(swarm: string, subject: string): boolean {
  return ["task", "team", "market.task", "market.request"].some((kind) =>
    subject.startsWith(`${swarm}.${kind}.`),
  );
}

/** Durable queue names. */
export const queueNames = Object.freeze({
  role: (swarm: string, role: string) => `${swarm}-task-${role}`,
  /** Tasks a team's lead delegated to the team's members of one role (team names hold no `_`, so the split is unambiguous). */
  team: (swarm: string, team: string, role: string) => `${swarm}-team-${team}_${role}`,
  deadLetters: (swarm: string) => `${swarm}-dlq`,
  /** Tasks of another run, parked where an operator sees them (nobody consumes it). */
  otherRuns: (swarm: string) => `${swarm}-other-runs`,
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

/** Where consensus messages travel (docs/PROTOCOL.md, "Consensus"). */
export const consensusSubjects = Object.freeze({
  /** Signed proposals, fan-out to every node. */
  proposal: (swarm: string) => `${swarm}.consensus.proposal`,
  /** Votes and cluster votes on one proposal. */
  vote: (swarm: string, proposal: string) => `${swarm}.consensus.vote.${proposal}`,
  allVotes: (swarm: string) => `${swarm}.consensus.vote.*`,
  /** A coordinator's requests to representatives to sign their cluster's vote. */
  cluster: (swarm: string, proposal: string) => `${swarm}.consensus.cluster.${proposal}`,
  allClusters: (swarm: string) => `${swarm}.consensus.cluster.*`,
  /** PBFT messages among the replicas of one proposal (pre-prepare, prepare, commit, view-change, new-view). */
  pbft: (swarm: string, proposal: string) => `${swarm}.consensus.pbft.${proposal}`,
  allPbft: (swarm: string) => `${swarm}.consensus.pbft.*`,
});

/** Envelope type of a consensus proposal. */
export const PROPOSAL_TYPE = "consensus.proposal";
/** Envelope type of a coordinator's request to sign a cluster vote. */
export const CLUSTER_REQUEST_TYPE = "consensus.cluster-request";
/** Event type (`<swarm>.event.consensus.decided`) announcing a sealed decision. */
export const DECIDED_EVENT = "consensus.decided";
/**
 * Envelope header (signed with the rest) naming the swarm a message was
 * signed for; a node refuses a signed envelope naming another swarm.
 */
export const SWARM_HEADER = "conclave-swarm";
/** Task header carrying the seal of the decision that approves a privileged task. */
export const APPROVAL_HEADER = "conclave-approval";
