/**
 * The memory transport took an enqueue without a message id (an empty
 * string, or none from JavaScript) and deduplicated on it: the second such
 * enqueue was dropped as a "duplicate" of the first, a message lost that the
 * NATS and RabbitMQ transports refuse with a ConfigError. It must refuse too.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../../src/errors/index.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import type { EnqueueOptions } from "../../src/transport/port.js";

test("memory: enqueue without a msgId is refused with ConfigError, not deduplicated", async () => {
  const bus = createMemoryTransport();
  try {
    await bus.ensureQueue({
      name: "work",
      subjects: "app.task.>",
      ackWaitMs: 30_000,
      maxDeliver: 3,
      deadLetterSubject: "app.task.dead",
    });
    const data = new TextEncoder().encode("x");
    await assert.rejects(bus.enqueue("app.task.a", data, { msgId: "" }), ConfigError);
    await assert.rejects(
      bus.enqueue("app.task.b", data, {} as unknown as EnqueueOptions),
      ConfigError,
    );
    assert.equal((await bus.queueInfo("work")).pending, 0);
  } finally {
    await bus.close();
  }
});
