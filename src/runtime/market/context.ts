/**
 * What the market reads from its node: the members of the `NodeContext` it
 * uses (nothing is re-wrapped for it), and the questions about this node's
 * agents that the auctioneer's and the bidders' sides both ask.
 */
import type { LocalAgent, NodeContext } from "../node-context.js";

/** The parts of the node the market engine uses. */
export type MarketContext = Pick<
  NodeContext,
  | "swarm"
  | "transport"
  | "store"
  | "clock"
  | "limits"
  | "events"
  | "keys"
  | "roles"
  | "agents"
  | "registry"
  | "outbox"
  | "deadLetters"
  | "budgets"
>;

/** A local agent sits auctions out while paused or halted by its budget. */
export function isIdle(node: Pick<MarketContext, "budgets">, agent: LocalAgent): boolean {
  return agent.paused || node.budgets.isHalted(agent.id);
}

/** This node's agents of `role` that answer calls for proposals: a bid handler, not idle. */
export function localBidders(node: MarketContext, role: string): LocalAgent[] {
  const bidders: LocalAgent[] = [];
  for (const agent of node.agents.all()) {
    if (agent.role === role && agent.bidHandler !== undefined && !isIdle(node, agent)) {
      bidders.push(agent);
    }
  }
  return bidders;
}

/** Who operates an agent, when the swarm file says (local card first, then the registry's). */
export function ownerOf(node: MarketContext, agentId: string): string | undefined {
  return node.agents.get(agentId)?.card.owner ?? node.registry.get(agentId)?.card.owner;
}
