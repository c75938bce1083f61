/**
 * An enqueue repeated while its first publish is still being replicated.
 *
 * A clustered stream's leader records a message id when it proposes the
 * message to its replicas, with sequence 0 until a majority has it; a
 * repeat of that id arriving meanwhile is answered "duplicate" with
 * sequence 0. If the leader is cut off from the other servers, the proposal
 * never commits and is dropped when another server takes over, and the
 * message with it. conclave took that answer as "stored", so a task whose
 * first send timed out at the cut and whose retry got that answer was lost
 * (chaos `nats-r3-partition` seed 700: 1 task on nats-server 2.9.10, 12 and
 * 14 on 2.10.27, each sent as its stream's leader was cut off).
 *
 * Here, on a real 3-node cluster whose routes go through the chaos proxy:
 * the stream leader's routes are black-holed, a client connected to the
 * leader enqueues (no answer: the proposal cannot commit), and enqueues the
 * same id again. That second enqueue must fail, not resolve; after the heal,
 * retrying until one resolves delivers the message exactly once.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { TimeoutError, TransportError } from "../../src/errors/index.js";
import {
  type NatsCluster,
  natsServerAvailable,
  startNatsCluster,
} from "../../src/testkit/brokers/nats-server.js";
import { declareTaskQueues } from "../../src/testkit/conformance/queues.js";
import { createNatsTransport } from "../../src/transport/nats/nats-transport.js";
import type { Transport } from "../../src/transport/port.js";
import { until } from "../helpers/until.js";
import { type ChaosProxy, startChaosProxy } from "./proxy.js";

const skip = natsServerAvailable() ? undefined : "no nats-server binary on PATH";

test("a repeat answered 'duplicate, sequence 0' is not stored, and a later retry is", {
  ...(skip ? { skip } : {}),
  timeout: 180_000,
}, async () => {
  const routes = new Map<string, ChaosProxy>();
  let cluster: NatsCluster | undefined;
  const transports: Transport[] = [];
  after(async () => {
    for (const t of transports) await t.close().catch(() => undefined);
    await cluster?.stop();
    await Promise.all([...routes.values()].map((p) => p.close()));
  });
  cluster = await startNatsCluster({
    routeVia: async (from, to, clusterPort) => {
      const proxy = await startChaosProxy(clusterPort);
      routes.set(`n${from + 1}-n${to + 1}`, proxy);
      return proxy.port;
    },
  });
  const setup = await createNatsTransport({ servers: [...cluster.urls], replicas: 3 });
  transports.push(setup);
  const { work } = await declareTaskQueues(setup, "pd");
  const nc = await connect({ servers: [...cluster.urls] });
  let leader: string | undefined;
  try {
    const jsm = await jetstreamManager(nc);
    await until(
      async () => {
        leader = (await jsm.streams.info(work.name).catch(() => undefined))?.cluster?.leader;
        return leader !== undefined;
      },
      30_000,
      "a leader for the queue's stream",
    );
  } finally {
    await nc.close();
  }
  const at = cluster.indexOf(leader as string);
  const bus = await createNatsTransport({
    servers: cluster.urls[at] as string,
    replicas: 3,
    apiTimeoutMs: 1_000,
    onError: () => undefined,
  });
  transports.push(bus);
  // Known to this connection, so its publishes are not first looked up.
  await declareTaskQueues(bus, "pd");

  const cut = [...routes].filter(([pair]) => pair.split("-").includes(leader as string));
  for (const [, proxy] of cut) proxy.blackhole();
  const data = new TextEncoder().encode("{}");
  const first = await bus.enqueue("pd.task.x", data, { msgId: "x" }).then(
    (result) => ({ result }),
    (error: unknown) => ({ error }),
  );
  assert.ok("error" in first, `the cut-off leader cannot store it: ${JSON.stringify(first)}`);
  const second = await bus.enqueue("pd.task.x", data, { msgId: "x" }).then(
    (result) => ({ result }),
    (error: unknown) => ({ error }),
  );
  assert.ok(
    "error" in second,
    `a repeat while the first is unreplicated must not count as stored: ${JSON.stringify(second)}`,
  );
  // 2.10 answers "duplicate, sequence 0" (refused here as not stored); 2.9 does not answer.
  assert.ok(
    second.error instanceof TimeoutError ||
      (second.error instanceof TransportError && /still replicating/.test(second.error.message)),
    String(second.error),
  );
  // Long enough for the cut-off leader to give up its place.
  await sleep(6_000);
  for (const [, proxy] of cut) proxy.heal();

  const resend = await createNatsTransport({
    servers: [...cluster.urls],
    replicas: 3,
    apiTimeoutMs: 2_000,
    onError: () => undefined,
  });
  transports.push(resend);
  await declareTaskQueues(resend, "pd");
  await until(
    () =>
      resend.enqueue("pd.task.x", data, { msgId: "x" }).then(
        () => true,
        () => false,
      ),
    60_000,
    "an enqueue of x that resolves after the heal",
  );
  const got: string[] = [];
  resend.consume(
    work.name,
    async (delivery) => {
      got.push(delivery.msgId);
      await delivery.ack();
    },
    { maxInFlight: 4 },
  );
  await until(() => got.length >= 1, 30_000, "x delivered").catch(() => undefined);
  await sleep(1_000);
  assert.deepEqual(got, ["x"], "x delivered exactly once");
});
