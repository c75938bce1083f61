import type { QueueInfo } from "../transport/port.js";
import { REQUEST_ACK_WAIT_MS } from "./market/engine.js";
import type { NodeContext } from "./node-context.js";
import { queueNames, subjects } from "./subjects.js";

/** Whether any task type of the swarm is allocated by auction. */
export function hasAuctions(node: Pick<NodeContext, "roles">): boolean {
  return Object.values(node.roles.tasks).some((t) => t.allocation === "auction");
}

/**
 * Declares the durable queues this node uses (idempotent on every
 * transport): the dead-letter queue, one queue per role, one per team and
 * role of its members, one per hosted bidder for the tasks it wins, and the queue of tasks waiting for their
 * auction when the swarm auctions any task type.
 */
export async function declareQueues(node: NodeContext): Promise<void> {
  const { transport, swarm, roles } = node;
  await transport.ensureQueue({
    name: queueNames.deadLetters(swarm),
    subjects: subjects.allDeadLetters(swarm),
    ackWaitMs: 30_000,
    maxDeliver: 1_000_000,
    deadLetterSubject: subjects.deadLetter(swarm, "dlq"),
  });
  // Tasks of another run, parked unhandled (run-identity.ts); nobody consumes it.
  await transport.ensureQueue({
    name: queueNames.otherRuns(swarm),
    subjects: subjects.allOtherRuns(swarm),
    ackWaitMs: 30_000,
    maxDeliver: 1_000_000,
    deadLetterSubject: subjects.deadLetter(swarm, "other-runs"),
  });
  for (const role of roles.names) {
    const s = roles.settings(role);
    await transport.ensureQueue({
      name: queueNames.role(swarm, role),
      subjects: subjects.roleTasks(swarm, role),
      ackWaitMs: s.ackWaitMs,
      maxDeliver: s.maxDeliver,
      deadLetterSubject: subjects.deadLetter(swarm, role),
      ...(s.maxPending === undefined ? {} : { maxPending: s.maxPending }),
    });
  }
  // Every node declares every team's queues, as it does the roles': a lead
  // in this process may delegate to members that are not up yet.
  const teamQueues = node.teams.queues();
  // A member whose role only this node knows (a library swarm without a declared list) still gets its queue.
  for (const agent of node.agents.all()) {
    const team = node.teams.teamOf(agent.id, agent.role);
    if (team !== undefined && !teamQueues.some((q) => q.team === team && q.role === agent.role)) {
      teamQueues.push({ team, role: agent.role });
    }
  }
  for (const { team, role } of teamQueues) {
    const s = roles.settings(role);
    await transport.ensureQueue({
      name: queueNames.team(swarm, team, role),
      subjects: subjects.teamTasks(swarm, team, role),
      ackWaitMs: s.ackWaitMs,
      maxDeliver: s.maxDeliver,
      // A team's task that dies is a dead letter of its role, where the role's are looked for.
      deadLetterSubject: subjects.deadLetter(swarm, role),
      ...(s.maxPending === undefined ? {} : { maxPending: s.maxPending }),
    });
  }
  for (const agent of node.agents.all()) {
    if (!agent.bidHandler) continue;
    const s = roles.settings(agent.role);
    await transport.ensureQueue({
      name: queueNames.awarded(swarm, agent.id),
      subjects: subjects.awardedTasks(swarm, agent.id),
      ackWaitMs: s.ackWaitMs,
      maxDeliver: s.maxDeliver,
      deadLetterSubject: subjects.deadLetter(swarm, `award-${agent.id}`),
    });
  }
  if (hasAuctions(node)) {
    await transport.ensureQueue({
      name: queueNames.auctionRequests(swarm),
      subjects: subjects.allAuctionRequests(swarm),
      ackWaitMs: REQUEST_ACK_WAIT_MS,
      maxDeliver: 20,
      deadLetterSubject: subjects.deadLetter(swarm, "market"),
    });
  }
}

/**
 * The depth of the swarm's shared queues as the broker reports it: each
 * role's work queue, each team's, and the dead-letter queue (and the market's, when it
 * has one). A queue the broker does not know (not declared yet) is left out.
 */
export async function queueDepths(node: NodeContext): Promise<QueueInfo[]> {
  const { transport, swarm, roles } = node;
  const names = [
    ...roles.names.map((role) => queueNames.role(swarm, role)),
    ...node.teams.queues().map((q) => queueNames.team(swarm, q.team, q.role)),
    queueNames.deadLetters(swarm),
    queueNames.otherRuns(swarm),
    ...(hasAuctions(node) ? [queueNames.auctionRequests(swarm)] : []),
  ];
  const infos = await Promise.all(
    names.map((name) => transport.queueInfo(name).catch(() => undefined)),
  );
  return infos.filter((info): info is QueueInfo => info !== undefined);
}
