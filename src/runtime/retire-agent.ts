import { signLeave } from "../registry/gossip.js";
import { encodeEnvelope } from "../wire/codec.js";
import type { Agent } from "./agent.js";
import type { SwarmNode } from "./node.js";
import { subjects } from "./subjects.js";
import type { Supervisor } from "./supervisor.js";

/**
 * Takes one hosted agent out of the swarm without losing work (an
 * autoscaling pool retiring an idle worker): it stops taking tasks and
 * finishes and acks the ones it holds (tasks still queued stay for the other
 * agents of its role), its supervision ends, every node is told it left (a
 * leave signed by the agent itself, for this node's agents), and the node
 * stops hosting it. Its key stays pinned: a worker slot started again later
 * runs with the same key.
 */
export async function retireAgent(
  node: SwarmNode,
  agent: Agent,
  supervisor: Supervisor | undefined,
): Promise<void> {
  await agent.stop(true);
  // The agent exited normally, so its supervisor does not restart it; stop() ends the supervision.
  await supervisor?.stop().catch(() => undefined);
  // An agent no heartbeat announced yet is in no registry: there is nothing to take it out of.
  if (node.registry.get(agent.id) !== undefined) announceLeave(node, agent);
  node.hosted.delete(agent.id);
}

function announceLeave(node: SwarmNode, agent: Agent): void {
  try {
    const leave = signLeave(agent.signer, { node: node.nodeId, agents: [agent.id] }, node.clock);
    node.transport.publish(
      subjects.leave(node.swarm),
      encodeEnvelope(leave, { maxBytes: node.limits.maxEnvelopeBytes }),
    );
  } catch {
    // A link down now: the registries drop the silent agent after leftAfterMs anyway.
  }
}
