/**
 * The embedded broker after close: a delivery settled late (its handler
 * finished after the transport closed) must not arm a lease timer, which
 * would hold the process open for the queue's `ackWaitMs` (a script that
 * closed its swarm waited 30 s to exit).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Clock } from "../../src/core/clock.js";
import { declareTaskQueues } from "../../src/testkit/conformance/queues.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import type { Delivery } from "../../src/transport/port.js";
import { until } from "../helpers/until.js";

/** The system clock, counting the timers armed and not yet fired or cancelled. */
function countingClock(): Clock & { readonly live: Set<object> } {
  const live = new Set<object>();
  return {
    live,
    now: () => Date.now(),
    setTimer(fn, ms) {
      const timer = {};
      live.add(timer);
      const handle = setTimeout(() => {
        live.delete(timer);
        fn();
      }, ms);
      return () => {
        live.delete(timer);
        clearTimeout(handle);
      };
    },
  };
}

for (const how of ["ack", "nak"] as const) {
  test(`a delivery settled (${how}) after the transport closed arms no timer`, async () => {
    const clock = countingClock();
    const bus = createMemoryTransport({ clock });
    const { work } = await declareTaskQueues(bus, "late", { work: { ackWaitMs: 30_000 } });
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const got: Delivery[] = [];
    bus.consume(
      work.name,
      async (d) => {
        got.push(d);
        await held;
        if (how === "ack") await d.ack().catch(() => undefined);
        else await d.nak({ delayMs: 5_000 }).catch(() => undefined);
      },
      { maxInFlight: 1 },
    );
    await bus.enqueue("late.task.a", new Uint8Array([1]), { msgId: "m-1" });
    await until(() => got.length === 1, 3_000, "the delivery");
    await bus.close();
    release();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(clock.live.size, 0, "no timer outlives the closed broker");
  });
}
