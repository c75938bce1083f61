/**
 * A consumer closed in the same turn as a delivery was leased to it: its
 * lease goes back to the queue at once (releasesOnClose), so its handler
 * must not run as well, or the message is handled twice (once by the
 * closed consumer, once by the one it was given back to).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { declareTaskQueues } from "../../src/testkit/conformance/queues.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import { until } from "../helpers/until.js";

test("memory: a consumer closed before its handler was called never runs it; the message goes to another consumer once", async () => {
  const bus = createMemoryTransport();
  const { work } = await declareTaskQueues(bus, "cc");
  const closedRuns: string[] = [];
  const first = bus.consume(
    work.name,
    async (d) => {
      closedRuns.push(d.msgId);
      await d.ack();
    },
    { maxInFlight: 1 },
  );
  const enqueued = bus.enqueue("cc.task.a", new Uint8Array([1]), { msgId: "m1" });
  // Leased to `first` synchronously; closed before its handler runs.
  await first.close();
  await enqueued;
  assert.deepEqual(closedRuns, [], "the closed consumer's handler never ran");
  const otherRuns: number[] = [];
  bus.consume(
    work.name,
    async (d) => {
      otherRuns.push(d.deliveryCount);
      await d.ack();
    },
    { maxInFlight: 1 },
  );
  await until(() => otherRuns.length === 1, 3_000, "the other consumer's delivery");
  await until(async () => (await bus.queueInfo(work.name)).pending === 0, 3_000, "the ack");
  assert.deepEqual(otherRuns, [2]);
  await bus.close();
});
