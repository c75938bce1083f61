/**
 * NATS JetStream: a delivery whose dead letter the server refuses (its
 * dead-letter queue full). The adapter used to nak the message at once: it
 * came back as a new delivery, so a `term`ed message ran its handler again,
 * and a message at its last delivery came back past `maxDeliver` and was
 * dead-lettered as "ack deadline passed", its real reason lost. Now the
 * adapter keeps the message leased and tries the dead letter again with
 * backoff; then it parks a copy at the tail of its queue that owes the dead
 * letter (its reason in headers, so a process that never saw it honours it),
 * or, when even that is refused, naks it and remembers here that it owes its
 * dead letter. The handler never runs again, and the dead letter keeps its
 * reason and count. On a private nats-server (skipped without one).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type NatsServer,
  natsServerAvailable,
  startNatsServer,
} from "../../src/testkit/brokers/nats-server.js";
import { createNatsTransport } from "../../src/transport/nats/index.js";
import { DeadLetterHeaders, type Delivery, type Transport } from "../../src/transport/port.js";
import { until } from "../helpers/until.js";

/** Short, so that the old behaviour (a nak for up to `ackWaitMs`) shows within the test. */
const ACK_WAIT_MS = 4_000;

describe("nats: a dead letter the server refuses", {
  skip: !natsServerAvailable() && "nats-server is not on PATH",
}, () => {
  let server: NatsServer;
  const opened: Transport[] = [];
  before(async () => {
    server = await startNatsServer({ jetstream: true });
  });
  after(async () => {
    for (const t of opened) await t.close().catch(() => undefined);
    await server?.stop();
  });

  const connect = async (errors: Error[]) => {
    const bus = await createNatsTransport({
      servers: server.url,
      reconnectTimeWaitMs: 100,
      onError: (e) => errors.push(e),
    });
    opened.push(bus);
    return bus;
  };

  /**
   * A work queue whose dead-letter queue is full (holds 1, and has it);
   * with `workMaxPending`, the work queue holds at most that many.
   */
  const setUp = async (maxDeliver: number, workMaxPending?: number) => {
    const errors: Error[] = [];
    const bus = await connect(errors);
    const p = `x${randomBytes(4).toString("hex")}`;
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
      ackWaitMs: ACK_WAIT_MS,
      maxDeliver,
      deadLetterSubject: `${p}.dlq.work`,
      ...(workMaxPending === undefined ? {} : { maxPending: workMaxPending }),
    });
    await bus.enqueue(`${p}.dlq.fill`, new Uint8Array([0]), { msgId: `${p}-fill` });
    /** Empties the dead-letter queue from now on (through `on`); returns what reaches it. */
    const drainDeadLetters = (on: Transport = bus) => {
      const dead: Delivery[] = [];
      on.consume(
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

  const refusals = (errors: Error[]) =>
    errors.filter((e) => /could not dead-letter/.test(e.message));

  test("a termed message whose dead letter is refused does not run again", async () => {
    const { bus, p, errors, drainDeadLetters } = await setUp(5);
    const runs: number[] = [];
    bus.consume(
      `${p}-work`,
      async (d) => {
        runs.push(d.deliveryCount);
        await d.term("not for us");
      },
      { maxInFlight: 1 },
    );
    await bus.enqueue(`${p}.work.a`, new Uint8Array([9]), { msgId: `${p}-m1` });
    await sleep(ACK_WAIT_MS + 2_500);
    assert.deepEqual(runs, [1], "term means never redelivered to a handler");
    assert.ok(refusals(errors).length >= 1, "the refused dead letter is reported");
    const dead = drainDeadLetters();
    await until(() => dead.length > 0, 20_000, "the dead letter", 100);
    await sleep(500);
    assert.equal(dead.length, 1, "dead-lettered once, nothing lost");
    const [d] = dead as [Delivery];
    assert.equal(d.msgId, `dlq:${p}-m1`);
    assert.equal(d.headers[DeadLetterHeaders.reason], "not for us");
    assert.equal(d.headers[DeadLetterHeaders.deliveries], "1");
    assert.equal(d.headers[DeadLetterHeaders.msgId], `${p}-m1`);
    assert.equal(
      Object.keys(d.headers).some((k) => k.startsWith("conclave-nats")),
      false,
      "no internal header on the dead letter",
    );
    assert.deepEqual(runs, [1]);
    await until(
      async () => (await bus.queueInfo(`${p}-work`)).pending === 0,
      5_000,
      "the work queue empty",
      100,
    );
  });

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
    await bus.enqueue(`${p}.work.a`, new Uint8Array([9]), { msgId: `${p}-m2` });
    await until(() => runs.length >= 2, 10_000, "the last delivery", 50);
    await sleep(ACK_WAIT_MS + 2_500);
    assert.deepEqual(runs, [1, 2], "the handler ran its two deliveries, and no more");
    assert.ok(
      refusals(errors).length <= 6,
      `tried again with backoff, not in a loop (${refusals(errors).length})`,
    );
    const dead = drainDeadLetters();
    await until(() => dead.length > 0, 20_000, "the dead letter", 100);
    await sleep(500);
    assert.equal(dead.length, 1, "dead-lettered once, nothing lost");
    const [d] = dead as [Delivery];
    assert.equal(d.msgId, `dlq:${p}-m2`);
    assert.match(d.headers[DeadLetterHeaders.reason] ?? "", /maxDeliver 2.*boom/);
    assert.equal(d.headers[DeadLetterHeaders.deliveries], "2");
    assert.deepEqual(runs, [1, 2]);
  });

  test("refused for long, the message is parked at the tail of its queue and comes back still owing its dead letter", async () => {
    const { bus, p, errors, drainDeadLetters } = await setUp(1);
    const runs: number[] = [];
    // Room for more: a lease that lapsed while held would be redelivered here.
    bus.consume(
      `${p}-work`,
      async (d) => {
        runs.push(d.deliveryCount);
        await d.nak({ reason: "boom" });
      },
      { maxInFlight: 4 },
    );
    await bus.enqueue(`${p}.work.a`, new Uint8Array([9]), { msgId: `${p}-m5` });
    await until(
      () => errors.some((e) => /tail of its queue/.test(e.message)),
      20_000,
      "parked",
      100,
    );
    // Parked, back, refused again while held.
    await until(
      () => refusals(errors).length >= 6,
      10_000,
      "its dead letter tried again after it came back",
      100,
    );
    assert.ok(
      refusals(errors).length <= 8,
      `tried with backoff, not in a loop (${refusals(errors).length})`,
    );
    assert.deepEqual(runs, [1], "parked and back again, it never ran again");
    const dead = drainDeadLetters();
    await until(() => dead.length > 0, 20_000, "the dead letter", 100);
    await sleep(ACK_WAIT_MS + 500);
    assert.equal(dead.length, 1, "dead-lettered once, nothing lost");
    const [d] = dead as [Delivery];
    assert.equal(d.msgId, `dlq:${p}-m5`);
    assert.match(d.headers[DeadLetterHeaders.reason] ?? "", /maxDeliver 1.*boom/);
    assert.equal(d.headers[DeadLetterHeaders.deliveries], "1");
    assert.equal(d.headers[DeadLetterHeaders.msgId], `${p}-m5`);
    assert.deepEqual(runs, [1]);
    assert.equal((await bus.queueInfo(`${p}-work`)).pending, 0);
  });

  test("parked when its consumer stops, the message owes its dead letter to a process that never saw it", async () => {
    const { bus, p, errors, drainDeadLetters } = await setUp(3);
    const runs: number[] = [];
    const first = bus.consume(
      `${p}-work`,
      async (d) => {
        runs.push(d.deliveryCount);
        await d.term("no such tool");
      },
      { maxInFlight: 1 },
    );
    await bus.enqueue(`${p}.work.a`, new Uint8Array([9]), { msgId: `${p}-m3` });
    await until(() => errors.length >= 1, 10_000, "a refused dead letter", 50);
    // Stopping: the message is parked at once, not held for more attempts.
    await first.drain();
    // Another process, which knows nothing of it, consumes the queue.
    const otherErrors: Error[] = [];
    const other = await connect(otherErrors);
    const otherRuns: number[] = [];
    other.consume(
      `${p}-work`,
      async (d) => {
        otherRuns.push(d.deliveryCount);
        await d.ack();
      },
      { maxInFlight: 1 },
    );
    await sleep(ACK_WAIT_MS + 1_500);
    assert.deepEqual(otherRuns, [], "its handler never ran there");
    assert.ok(
      errors.some((e) => /tail of its queue/.test(e.message)),
      "parked as its consumer drained",
    );
    const dead = drainDeadLetters(other);
    await until(() => dead.length > 0, 20_000, "the dead letter", 100);
    await sleep(ACK_WAIT_MS + 500);
    assert.deepEqual(runs, [1]);
    assert.deepEqual(otherRuns, [], "its handler never ran there");
    assert.equal(dead.length, 1);
    const [d] = dead as [Delivery];
    assert.equal(d.msgId, `dlq:${p}-m3`);
    assert.equal(d.headers[DeadLetterHeaders.reason], "no such tool");
    assert.equal(d.headers[DeadLetterHeaders.deliveries], "1");
    assert.equal(d.headers[DeadLetterHeaders.queue], `${p}-work`);
    assert.equal(d.headers[DeadLetterHeaders.subject], `${p}.work.a`);
    assert.equal(
      Object.keys(d.headers).some((k) => k.startsWith("conclave-nats")),
      false,
    );
    assert.equal((await other.queueInfo(`${p}-work`)).pending, 0);
  });

  test("when even parking is refused (its own queue full), it is given back remembered, and still never runs again", async () => {
    const { bus, p, errors, drainDeadLetters } = await setUp(5, 1);
    const runs: number[] = [];
    bus.consume(
      `${p}-work`,
      async (d) => {
        runs.push(d.deliveryCount);
        await d.term("refused by policy");
      },
      { maxInFlight: 1 },
    );
    await bus.enqueue(`${p}.work.a`, new Uint8Array([9]), { msgId: `${p}-m4` });
    await until(() => errors.length >= 1, 10_000, "a refused dead letter", 50);
    await sleep(2 * ACK_WAIT_MS + 3_000);
    assert.deepEqual(runs, [1], "given back, it never reached the handler again");
    assert.ok(
      errors.some((e) => /could not park/.test(e.message)),
      "parking refused, and reported",
    );
    const dead = drainDeadLetters();
    await until(() => dead.length > 0, 30_000, "the dead letter", 100);
    await sleep(500);
    assert.equal(dead.length, 1);
    const [d] = dead as [Delivery];
    assert.equal(d.msgId, `dlq:${p}-m4`);
    assert.equal(d.headers[DeadLetterHeaders.reason], "refused by policy");
    assert.equal(d.headers[DeadLetterHeaders.deliveries], "1");
    assert.deepEqual(runs, [1]);
  });
});
