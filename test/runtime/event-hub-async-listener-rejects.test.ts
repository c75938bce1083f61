import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { EventHub } from "../../src/runtime/event-hub.js";
import type { SwarmEvent } from "../../src/runtime/events.js";

// `swarm.on(async (event) => { ... })` type-checks (a listener returns
// void). A rejection of such a listener was left unhandled, which ends a
// Node process by default: a broken listener must not break the swarm.
test("an async listener that rejects is ignored like one that throws", async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  const listeners = process.listeners("unhandledRejection");
  process.removeAllListeners("unhandledRejection");
  process.on("unhandledRejection", onUnhandled);
  try {
    const hub = new EventHub();
    const seen: SwarmEvent[] = [];
    hub.on(async () => {
      throw new Error("listener broke");
    });
    hub.on((event) => {
      seen.push(event);
    });
    hub.emit({ type: "error", error: "boom" });
    await sleep(20);
    assert.equal(seen.length, 1, "the other listener still got the event");
    assert.deepEqual(unhandled, [], "no unhandled rejection");
    assert.equal(await hub.metrics.total("conclave_errors_total"), 1);
  } finally {
    process.off("unhandledRejection", onUnhandled);
    for (const l of listeners) process.on("unhandledRejection", l);
  }
});
