/**
 * Delayed retries on RabbitMQ: a short delay waits in the consumer that
 * holds the message (no delay queue, so no dependence on the broker's
 * dead-lettering, which stopped forwarding after a node kill in chaos
 * `amqp-cluster-kill` seed 605); a longer one, or any with
 * `inProcessDelayMaxMs: 0`, goes through a delay queue. Needs a RabbitMQ
 * (skipped locally without one, failing in CI).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ConfigError } from "../../src/errors/index.js";
import { createAmqpTransport, deleteAmqpTopology } from "../../src/transport/amqp/index.js";
import { delayBucket, delayQueueName } from "../../src/transport/amqp/topology.js";
import type { Transport } from "../../src/transport/port.js";
import { until } from "../helpers/until.js";

const url = process.env.CONCLAVE_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const bytes = (s: string) => new TextEncoder().encode(s);

/** Whether the broker has a queue of that name (a passive declare on a channel of its own). */
async function queueExists(name: string): Promise<boolean> {
  const { connect } = await import("amqplib");
  const connection = await connect(url, { timeout: 10_000 });
  connection.on("error", () => undefined);
  try {
    const channel = await connection.createChannel();
    channel.on("error", () => undefined);
    await channel.checkQueue(name);
    return true;
  } catch {
    return false;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

async function reachable(): Promise<string | undefined> {
  const { connect } = await import("amqplib");
  try {
    const connection = await connect(url, { timeout: 2000 });
    await connection.close();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

test("inProcessDelayMaxMs must be a whole number of ms, 0 or more", async () => {
  await assert.rejects(
    createAmqpTransport({ url, inProcessDelayMaxMs: -1 }),
    (e: unknown) => e instanceof ConfigError && /inProcessDelayMaxMs/.test(e.message),
  );
});

const unreachable = await reachable();
if (unreachable !== undefined && process.env.CI === "true") {
  test("amqp delays: against RabbitMQ", () => {
    throw new Error(`RabbitMQ is required in CI but unreachable: ${unreachable}`);
  });
}

describe("amqp delayed retries", { skip: unreachable ?? false }, () => {
  const opened: { transport: Transport; exchange: string; queues: string[] }[] = [];
  const errors: Error[] = [];

  /** A transport on an exchange of its own, with a work queue and its dead-letter queue. */
  const setUp = async (inProcessDelayMaxMs?: number) => {
    const exchange = `conclave-test-${randomBytes(5).toString("hex")}`;
    const transport = await createAmqpTransport({
      url,
      exchange,
      onError: (e) => errors.push(e),
      ...(inProcessDelayMaxMs === undefined ? {} : { inProcessDelayMaxMs }),
    });
    const p = `d${randomBytes(4).toString("hex")}`;
    await transport.ensureQueue({
      name: `${p}-dlq`,
      subjects: `${p}.dlq.>`,
      ackWaitMs: 30_000,
      maxDeliver: 1000,
      deadLetterSubject: `${p}.dlq.dlq`,
    });
    await transport.ensureQueue({
      name: `${p}-work`,
      subjects: `${p}.task.>`,
      ackWaitMs: 30_000,
      maxDeliver: 5,
      deadLetterSubject: `${p}.dlq.work`,
    });
    opened.push({ transport, exchange, queues: [`${p}-dlq`, `${p}-work`] });
    return { transport, exchange, p };
  };

  /** Naks the first delivery with `delayMs`; resolves the gap before the second. */
  const retryGap = async (transport: Transport, p: string, delayMs: number) => {
    const seen: number[] = [];
    const consumer = transport.consume(
      `${p}-work`,
      async (d) => {
        seen.push(Date.now());
        if (d.deliveryCount === 1) await d.nak({ delayMs });
        else await d.ack();
      },
      { maxInFlight: 2 },
    );
    await transport.enqueue(`${p}.task.a`, bytes("x"), { msgId: `${p}-1` });
    await until(() => seen.length === 2, 10_000, "the redelivery");
    await consumer.drain();
    return (seen[1] as number) - (seen[0] as number);
  };

  after(async () => {
    for (const { transport, exchange, queues } of opened) {
      await transport.close().catch(() => undefined);
      await deleteAmqpTopology({ url, exchange, queues }).catch(() => undefined);
    }
  });

  test("a short delay waits in the consumer: redelivered after it, no delay queue declared", async () => {
    errors.length = 0;
    const { transport, exchange, p } = await setUp();
    const gap = await retryGap(transport, p, 300);
    assert.ok(gap >= 280, `redelivered after ${gap} ms`);
    assert.equal(await queueExists(delayQueueName(exchange, delayBucket(300))), false);
    assert.deepEqual(
      errors.map((e) => e.message),
      [],
    );
  });

  test("with inProcessDelayMaxMs 0 the same delay goes through its delay queue", async () => {
    errors.length = 0;
    const { transport, exchange, p } = await setUp(0);
    const gap = await retryGap(transport, p, 300);
    assert.ok(gap >= 280, `redelivered after ${gap} ms`);
    assert.equal(await queueExists(delayQueueName(exchange, delayBucket(300))), true);
  });

  test("a consumer closed while it holds a delayed retry gives the message back, quietly", async () => {
    errors.length = 0;
    const { transport, p } = await setUp();
    const first = transport.consume(
      `${p}-work`,
      async (d) => {
        await d.nak({ delayMs: 800 });
      },
      { maxInFlight: 1 },
    );
    await transport.enqueue(`${p}.task.a`, bytes("y"), { msgId: `${p}-2` });
    await sleep(300); // delivered, nak'ed, held
    await first.close();
    const other = await createAmqpTransport({
      url,
      exchange: opened.at(-1)?.exchange as string,
      onError: (e) => errors.push(e),
    });
    opened.push({ transport: other, exchange: opened.at(-1)?.exchange as string, queues: [] });
    const got: number[] = [];
    other.consume(
      `${p}-work`,
      async (d) => {
        got.push(d.deliveryCount);
        await d.ack();
      },
      { maxInFlight: 1 },
    );
    await until(() => got.length === 1, 10_000, "the message back on its queue");
    await sleep(1000); // past the hold: no copy put back by the closed consumer
    assert.equal(got.length, 1, "delivered once, not once more by the closed consumer's hold");
    assert.deepEqual(
      errors.map((e) => e.message),
      [],
    );
  });
});
