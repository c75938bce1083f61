/**
 * A handler that fails after settling its delivery (its `await d.ack()`
 * rejected on a full disk, or its own code threw after acking) is reported
 * through the transport's error reporting. It was dropped without a word:
 * the delivery counted as settled, so the failure went nowhere.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { declareTaskQueues } from "../../src/testkit/conformance/queues.js";
import { MemoryBroker } from "../../src/transport/memory/broker.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import { until } from "../helpers/until.js";

test("a failure after the delivery was settled is reported, not dropped", async () => {
  const reported: Error[] = [];
  const broker = new MemoryBroker({ onError: (e) => reported.push(e) });
  const bus = createMemoryTransport({ broker });
  try {
    await declareTaskQueues(bus, "hf");
    bus.consume(
      "hf-work",
      async (d) => {
        await d.ack();
        throw new Error("the handler's own code failed after acking");
      },
      { maxInFlight: 1 },
    );
    await bus.enqueue("hf.task.work.x", new TextEncoder().encode("{}"), { msgId: "m-1" });
    await until(() => reported.length === 1, 3000, "the failure reported");
    assert.match(reported[0]?.message ?? "", /after acking/);
  } finally {
    await bus.close();
    broker.close();
  }
});
