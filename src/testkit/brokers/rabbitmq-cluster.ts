/**
 * A private RabbitMQ cluster on loopback: `size` private nodes
 * (src/testkit/brokers/rabbitmq-server.ts), each with its own name, ports and
 * directory, sharing one random Erlang cookie, the second and later joined
 * to the first (`rabbitmqctl stop_app`, `join_cluster`, `start_app`).
 * Quorum queues declared on it get a replica on every node. A node killed
 * (`halt("kill")`) and started again rejoins by itself: its membership is
 * in its data directory.
 *
 * @example
 * ```ts
 * const cluster = await startRabbitmqCluster(3);
 * await cluster.nodes[1].halt("kill");
 * await cluster.nodes[1].start();
 * await cluster.stop();
 * ```
 */
import { randomBytes } from "node:crypto";
import { type RabbitmqNode, startRabbitmqNode } from "./rabbitmq-server.js";

/** A private RabbitMQ cluster of nodes on loopback. */
export interface RabbitmqCluster {
  readonly nodes: readonly RabbitmqNode[];
  /** Stops every node and deletes their directories. */
  stop(): Promise<void>;
}

/** Runs `rabbitmqctl` on `node`; throws with its output unless it exits 0. */
async function ctlOk(node: RabbitmqNode, args: readonly string[]): Promise<string> {
  const { code, output } = await node.ctl(args, 60_000);
  if (code !== 0)
    throw new Error(
      `rabbitmqctl ${args.join(" ")} on ${node.nodeName} exited ${code}: ${output.slice(-2000)}`,
    );
  return output;
}

/** Starts `size` nodes (one after the other: each start is CPU-heavy) and clusters them. */
export async function startRabbitmqCluster(
  size = 3,
  startTimeoutMs = 90_000,
): Promise<RabbitmqCluster> {
  const cookie = randomBytes(20).toString("hex");
  const nodes: RabbitmqNode[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    for (let i = 0; i < size; i++) nodes.push(await startRabbitmqNode({ cookie, startTimeoutMs }));
    const [first, ...others] = nodes as [RabbitmqNode, ...RabbitmqNode[]];
    for (const node of others) {
      await ctlOk(node, ["stop_app"]);
      await ctlOk(node, ["join_cluster", first.nodeName]);
      await ctlOk(node, ["start_app"]);
    }
    const status = await ctlOk(first, ["cluster_status", "--formatter", "json"]);
    const running = (JSON.parse(status) as { running_nodes?: string[] }).running_nodes ?? [];
    if (running.length !== size)
      throw new Error(
        `the cluster runs ${running.length} of ${size} nodes: ${status.slice(0, 500)}`,
      );
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes, stop };
}
