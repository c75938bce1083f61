import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { systemClock } from "../../src/core/clock.js";
import { VECTOR_CLOCK_HEADER } from "../../src/runtime/event-subscription.js";
import { signedMessage } from "../../src/runtime/messages.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

// Events are at-most-once: a causal predecessor a subscriber never receives
// (published before it subscribed, or of a type it does not subscribe to)
// never arrives. It must be given up after `gapTimeoutMs`, as documented,
// not hold every later event of its sender forever.
describe("causal event subscriptions with a predecessor that never arrives", () => {
  test("an event published before the subscription does not hold back later ones forever", async () => {
    const t = createTestSwarm({ roles: { ops: {} } });
    t.swarm.agent({ id: "a", role: "ops" });
    try {
      await t.swarm.start();
      t.swarm.publish("note", { n: 0 }, { as: "a", causal: true });
      await sleep(20);
      const got: number[] = [];
      t.swarm.subscribe(
        "note",
        (e) => {
          got.push((e.body as { n: number }).n);
        },
        { ordering: "causal", gapTimeoutMs: 100 },
      );
      t.swarm.publish("note", { n: 1 }, { as: "a", causal: true });
      t.swarm.publish("note", { n: 2 }, { as: "a", causal: true });
      await until(() => got.length === 2, 2000, "the two events sent after subscribing");
      assert.deepEqual(got, [1, 2]);
    } finally {
      await t.cleanup();
    }
  });

  test("a causal event of another type does not block a subscriber of one type", async () => {
    const t = createTestSwarm({ roles: { ops: {} } });
    t.swarm.agent({ id: "a", role: "ops" });
    try {
      await t.swarm.start();
      const got: string[] = [];
      t.swarm.subscribe(
        "x",
        (e) => {
          got.push((e.body as { s: string }).s);
        },
        { ordering: "causal", gapTimeoutMs: 100 },
      );
      t.swarm.publish("x", { s: "x1" }, { as: "a", causal: true });
      t.swarm.publish("y", { s: "y1" }, { as: "a", causal: true });
      t.swarm.publish("x", { s: "x2" }, { as: "a", causal: true });
      await until(() => got.length === 2, 2000, "both x events");
      assert.deepEqual(got, ["x1", "x2"]);
      // Order still holds among what does arrive after a gap was given up.
      t.swarm.publish("x", { s: "x3" }, { as: "a", causal: true });
      await until(() => got.length === 3, 2000, "x3");
      assert.deepEqual(got, ["x1", "x2", "x3"]);
    } finally {
      await t.cleanup();
    }
  });

  test("giving up keeps causal order among the events that did arrive", async () => {
    const t = createTestSwarm({ roles: { ops: {} } });
    const a = t.swarm.agent({ id: "a", role: "ops" });
    try {
      await t.swarm.start();
      const got: number[] = [];
      t.swarm.subscribe(
        "note",
        (e) => {
          got.push((e.body as { n: number }).n);
        },
        { ordering: "causal", gapTimeoutMs: 150 },
      );
      const send = (n: number) => {
        const { entry } = signedMessage(
          {
            swarm: t.swarm.name,
            clock: systemClock,
            maxEnvelopeBytes: 1 << 20,
            transportKind: t.swarm.transport.kind,
          },
          a.signer,
          { mode: "publish", subject: "test.event.note", type: "note", body: { n } },
        );
        t.swarm.transport.publish(entry.subject, entry.data, {
          headers: { [VECTOR_CLOCK_HEADER]: JSON.stringify({ a: n }) },
        });
      };
      // a's first event never comes; its third arrives before its second.
      send(3);
      await sleep(60);
      send(2);
      await sleep(30);
      assert.deepEqual(got, [], "held while the gap may still fill");
      await until(() => got.length === 2, 2000, "the held events");
      assert.deepEqual(got, [2, 3]);
      send(4);
      send(1);
      await until(() => got.length === 3, 2000, "the next event");
      await sleep(30);
      assert.deepEqual(
        got,
        [2, 3, 4],
        "the given-up event that came late is not delivered out of order",
      );
    } finally {
      await t.cleanup();
    }
  });
});
