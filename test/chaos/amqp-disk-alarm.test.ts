/**
 * RabbitMQ short of disk. RabbitMQ does not wait for a full disk: below its
 * free-disk limit (`disk_free_limit`) it raises an alarm and blocks every
 * publishing connection until space returns. The alarm is raised here by
 * setting the limit above the free space, on a private node.
 *
 * What conclave holds to: the enqueue is neither acknowledged nor failed
 * while the broker cannot store it (it waits, as the broker asks), the
 * transport reports the block through `onError` as a `TransportError` that
 * names memory or disk (RabbitMQ tells a connection once it publishes), and once the alarm clears the enqueue resolves
 * and the message is delivered: nothing lost, nothing acknowledged early.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { TransportError } from "../../src/errors/index.js";
import {
  rabbitmqServerAvailable,
  startRabbitmqNode,
} from "../../src/testkit/brokers/rabbitmq-server.js";
import { declareTaskQueues } from "../../src/testkit/conformance/queues.js";
import { createAmqpTransport } from "../../src/transport/amqp/index.js";
import { until } from "../helpers/until.js";

const skip = rabbitmqServerAvailable() ? undefined : "no rabbitmq-server (and erl) installed";

test("RabbitMQ's disk alarm holds an enqueue until space returns, reported, nothing lost", {
  ...(skip === undefined ? {} : { skip }),
  timeout: 120_000,
}, async () => {
  const node = await startRabbitmqNode();
  const errors: Error[] = [];
  const bus = await createAmqpTransport({
    url: node.amqpUrl,
    exchange: "alarm",
    onError: (e) => errors.push(e),
  });
  try {
    const { work } = await declareTaskQueues(bus, "alarm");
    await bus.enqueue("alarm.task.before", new Uint8Array([1]), { msgId: "before" });

    const raise = await node.ctl(["set_disk_free_limit", "1000GB"]);
    assert.equal(raise.code, 0, raise.output);
    await sleep(1_000); // the alarm is checked once a second
    let settled: string | undefined;
    const during = bus.enqueue("alarm.task.during", new Uint8Array([2]), { msgId: "during" }).then(
      () => {
        settled = "acknowledged";
      },
      (error: unknown) => {
        settled = `failed: ${String(error)}`;
      },
    );
    // RabbitMQ tells a connection it is blocked once it publishes.
    await until(() => errors.length > 0, 15_000, "the block reported through onError");
    assert.ok(errors[0] instanceof TransportError, String(errors[0]));
    assert.match(errors[0]!.message, /blocked publishing \(low on disk\).*memory or disk/);
    await sleep(3_000);
    assert.equal(settled, undefined, "an enqueue settled while the broker could not store it");

    const clear = await node.ctl(["set_disk_free_limit", "50MB"]);
    assert.equal(clear.code, 0, clear.output);
    await during;
    assert.equal(settled, "acknowledged");

    const received: string[] = [];
    bus.consume(
      work.name,
      async (delivery) => {
        received.push(delivery.msgId);
        await delivery.ack();
      },
      { maxInFlight: 8 },
    );
    await until(() => received.length === 2, 15_000, "both messages delivered");
    assert.deepEqual(received.sort(), ["before", "during"]);
  } finally {
    await bus.close().catch(() => undefined);
    await node.stop();
  }
});
