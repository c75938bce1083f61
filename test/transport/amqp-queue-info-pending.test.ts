/**
 * RabbitMQ: `queueInfo().pending` is "messages stored and not yet acked
 * (including those in flight)", as the memory and NATS adapters count it.
 * AMQP reports a queue's ready messages only, and the adapter added the
 * deliveries its handlers held: a message it held unacked while waiting to
 * retry it (a short nak delay, a dead letter tried again) or had put in a
 * delay queue (a long nak delay) was counted nowhere, so a queue holding
 * three messages read as holding one (and an award queue whose tasks all
 * waited in a delay queue read as empty, and was not handed back).
 * Needs the shared RabbitMQ (skipped without one).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect as tcpConnect } from "node:net";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ManualClock } from "../../src/core/clock.js";
import { DelayedMessages } from "../../src/transport/amqp/delayed-messages.js";
import { createAmqpTransport, deleteAmqpTopology } from "../../src/transport/amqp/index.js";
import type { Delivery, Transport } from "../../src/transport/port.js";

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

test("a delayed message is counted until received back, or surely back (twice its delay and a margin)", () => {
  const clock = new ManualClock(0);
  const delayed = new DelayedMessages(clock);
  delayed.add("q", "a", 10_000);
  delayed.add("q", "b", 10_000);
  delayed.add("other", "c", 10_000);
  assert.equal(delayed.count("q"), 2);
  delayed.back("q", "a");
  assert.equal(delayed.count("q"), 1);
  clock.advance(24_999);
  assert.equal(delayed.count("q"), 1, "b may still wait behind a longer delay of its bucket");
  clock.advance(1);
  assert.equal(delayed.count("q"), 0);
  assert.equal(delayed.count("other"), 0);
});

describe("amqp: queueInfo counts every message not acked", {
  skip: !reachable && "no RabbitMQ",
}, () => {
  const exchange = `conclave-test-${randomBytes(5).toString("hex")}`;
  const queues = new Set<string>();
  const opened: Transport[] = [];
  after(async () => {
    for (const t of opened) await t.close().catch(() => undefined);
    await deleteAmqpTopology({ url, exchange, queues });
  });

  test("held for a retry, waiting in a delay queue, or leased: all pending", async () => {
    const bus = await createAmqpTransport({ url, exchange });
    opened.push(bus);
    const p = `x${randomBytes(4).toString("hex")}`;
    const work = `${p}-work`;
    queues.add(`${p}-dlq`).add(work);
    await bus.ensureQueue({
      name: `${p}-dlq`,
      subjects: `${p}.dlq.>`,
      ackWaitMs: 30_000,
      maxDeliver: 100,
      deadLetterSubject: `${p}.dlq.dlq`,
    });
    await bus.ensureQueue({
      name: work,
      subjects: `${p}.work.>`,
      ackWaitMs: 30_000,
      maxDeliver: 100,
      deadLetterSubject: `${p}.dlq.work`,
    });
    for (const id of ["long", "short", "held"]) {
      await bus.enqueue(`${p}.work.x`, new TextEncoder().encode(id), { msgId: `${p}-${id}` });
    }
    const seen: string[] = [];
    const held: Delivery[] = [];
    bus.consume(
      work,
      async (d) => {
        const id = new TextDecoder().decode(d.data);
        seen.push(`${id}#${d.deliveryCount}`);
        if (d.deliveryCount > 1) held.push(d);
        else if (id === "long")
          await d.nak({ delayMs: 2500 }); // through a delay queue
        else if (id === "short")
          await d.nak({ delayMs: 800 }); // held here, then put back
        else held.push(d);
      },
      { maxInFlight: 10 },
    );
    for (let i = 0; i < 40 && seen.length < 3; i++) await sleep(50);
    await sleep(100);
    const early = await bus.queueInfo(work);
    assert.equal(early.pending, 3, "none acked: all three pending");
    assert.equal(early.inFlight, 2, "the held one and the one held for its short retry");
    // All back and held by the handler: counted once each.
    for (let i = 0; i < 200 && held.length < 3; i++) await sleep(50);
    assert.equal(held.length, 3, `all three came back (${seen.join(", ")})`);
    const late = await bus.queueInfo(work);
    assert.deepEqual([late.pending, late.inFlight], [3, 3]);
    for (const d of held) await d.ack();
    await sleep(200);
    assert.deepEqual(
      [(await bus.queueInfo(work)).pending, (await bus.queueInfo(work)).inFlight],
      [0, 0],
    );
  });
});
