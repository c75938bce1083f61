import type { Agent } from "./agent.js";
import type { PoolHost } from "./agent-pool.js";
import type { SwarmNode } from "./node.js";
import type { RoleSlotsHost } from "./role-slots.js";

/**
 * What an autoscaling pool sees of its node; spawning and retiring go
 * through the swarm, which supervises its agents.
 */
export function poolHost(node: SwarmNode, swarm: Pick<PoolHost, "spawn" | "retire">): PoolHost {
  return {
    clock: node.clock,
    transport: node.transport,
    swarm: node.swarm,
    hosted: (id) => node.hosted.get(id),
    spawn: (id, create) => swarm.spawn(id, create),
    retire: (id) => swarm.retire(id),
    on: (listener) => node.events.on(listener),
    emit: (event) => node.events.emit(event),
    announce: (type, body) => node.membership.announce(type, body),
  };
}

/** What role slots see of their node: its agents, events and the stored reputations. */
export function roleSlotsHost(node: SwarmNode): RoleSlotsHost {
  return {
    clock: node.clock,
    hosted: (id) => node.hosted.get(id),
    agents: (): Agent[] => [...node.hosted.values()],
    on: (listener) => node.events.on(listener),
    emit: (event) => node.events.emit(event),
    announce: (type, body) => node.membership.announce(type, body),
    reputations: async (ids) =>
      new Map((await node.store.reputations(ids)).map((r) => [r.agent, r.score])),
  };
}
