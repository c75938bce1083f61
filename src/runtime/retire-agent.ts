import { MAX_TIMER_MS } from "../core/clock.js";
import { toError } from "../errors/index.js";
import { signLeave } from "../registry/gossip.js";
import type { Delivery } from "../transport/port.js";
import { encodeEnvelope } from "../wire/codec.js";
import type { Agent } from "./agent.js";
import { sendDeadLetter } from "./dead-letters.js";
import type { SwarmNode } from "./node.js";
import type { NodeContext } from "./node-context.js";
import { queueNames, subjects } from "./subjects.js";
import type { Supervisor } from "./supervisor.js";

/**
 * Takes one hosted agent out of the swarm without losing work (an
 * autoscaling pool retiring an idle worker): it stops taking tasks and
 * finishes and acks the ones it holds (tasks still queued stay for the other
 * agents of its role), its supervision ends, every node is told it left (a
 * leave signed by the agent itself, for this node's agents), and the node
 * stops hosting it. Tasks it won at auction and had not run are handed back
 * ({@link handBackAwardedTasks}), and so are those of auctions it bid in that
 * close later: nobody else reads its award queue. Its key
 * stays pinned: a worker slot started again later runs with the same key.
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
  // After it left the hosted agents: this node bids for it no more, so
  // nothing it wins while draining is missed.
  if (agent.bidHandler !== undefined) {
    const bidsCloseAt = node.marketEngine.takeBidsCloseAt(agent.id);
    await handBackAwardedTasks(node, agent, {
      waitMs: node.roles.settings(agent.role).ackWaitMs,
      ...(bidsCloseAt === undefined ? {} : { bidsCloseAt }),
    });
  }
}

/** What {@link handBackAwardedTasks} reads of its node. */
export type AwardHandBackContext = Pick<NodeContext, "swarm" | "transport" | "clock" | "events">;

/** Options of {@link handBackAwardedTasks}. */
export interface AwardHandBackOptions {
  /**
   * How long to wait for tasks still leased (to the stopped agent's closed
   * consumer, on a broker that releases a lease only at its ack deadline)
   * to come back to the queue; default 30 s. Use the role's `ackWaitMs`.
   */
  readonly waitMs?: number;
  /**
   * When the last auction the agent bid in closes (`MarketEngine.takeBidsCloseAt`):
   * an award may still come then, so the queue is read until `waitMs`
   * after it, however empty it is before.
   */
  readonly bidsCloseAt?: number;
}

/** How often the award queue's depth is read while handing it back. */
const HAND_BACK_POLL_MS = 20;

/**
 * Hands back the tasks an agent that stopped for good (retired, revoked)
 * won at auction and never ran: nobody but that agent consumes its award
 * queue, so they would wait there forever, their price held in escrow and
 * their delegator waiting. Each is dead-lettered with a reason naming the
 * agent, as a task its winner failed: the dead-letter path refunds the
 * escrow to the payer (once: the escrow is keyed by the auction), the
 * winner's reputation counts a failure, and the waiters see the outcome.
 * The dead letter names the role's task queue as its subject, so
 * `conclave dead-letters redrive <id> --unpaid` runs it on any agent of the
 * role (unpaid: its price went back to the payer), not back into the
 * retired agent's queue. Call it once the agent has stopped consuming.
 * Resolves with how many tasks it handed back.
 *
 * @example
 * ```ts
 * await agent.stop(true);
 * await handBackAwardedTasks(node, agent, { waitMs: node.roles.settings(agent.role).ackWaitMs });
 * ```
 */
export async function handBackAwardedTasks(
  node: AwardHandBackContext,
  agent: { readonly id: string; readonly role: string },
  options: AwardHandBackOptions = {},
): Promise<number> {
  const queue = queueNames.awarded(node.swarm, agent.id);
  const pending = async () => {
    try {
      return (await node.transport.queueInfo(queue)).pending;
    } catch {
      // Never declared (the agent never bid here) or the link is down: nothing to read.
      return 0;
    }
  };
  const waitMs = options.waitMs ?? 30_000;
  const awardsUntil = options.bidsCloseAt === undefined ? undefined : options.bidsCloseAt + waitMs;
  if (awardsUntil === undefined && (await pending()) === 0) return 0;
  let handedBack = 0;
  const consumer = node.transport.consume(
    queue,
    async (delivery) => {
      await deadLetterAward(node, agent, queue, delivery);
      handedBack++;
    },
    { maxInFlight: 16 },
  );
  try {
    // The consumer hands back whatever arrives meanwhile.
    const wait = awardsUntil === undefined ? 0 : awardsUntil - node.clock.now();
    if (wait > 0) {
      // One timer at most (an auction's round may outlast it): then the queue is read as usual.
      const ms = Math.min(wait, MAX_TIMER_MS);
      await new Promise<void>((resolve) => node.clock.setTimer(resolve, ms));
    }
    const deadline = node.clock.now() + waitMs;
    let left = await pending();
    while (left > 0 && node.clock.now() < deadline) {
      await new Promise<void>((resolve) => node.clock.setTimer(resolve, HAND_BACK_POLL_MS));
      left = await pending();
    }
    if (left > 0) {
      node.events.emit({
        type: "error",
        error: `${left} task(s) awarded to stopped agent "${agent.id}" are still in its queue ${queue}; start an agent with id "${agent.id}" to run them, or retire it again to hand them back`,
      });
    }
  } finally {
    await consumer.drain().catch(() => undefined);
  }
  return handedBack;
}

/**
 * Dead-letters one awarded task of a stopped agent, as the broker would
 * (same headers, same dead-letter message id, so a repeat is dropped as a
 * duplicate), but under its role's task subject, then acks it.
 */
async function deadLetterAward(
  node: AwardHandBackContext,
  agent: { readonly id: string; readonly role: string },
  queue: string,
  delivery: Delivery,
): Promise<void> {
  const prefix = subjects.awardedTask(node.swarm, agent.id, "");
  const task = delivery.subject.startsWith(prefix) ? delivery.subject.slice(prefix.length) : "";
  const subject = task === "" ? delivery.subject : subjects.task(node.swarm, agent.role, task);
  const reason = `agent "${agent.id}" stopped for good (retired or revoked) before running this task it won at auction; any price held for it goes back to the payer; run it on another agent of role "${agent.role}" with: conclave dead-letters redrive <id> --unpaid`;
  try {
    await sendDeadLetter(node, `award-${agent.id}`, delivery.data, {
      headers: delivery.headers,
      reason,
      queue,
      subject,
      deliveries: delivery.deliveryCount,
      at: node.clock.now(),
      msgId: delivery.msgId,
    });
  } catch (error) {
    node.events.emit({
      type: "error",
      error: `handing back task ${delivery.msgId} of stopped agent "${agent.id}": ${toError(error).message}`,
    });
    throw error;
  }
  await delivery.ack();
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
