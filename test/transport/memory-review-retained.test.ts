/**
 * Memory held for messages already acknowledged: the embedded queue kept
 * every message it had handed out in its ready list until 1,024 of them
 * piled up, so after a burst of large tasks an idle swarm held up to 1,024
 * payloads (a GiB of 1 MiB envelopes) for as long as no more work came.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { declareTaskQueues } from "../../src/testkit/conformance/queues.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import type { Transport } from "../../src/transport/port.js";
import { until } from "../helpers/until.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Enqueues `n` payloads, keeping only weak references to them (none in the test's own frame). */
async function enqueuePayloads(bus: Transport, n: number): Promise<WeakRef<Uint8Array>[]> {
  const refs: WeakRef<Uint8Array>[] = [];
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const data = new Uint8Array(256 * 1024).fill(i);
    refs.push(new WeakRef(data));
    sends.push(bus.enqueue("rt.task.x", data, { msgId: `m${i}` }));
  }
  await Promise.all(sends);
  return refs;
}

test("memory: an acknowledged message's payload is not kept by the queue", async () => {
  const bus = createMemoryTransport();
  const { work } = await declareTaskQueues(bus, "rt");
  let acked = 0;
  bus.consume(
    work.name,
    async (d) => {
      await d.ack();
      acked++;
    },
    { maxInFlight: 4 },
  );
  const refs = await enqueuePayloads(bus, 8);
  await until(() => acked === 8, 3_000, "every ack");
  await new Promise((r) => setTimeout(r, 10));
  gc();
  await new Promise((r) => setTimeout(r, 10));
  gc();
  const kept = refs.flatMap((r, i) => (r.deref() === undefined ? [] : [i]));
  assert.deepEqual(kept, [], "acknowledged payloads still held");
  await bus.close();
});
