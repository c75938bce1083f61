/**
 * What an acknowledged enqueue means on RabbitMQ: the message is persistent
 * (delivery mode 2) in a durable quorum queue, and `enqueue` resolves only
 * once the broker's publisher confirm came back (quorum queues confirm after
 * the write is fsynced on a majority of their members). So there is no
 * weaker default to make strict: `broker.syncEveryWrite` changes nothing on
 * RabbitMQ. Against the RabbitMQ on 127.0.0.1:5672, through a TCP proxy that
 * can hold the broker's answers back.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import amqplib from "amqplib";
import { createAmqpTransport, deleteAmqpTopology } from "../../src/transport/amqp/index.js";
import type { Transport } from "../../src/transport/port.js";
import { type ChaosProxy, startChaosProxy } from "../chaos/proxy.js";
import { amqpMissing, amqpUrl } from "../integration/fixtures/processes.js";

const rabbitMissing = await amqpMissing();
const bytes = (s: string) => new TextEncoder().encode(s);

describe("amqp: an acknowledged enqueue is confirmed and persistent", {
  skip: rabbitMissing,
}, () => {
  const prefix = `dur-${randomBytes(4).toString("hex")}`;
  const exchange = `conclave-${prefix}`;
  const work = `${prefix}-work`;
  const dlq = `${prefix}-dlq`;
  let proxy: ChaosProxy;
  let bus: Transport;

  before(async () => {
    const target = new URL(amqpUrl);
    proxy = await startChaosProxy(Number(target.port || 5672));
    target.hostname = "127.0.0.1";
    target.port = String(proxy.port);
    bus = await createAmqpTransport({ url: target.toString(), exchange });
    await bus.ensureQueue({
      name: dlq,
      subjects: `${prefix}.dlq.>`,
      ackWaitMs: 30_000,
      maxDeliver: 1,
      deadLetterSubject: `${prefix}.dlq.dlq`,
    });
    await bus.ensureQueue({
      name: work,
      subjects: `${prefix}.task.>`,
      ackWaitMs: 30_000,
      maxDeliver: 3,
      deadLetterSubject: `${prefix}.dlq.work`,
    });
  });
  after(async () => {
    proxy?.heal();
    await bus?.close().catch(() => undefined);
    await proxy?.close();
    await deleteAmqpTopology({ url: amqpUrl, exchange, queues: [work, dlq] }).catch(
      () => undefined,
    );
  });

  test("enqueue waits for the broker's confirm", async () => {
    // Nothing moves between the transport and RabbitMQ: the publish is
    // written to the socket, but no confirm can come back.
    proxy.blackhole();
    let settled = false;
    const pending = bus.enqueue(`${prefix}.task.a`, bytes("held"), { msgId: `${prefix}-1` });
    pending.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    await sleep(600);
    assert.equal(settled, false, "an enqueue resolved before RabbitMQ could confirm it");
    proxy.heal();
    assert.deepEqual(await pending, { duplicate: false });
  });

  test("the message sits persistent in a durable quorum queue", async () => {
    const connection = await amqplib.connect(amqpUrl, { timeout: 10_000 });
    try {
      const channel = await connection.createChannel();
      const message = await channel.get(work, { noAck: false });
      assert.ok(message, "the confirmed message is in the queue");
      assert.equal(message.content.toString(), "held");
      assert.equal(message.properties.deliveryMode, 2, "persistent (delivery mode 2)");
      channel.nack(message, false, true);
      await channel.close();
      // Declaring it as a classic queue is refused: it is a quorum queue.
      const probe = await connection.createChannel();
      probe.on("error", () => undefined);
      await assert.rejects(
        probe.assertQueue(work, { durable: true, arguments: { "x-queue-type": "classic" } }),
        /PRECONDITION_FAILED.*x-queue-type/,
      );
    } finally {
      await connection.close().catch(() => undefined);
    }
  });
});
