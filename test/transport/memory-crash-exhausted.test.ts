/**
 * A message whose last allowed delivery was in flight when the process died
 * (a poison message that kills its handler's process, kill -9) must be
 * dead-lettered when the journal is reopened, not handed to a handler again:
 * otherwise a message that crashes the process every time is delivered
 * forever, one crash per restart, and never reaches the dead-letter queue.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { MemoryBroker } from "../../src/transport/memory/broker.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import { DeadLetterHeaders, type Delivery } from "../../src/transport/port.js";

const ms = (n: number) => new Promise((r) => setTimeout(r, n));

async function declare(broker: MemoryBroker) {
  const bus = createMemoryTransport({ broker });
  await bus.ensureQueue({
    name: "dlq",
    subjects: "app.dlq.>",
    ackWaitMs: 30_000,
    maxDeliver: 1,
    deadLetterSubject: "app.dlq.dlq",
  });
  await bus.ensureQueue({
    name: "work",
    subjects: "app.task.>",
    ackWaitMs: 30_000,
    maxDeliver: 2,
    deadLetterSubject: "app.dlq.work",
  });
  return bus;
}

test("memory: a message in flight on its last allowed delivery at a crash is dead-lettered on restart", async () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-crash-exhausted-"));
  const journalPath = join(dir, "journal.db");
  try {
    let handled = 0;
    // Two runs that each die holding the message (the handler never settles).
    let broker = new MemoryBroker({ journalPath });
    let bus = await declare(broker);
    await bus.enqueue("app.task.poison", new TextEncoder().encode("x"), { msgId: "m1" });
    for (let run = 0; run < 2; run++) {
      if (run > 0) {
        broker = new MemoryBroker({ journalPath });
        bus = await declare(broker);
      }
      bus.consume(
        "work",
        () => {
          handled++;
          return new Promise<void>(() => undefined);
        },
        { maxInFlight: 1 },
      );
      await ms(50);
      // As after kill -9: the journal's last commit is all that remains.
      broker.close();
    }
    assert.equal(handled, 2, "two deliveries allowed (maxDeliver 2), both made");

    broker = new MemoryBroker({ journalPath });
    bus = await declare(broker);
    let third = 0;
    bus.consume(
      "work",
      () => {
        third++;
        return new Promise<void>(() => undefined);
      },
      { maxInFlight: 1 },
    );
    const dead: Delivery[] = [];
    bus.consume(
      "dlq",
      async (d) => {
        dead.push(d);
        await d.ack();
      },
      { maxInFlight: 1 },
    );
    await ms(100);
    assert.equal(third, 0, "the handler must not run a third time (maxDeliver 2)");
    assert.equal(dead.length, 1, "the message is dead-lettered");
    const reason = dead[0]?.headers[DeadLetterHeaders.reason] ?? "";
    assert.match(reason, /^delivered 2 times \(maxDeliver 2\)/);
    assert.equal(dead[0]?.headers[DeadLetterHeaders.deliveries], "2");
    await bus.close();
    broker.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
