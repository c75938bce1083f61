/**
 * An enqueue to a queue whose stream has no leader (a 3-node JetStream
 * cluster with two servers down: its R3 stream has lost its quorum) is a
 * transient failure that says so, not `UnroutableError` ("no durable queue
 * takes subject …; declare one"): the queue exists, and takes messages again
 * once a second server is back. Found by the chaos scenario nats-r3-kill2,
 * where every process logged the wrong advice while the quorum was lost.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { TransportError, UnroutableError } from "../../src/errors/index.js";
import {
  type NatsCluster,
  natsServerAvailable,
  startNatsCluster,
} from "../../src/testkit/brokers/nats-server.js";
import { declareTaskQueues } from "../../src/testkit/conformance/queues.js";
import { createNatsTransport } from "../../src/transport/nats/index.js";
import type { Transport } from "../../src/transport/port.js";

const enc = new TextEncoder();

/**
 * Enqueues `body` to `subject` until it is refused with an error `final`
 * accepts, for 60 s at most, and returns the last refusal. Taking the
 * message fails the test: none of these enqueues should succeed.
 */
async function refusal(
  bus: Transport,
  subject: string,
  body: string,
  msgId: string,
  final: (error: unknown) => boolean,
): Promise<unknown> {
  const end = Date.now() + 60_000;
  for (;;) {
    const error = await bus.enqueue(subject, enc.encode(body), { msgId }).then(
      () => assert.fail(`${subject} took a message`),
      (e: unknown) => e,
    );
    if (final(error) || Date.now() > end) return error;
    await sleep(200);
  }
}

describe("NATS cluster: an enqueue while the queue's stream has no leader", {
  skip: natsServerAvailable() ? false : "nats-server is not on PATH",
}, () => {
  let cluster: NatsCluster | undefined;
  let bus: Transport | undefined;
  after(async () => {
    await bus?.close().catch(() => undefined);
    await cluster?.stop();
  });

  test("fails as retryable with the reason, and succeeds once the quorum is back", {
    timeout: 120_000,
  }, async () => {
    cluster = await startNatsCluster();
    bus = await createNatsTransport({
      servers: [...cluster.urls],
      replicas: 3,
      apiTimeoutMs: 1_000,
      reconnectTimeWaitMs: 100,
    });
    const p = `l${randomBytes(5).toString("hex")}`;
    await declareTaskQueues(bus, p);
    await bus.enqueue(`${p}.task.a`, enc.encode("1"), { msgId: `${p}-1` });

    await cluster.kill(1);
    await cluster.kill(2);
    // While the surviving server still leads the stream, publishes time out;
    // once it steps down (or if it never led), nothing takes the subject.
    // Before the fix that was UnroutableError.
    // Timeouts and reconnects first (the client may have been on a killed server).
    const failure = await refusal(
      bus,
      `${p}.task.a`,
      "2",
      `${p}-2`,
      (error) => error instanceof UnroutableError || /no leader/.test(String(error)),
    );
    assert.ok(!(failure instanceof UnroutableError), `not unroutable: ${String(failure)}`);
    assert.ok(failure instanceof TransportError, `a TransportError: ${String(failure)}`);
    // The transport declared the queue, so it knows it exists (JetStream's
    // API, without a quorum, could not say).
    assert.match(
      failure.message,
      new RegExp(`queue "${p}-work" exists but its stream has no leader`),
    );

    // A second server back: the queue takes messages again; a subject no
    // queue takes is still unroutable (JetStream's API says so).
    await cluster.restart(1);
    const back = Date.now() + 60_000;
    for (;;) {
      try {
        await bus.enqueue(`${p}.task.a`, enc.encode("2"), { msgId: `${p}-2` });
        break;
      } catch (error) {
        if (Date.now() > back) throw error;
        await sleep(250);
      }
    }
    // The stream's group can have its leader back before the cluster's
    // meta group does: until then JetStream's API cannot say whether a
    // stream takes the subject, and the transport says so (retryable).
    const unrouted = await refusal(
      bus,
      `${p}.nothing.a`,
      "3",
      `${p}-3`,
      (error) => !(error instanceof TransportError) || !/no leader/.test(error.message),
    );
    assert.ok(unrouted instanceof UnroutableError, `unroutable: ${String(unrouted)}`);
  });
});
