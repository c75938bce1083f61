/**
 * A broker shared by several transports, closed before them (one node's
 * shutdown closing the broker while another node still holds deliveries):
 * nothing may run on it afterwards. A delivery settled late used to hand
 * the next message to a handler of the closed broker (work started on a
 * journal that can no longer record it), and each release was reported as
 * a failure ("the queue journal is closed") on a plain shutdown.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { declareTaskQueues } from "../../src/testkit/conformance/queues.js";
import { MemoryBroker } from "../../src/transport/memory/broker.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import type { Delivery } from "../../src/transport/port.js";
import { until } from "../helpers/until.js";

test("memory: after its broker closes, a late settlement starts no new delivery and a close reports nothing", async () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-review-broker-close-"));
  const journalPath = join(dir, "journal.db");
  try {
    const errors: Error[] = [];
    let broker = new MemoryBroker({ journalPath, onError: (e) => errors.push(e) });
    const a = createMemoryTransport({ broker });
    const b = createMemoryTransport({ broker });
    const { work } = await declareTaskQueues(a, "bc");
    const got: Delivery[] = [];
    a.consume(
      work.name,
      (d) => {
        got.push(d);
        return new Promise<void>(() => undefined);
      },
      { maxInFlight: 1 },
    );
    const fromB: Delivery[] = [];
    b.consume(
      work.name,
      (d) => {
        fromB.push(d);
        return new Promise<void>(() => undefined);
      },
      { maxInFlight: 1 },
    );
    for (const id of ["m1", "m2", "m3"]) {
      await a.enqueue("bc.task.x", new Uint8Array([1]), { msgId: id });
    }
    await until(() => got.length === 1 && fromB.length === 1, 3_000, "two deliveries");
    broker.close();
    // a's handler finishes after the broker closed.
    await got[0]?.ack().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(got.length, 1, "no delivery is started on a closed broker");
    await b.close();
    await a.close();
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(
      errors.map((e) => e.message),
      [],
      "closing after the broker reports nothing",
    );
    assert.equal(fromB.length, 1);

    // The journal holds what it held at the broker's close: m2 (leased to b), m3 and m1 (its ack came after the close).
    broker = new MemoryBroker({ journalPath });
    const again = createMemoryTransport({ broker });
    await declareTaskQueues(again, "bc");
    assert.equal((await again.queueInfo(work.name)).pending, 3);
    await again.close();
    broker.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("memory: drain() of a transport whose shared broker closed does not wait on a handler that never settles", {
  timeout: 10_000,
}, async () => {
  const broker = new MemoryBroker();
  const bus = createMemoryTransport({ broker });
  const { work } = await declareTaskQueues(bus, "bd");
  let got = 0;
  bus.consume(
    work.name,
    () => {
      got++;
      return new Promise<void>(() => undefined);
    },
    { maxInFlight: 1 },
  );
  await bus.enqueue("bd.task.x", new Uint8Array([1]), { msgId: "m1" });
  await until(() => got === 1, 3_000, "the delivery");
  broker.close();
  // Its lease can no longer expire (the broker's timers stopped), nor its ack be recorded.
  const drained = await Promise.race([
    bus.drain().then(() => "drained"),
    new Promise((r) => setTimeout(() => r("still waiting"), 2_000)),
  ]);
  assert.equal(drained, "drained");
});

test("memory: a drain() under way when the shared broker closes ends instead of waiting for ever", {
  timeout: 10_000,
}, async () => {
  const broker = new MemoryBroker();
  const bus = createMemoryTransport({ broker });
  const { work } = await declareTaskQueues(bus, "bw");
  let got = 0;
  bus.consume(
    work.name,
    () => {
      got++;
      return new Promise<void>(() => undefined);
    },
    { maxInFlight: 1 },
  );
  await bus.enqueue("bw.task.x", new Uint8Array([1]), { msgId: "m1" });
  await until(() => got === 1, 3_000, "the delivery");
  const draining = bus.drain().then(() => "drained");
  await new Promise((r) => setTimeout(r, 20));
  broker.close();
  const drained = await Promise.race([
    draining,
    new Promise((r) => setTimeout(() => r("still waiting"), 2_000)),
  ]);
  assert.equal(drained, "drained");
});
