/**
 * RabbitMQ: a delivery whose dead letter the broker refuses (its
 * dead-letter queue full, or gone). The adapter used to hand the message
 * straight back to its queue (basic.nack, requeue) after a second: it came
 * back as a new delivery whose count was RabbitMQ's (so a `term`ed message
 * ran its handler again, and on RabbitMQ 4.3, where basic.nack no longer
 * counts, a message at its last delivery came back at the same count and
 * ran again, for ever; on 4.0-4.2 the quorum queue's default delivery-limit
 * of 20 then dropped it), and the dead letter finally stored said "its
 * consumer went away" with an inflated count instead of the real reason.
 * Now the adapter keeps the message and tries the dead letter again with
 * backoff; the handler never runs again, and the dead letter keeps its
 * reason and count. Needs the shared RabbitMQ (skipped without one).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect as tcpConnect } from "node:net";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createAmqpTransport, deleteAmqpTopology } from "../../src/transport/amqp/index.js";
import { DeadLetterHeaders, type Delivery, type Transport } from "../../src/transport/port.js";

const url = process.env.CONCLAVE_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const reachable = await new Promise<boolean>((resolve) => {
  const { hostname, port } = new URL(url);
  const socket = tcpConnect({ host: hostname, port: Number(port || 5672) });
  socket.once("connect", () => {
    socket.destroy();
    resolve(true);
  });
  socket.once("error", () => resolve(false));
});

describe("amqp: a dead letter the broker refuses", { skip: !reachable && "no RabbitMQ" }, () => {
  const exchange = `conclave-test-${randomBytes(5).toString("hex")}`;
  const queues = new Set<string>();
  const opened: Transport[] = [];
  after(async () => {
    for (const t of opened) await t.close().catch(() => undefined);
    await deleteAmqpTopology({ url, exchange, queues });
  });

  /** A work queue whose dead-letter queue is full (holds 1, and is given 2). */
  const setUp = async (maxDeliver: number) => {
    const errors: Error[] = [];
    const bus = await createAmqpTransport({ url, exchange, onError: (e) => errors.push(e) });
    opened.push(bus);
    const p = `x${randomBytes(4).toString("hex")}`;
    queues.add(`${p}-dlq`).add(`${p}-work`);
    await bus.ensureQueue({
      name: `${p}-dlq`,
      subjects: `${p}.dlq.>`,
      ackWaitMs: 30_000,
      maxDeliver: 1000,
      deadLetterSubject: `${p}.dlq.dlq`,
      maxPending: 1,
    });
    await bus.ensureQueue({
      name: `${p}-work`,
      subjects: `${p}.work.>`,
      ackWaitMs: 30_000,
      maxDeliver,
      deadLetterSubject: `${p}.dlq.work`,
    });
    // Quorum queues apply x-max-length one message late.
    for (let i = 0; i < 3; i++) {
      await bus
        .enqueue(`${p}.dlq.fill`, new Uint8Array([i]), { msgId: `${p}-fill-${i}` })
        .catch(() => undefined);
    }
    /** Empties the dead-letter queue from now on; returns what reaches it. */
    const drainDeadLetters = () => {
      const dead: Delivery[] = [];
      bus.consume(
        `${p}-dlq`,
        async (d) => {
          if (d.msgId.startsWith("dlq:")) dead.push(d);
          await d.ack();
        },
        { maxInFlight: 10 },
      );
      return dead;
    };
    return { bus, p, errors, drainDeadLetters };
  };

  test("a message at its last delivery is kept, never run again, and dead-lettered with its reason", async () => {
    const { bus, p, errors, drainDeadLetters } = await setUp(2);
    const runs: number[] = [];
    bus.consume(
      `${p}-work`,
      async (d) => {
        runs.push(d.deliveryCount);
        await d.nak({ reason: "boom" });
      },
      { maxInFlight: 1 },
    );
    await bus.enqueue(`${p}.work.a`, new Uint8Array([9]), { msgId: `${p}-m1` });
    await sleep(5000);
    assert.deepEqual(runs, [1, 2], "the handler ran its two deliveries, and no more");
    const refusals = errors.filter((e) => /could not dead-letter/.test(e.message));
    assert.ok(refusals.length >= 1, "the refused dead letter is reported");
    assert.ok(
      refusals.length <= 4,
      `tried again with backoff, not each second (${refusals.length})`,
    );
    const dead = drainDeadLetters();
    for (let i = 0; i < 80 && dead.length === 0; i++) await sleep(250);
    await sleep(500);
    assert.equal(dead.length, 1, "dead-lettered once, nothing lost");
    const [d] = dead as [Delivery];
    assert.equal(d.msgId, `dlq:${p}-m1`);
    assert.match(d.headers[DeadLetterHeaders.reason] ?? "", /maxDeliver 2.*boom/);
    assert.equal(d.headers[DeadLetterHeaders.deliveries], "2");
    assert.deepEqual(runs, [1, 2]);
    assert.equal((await bus.queueInfo(`${p}-work`)).pending, 0);
  });

  test("a termed message whose dead letter is refused does not run again", async () => {
    const { bus, p, drainDeadLetters } = await setUp(5);
    const runs: number[] = [];
    bus.consume(
      `${p}-work`,
      async (d) => {
        runs.push(d.deliveryCount);
        await d.term("not for us");
      },
      { maxInFlight: 1 },
    );
    await bus.enqueue(`${p}.work.a`, new Uint8Array([9]), { msgId: `${p}-m2` });
    await sleep(4000);
    assert.deepEqual(runs, [1], "term means never redelivered");
    const dead = drainDeadLetters();
    for (let i = 0; i < 80 && dead.length === 0; i++) await sleep(250);
    assert.equal(dead.length, 1);
    assert.equal((dead[0] as Delivery).headers[DeadLetterHeaders.reason], "not for us");
    assert.equal((dead[0] as Delivery).headers[DeadLetterHeaders.deliveries], "1");
    assert.deepEqual(runs, [1]);
  });

  test("refused for long, the message is parked at the tail of its queue, still owing its dead letter", async () => {
    const { bus, p, errors, drainDeadLetters } = await setUp(1);
    const runs: number[] = [];
    bus.consume(
      `${p}-work`,
      async (d) => {
        runs.push(d.deliveryCount);
        await d.nak({ reason: "boom" });
      },
      { maxInFlight: 1 },
    );
    await bus.enqueue(`${p}.work.a`, new Uint8Array([9]), { msgId: `${p}-m3` });
    for (let i = 0; i < 120 && !errors.some((e) => /tail of its queue/.test(e.message)); i++) {
      await sleep(250);
    }
    assert.ok(
      errors.some((e) => /tail of its queue/.test(e.message)),
      "parked",
    );
    await sleep(1500);
    assert.deepEqual(runs, [1], "parked and back again, it never ran again");
    const dead = drainDeadLetters();
    for (let i = 0; i < 120 && dead.length === 0; i++) await sleep(250);
    assert.equal(dead.length, 1, "nothing lost");
    assert.match(
      (dead[0] as Delivery).headers[DeadLetterHeaders.reason] ?? "",
      /maxDeliver 1.*boom/,
    );
    assert.equal((dead[0] as Delivery).headers[DeadLetterHeaders.deliveries], "1");
    assert.equal(
      Object.keys((dead[0] as Delivery).headers).some((k) => k.startsWith("conclave-amqp")),
      false,
    );
    assert.deepEqual(runs, [1]);
  });
});
