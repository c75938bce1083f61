/**
 * The AMQP transport on a 3-node RabbitMQ cluster (private nodes on
 * loopback, src/testkit/brokers/rabbitmq-cluster.ts): the quorum queues it
 * declares keep a replica on each node, so when the node leading a queue is
 * killed -9, a client on another node still gets every message that was
 * enqueued and not acked, and none that was acked. The killed node then
 * starts again and rejoins. Skipped, saying why, without rabbitmq-server.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { TransportError } from "../../src/errors/index.js";
import { startRabbitmqCluster } from "../../src/testkit/brokers/rabbitmq-cluster.js";
import { rabbitmqServerAvailable } from "../../src/testkit/brokers/rabbitmq-server.js";
import { declareTaskQueues } from "../../src/testkit/conformance/queues.js";
import { createAmqpTransport } from "../../src/transport/amqp/index.js";
import { until } from "../helpers/until.js";

const skip = rabbitmqServerAvailable() ? undefined : "rabbitmq-server (and erl) is not installed";
const enc = new TextEncoder();
const dec = new TextDecoder();

test("a quorum queue keeps its unacked messages when its leader's node is killed -9", {
  ...(skip ? { skip } : {}),
  timeout: 300_000,
}, async (t) => {
  const cluster = await startRabbitmqCluster(3);
  const exchange = `conclave-test-${randomBytes(5).toString("hex")}`;
  const prefix = `c${randomBytes(5).toString("hex")}`;
  try {
    const [first] = cluster.nodes as [(typeof cluster.nodes)[number]];
    const bus = await createAmqpTransport({ url: first.amqpUrl, exchange });
    const { work } = await declareTaskQueues(bus, prefix);
    for (let i = 0; i < 50; i++) {
      await bus.enqueue(`${prefix}.task.a`, enc.encode(String(i)), { msgId: `${prefix}-${i}` });
    }
    let acked = 0;
    const consumer = bus.consume(
      work.name,
      async (d) => {
        if (acked < 20) {
          acked++;
          await d.ack();
        }
      },
      { maxInFlight: 1 },
    );
    await until(() => acked === 20, 10_000, "20 acks");
    await consumer.close();
    await bus.close();

    // The queue's leader: where a kill hurts most.
    const listed = await first.ctl(["list_queues", "name", "leader", "--formatter", "json"]);
    const rows = JSON.parse(listed.output.slice(listed.output.indexOf("["))) as {
      name: string;
      leader: string;
    }[];
    const leaderName = rows.find((r) => r.name === work.name)?.leader;
    const victim = cluster.nodes.find((n) => n.nodeName === leaderName) ?? first;
    await victim.halt("kill");

    const survivor = cluster.nodes.find((n) => n !== victim) as typeof victim;
    // Until the surviving replicas elect a new leader, RabbitMQ 3.10 answers
    // a declaration of the queue with 541 INTERNAL_ERROR and closes the
    // connection (the transport's TransportError; a conclave process ends
    // and its supervisor starts it again). So: a new connection each try.
    let again: Awaited<ReturnType<typeof createAmqpTransport>> | undefined;
    let attempts = 0;
    const end = Date.now() + 90_000;
    for (;;) {
      attempts++;
      const candidate = await createAmqpTransport({ url: survivor.amqpUrl, exchange });
      try {
        await declareTaskQueues(candidate, prefix);
        again = candidate;
        break;
      } catch (error) {
        await candidate.close().catch(() => undefined);
        if (!(error instanceof TransportError) || Date.now() > end) throw error;
        await sleep(1000);
      }
    }
    t.diagnostic(`declared on a survivor after ${attempts} attempt(s)`);
    try {
      const seen = new Set<string>();
      again.consume(
        work.name,
        async (d) => {
          seen.add(dec.decode(d.data));
          await d.ack();
        },
        { maxInFlight: 8 },
      );
      await until(() => seen.size === 30, 60_000, "the 30 unacked messages on a surviving node");
      await sleep(200);
      assert.equal(seen.size, 30);
      for (let i = 0; i < 20; i++) assert.ok(!seen.has(String(i)), `message ${i} was acked`);
    } finally {
      await again.close();
    }

    await victim.start();
    const status = await first.ctl(["cluster_status", "--formatter", "json"]);
    const running = (JSON.parse(status.output) as { running_nodes: string[] }).running_nodes;
    assert.equal(running.length, 3, "the killed node rejoined");
  } finally {
    await cluster.stop();
  }
});
