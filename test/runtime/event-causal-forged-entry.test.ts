/**
 * The `conclave-vc` header is outside the signature, and what it says about
 * other senders is only its sender's word. A causal subscriber that gave up
 * waiting for such an entry used to mark it delivered: one event claiming
 * another agent had sent 2^53 − 1 causal events silenced that agent's real
 * events (dropped as `E_DUPLICATE`) until it restarted, and this node's own
 * causal events then carried the claim to every other subscriber.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { systemClock } from "../../src/core/clock.js";
import {
  VECTOR_CLOCK_FROM_HEADER,
  VECTOR_CLOCK_HEADER,
} from "../../src/runtime/event-subscription.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { signedMessage } from "../../src/runtime/messages.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

test("a forged huge entry for another agent does not silence that agent's causal events", async () => {
  const t = createTestSwarm({ roles: { ops: {} } });
  const m = t.swarm.agent({ id: "m", role: "ops" });
  t.swarm.agent({ id: "v", role: "ops" });
  try {
    await t.swarm.start();
    const rejected: SwarmEvent[] = [];
    t.swarm.on((e) => {
      if (e.type === "message.rejected") rejected.push(e);
    });
    const clocks: Record<string, number>[] = [];
    t.swarm.transport.subscribe("test.event.note", (msg) => {
      clocks.push(JSON.parse(msg.headers[VECTOR_CLOCK_HEADER] ?? "{}"));
    });
    const got: unknown[] = [];
    t.swarm.subscribe("note", (e) => void got.push(e.body), {
      ordering: "causal",
      gapTimeoutMs: 100,
    });
    t.swarm.publish("note", { by: "v", n: 1 }, { as: "v", causal: true });
    await until(() => got.length === 1 && clocks.length === 1, 2000, "v's first note");
    const victim = Object.keys(clocks[0] ?? {}).find((k) => k.startsWith("v@")) as string;

    // m forges: "I follow 2^53 − 1 events of v".
    const { entry } = signedMessage(
      {
        swarm: t.swarm.name,
        clock: systemClock,
        maxEnvelopeBytes: 1 << 20,
        transportKind: t.swarm.transport.kind,
      },
      m.signer,
      { mode: "publish", subject: "test.event.note", type: "note", body: { by: "m" } },
    );
    t.swarm.transport.publish(entry.subject, entry.data, {
      headers: {
        [VECTOR_CLOCK_HEADER]: JSON.stringify({ "m@x": 1, [victim]: Number.MAX_SAFE_INTEGER }),
        [VECTOR_CLOCK_FROM_HEADER]: "m@x",
      },
    });
    await until(() => got.length === 2, 2000, "m's event, after the gap timeout");

    t.swarm.publish("note", { by: "v", n: 2 }, { as: "v", causal: true });
    t.swarm.publish("note", { by: "v", n: 3 }, { as: "v", causal: true });
    await until(
      () => got.length === 4,
      2000,
      `v's later notes (got: ${JSON.stringify(got)}; rejected: ${JSON.stringify(rejected)})`,
    );
    assert.deepEqual(got.slice(2), [
      { by: "v", n: 2 },
      { by: "v", n: 3 },
    ]);
    assert.deepEqual(rejected, []);

    // What this node publishes does not repeat the forged claim.
    const before = clocks.length;
    t.swarm.publish("note", { by: "m", n: 4 }, { as: "m", causal: true });
    await until(() => clocks.length === before + 1, 2000, "the next clock");
    const last = clocks.at(-1) ?? {};
    assert.ok((last[victim] ?? 0) <= 3, JSON.stringify(last));
  } finally {
    await t.cleanup();
  }
});

test("entries for thousands of senders that never publish do not spread into this node's clocks", async () => {
  const t = createTestSwarm({ roles: { ops: {} } });
  const m = t.swarm.agent({ id: "m", role: "ops" });
  t.swarm.agent({ id: "s", role: "ops" });
  try {
    await t.swarm.start();
    const clocks: Record<string, number>[] = [];
    t.swarm.transport.subscribe("test.event.reply", (msg) => {
      clocks.push(JSON.parse(msg.headers[VECTOR_CLOCK_HEADER] ?? "{}"));
    });
    const got: unknown[] = [];
    t.swarm.subscribe("note", (e) => void got.push(e.body), {
      ordering: "causal",
      gapTimeoutMs: 100,
    });
    const forged: Record<string, number> = { "m@x": 1 };
    for (let i = 0; i < 5000; i++) forged[`ghost-${i}@x`] = 1;
    const { entry } = signedMessage(
      {
        swarm: t.swarm.name,
        clock: systemClock,
        maxEnvelopeBytes: 1 << 20,
        transportKind: t.swarm.transport.kind,
      },
      m.signer,
      { mode: "publish", subject: "test.event.note", type: "note", body: { by: "m" } },
    );
    t.swarm.transport.publish(entry.subject, entry.data, {
      headers: {
        [VECTOR_CLOCK_HEADER]: JSON.stringify(forged),
        [VECTOR_CLOCK_FROM_HEADER]: "m@x",
      },
    });
    await until(() => got.length === 1, 2000, "m's event, after the gap timeout");
    t.swarm.publish("reply", {}, { as: "s", causal: true });
    await until(() => clocks.length === 1, 2000, "s's reply");
    const names = Object.keys(clocks[0] ?? {});
    assert.ok(
      names.every((n) => !n.startsWith("ghost-")),
      `${names.length} entries: ${names.slice(0, 5).join(", ")}`,
    );
    assert.equal(clocks[0]?.["m@x"], 1, "the event really delivered is still named");
  } finally {
    await t.cleanup();
  }
});
