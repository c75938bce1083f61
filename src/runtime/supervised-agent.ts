import { defaultBackoff } from "../delivery/backoff.js";
import type { Agent } from "./agent.js";
import type { NodeContext } from "./node-context.js";
import { createSupervisor, type Supervisor } from "./supervisor.js";

/**
 * An agent under a supervisor: a crash (an `AgentCrashError` from a
 * handler) stops it taking work, hands its unsettled tasks back to the
 * queue, and restarts it with backoff; more than `maxRestartsPerMinute`
 * crashes and it is given up on (`agent.gave_up`).
 */
export function superviseAgent(
  node: NodeContext,
  agent: Agent,
  maxRestartsPerMinute: number,
): Supervisor {
  return createSupervisor({
    name: agent.id,
    clock: node.clock,
    random: node.random,
    backoff: { ...defaultBackoff, baseMs: 200, maxMs: 10_000 },
    maxRestarts: maxRestartsPerMinute,
    windowMs: 60_000,
    start: async () => {
      const { exited } = await agent.start(node);
      return {
        exited: exited.then(async (error) => {
          if (error) await agent.stop(false);
          return error;
        }),
        stop: () => agent.stop(true),
      };
    },
    onEvent: (e) => {
      if (e.type === "crashed") {
        node.events.emit({
          type: "agent.crashed",
          agent: agent.id,
          error: e.error.message,
          restart: e.restart,
        });
      } else if (e.type === "gave-up") {
        node.events.emit({ type: "agent.gave_up", agent: agent.id, error: e.error.message });
      }
    },
  });
}
