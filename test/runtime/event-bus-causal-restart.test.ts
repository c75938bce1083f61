/**
 * A causal publisher restarted (its node stopped, the agent started again
 * elsewhere or later) numbers its events from 1 again. A subscriber that had
 * delivered its earlier events used to take them for repeats and drop them
 * (`E_DUPLICATE`) until the new count passed the old one: events lost
 * silently after every restart of a publisher.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { systemClock } from "../../src/core/clock.js";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import {
  VECTOR_CLOCK_FROM_HEADER,
  VECTOR_CLOCK_HEADER,
} from "../../src/runtime/event-subscription.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { signedMessage } from "../../src/runtime/messages.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { sharedBrokerNodes } from "../helpers/shared-broker.js";
import { until } from "../helpers/until.js";

test("a causal subscriber delivers a restarted publisher's events", async () => {
  const { node, cleanup } = sharedBrokerNodes({
    name: "cr",
    roles: { ops: {} },
    admission: { mode: "open" },
  });
  const keys = new Map<string, ReturnType<typeof generateAgentKeyPair>>();
  const keyOf = (id: string) => {
    let k = keys.get(id);
    if (k === undefined) {
      k = generateAgentKeyPair();
      keys.set(id, k);
    }
    return k;
  };
  try {
    const a = node("node-a", keyOf);
    a.agent({ id: "s", role: "ops" });
    const rejected: SwarmEvent[] = [];
    a.on((e) => {
      if (e.type === "message.rejected") rejected.push(e);
    });
    const seen: unknown[] = [];
    await a.start();
    a.subscribe("note", (e) => void seen.push(e.body), { ordering: "causal" });

    const b = node("node-b", keyOf);
    b.agent({ id: "p", role: "ops" });
    await b.start();
    await until(() => a.registry.get("p") !== undefined, 3000, "p joined");
    b.publish("note", { n: 1 }, { as: "p", causal: true });
    b.publish("note", { n: 2 }, { as: "p", causal: true });
    await until(() => seen.length === 2, 3000, "the first two notes");
    await b.close();

    const again = node("node-b2", keyOf);
    again.agent({ id: "p", role: "ops" });
    await again.start();
    await until(() => a.registry.get("p") !== undefined, 3000, "p back");
    again.publish("note", { n: 3 }, { as: "p", causal: true });
    again.publish("note", { n: 4 }, { as: "p", causal: true });
    await until(
      () => seen.length === 4,
      3000,
      `the notes after the restart (${JSON.stringify(rejected)})`,
    );
    assert.deepEqual(seen, [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
    assert.deepEqual(rejected, []);
    // What s publishes now follows p's latest start only: one entry per agent,
    // however often p restarted.
    const clocks: Record<string, number>[] = [];
    a.transport.subscribe("cr.event.reply", (m) => {
      clocks.push(JSON.parse(m.headers[VECTOR_CLOCK_HEADER] ?? "{}"));
    });
    a.publish("reply", {}, { as: "s", causal: true });
    await until(() => clocks.length === 1, 3000, "the reply");
    const keys = Object.keys(clocks[0] ?? {});
    assert.equal(keys.length, 2, JSON.stringify(clocks[0]));
    const pKey = keys.find((k) => k.startsWith("p@")) as string;
    assert.equal(clocks[0]?.[pKey], 2, "p's second start sent 2");
  } finally {
    await cleanup();
  }
});

test("a causal event naming another agent's entry as its sender's is dead-lettered", async () => {
  const t = createTestSwarm({ roles: { ops: {} } });
  const a = t.swarm.agent({ id: "a", role: "ops" });
  try {
    await t.swarm.start();
    const got: unknown[] = [];
    t.swarm.subscribe("note", (e) => void got.push(e.body), { ordering: "causal" });
    const { entry } = signedMessage(
      {
        swarm: t.swarm.name,
        clock: systemClock,
        maxEnvelopeBytes: 1 << 20,
        transportKind: t.swarm.transport.kind,
      },
      a.signer,
      { mode: "publish", subject: "test.event.note", type: "note", body: { n: 1 } },
    );
    t.swarm.transport.publish(entry.subject, entry.data, {
      headers: {
        [VECTOR_CLOCK_HEADER]: JSON.stringify({ "b@1": 1 }),
        [VECTOR_CLOCK_FROM_HEADER]: "b@1",
      },
    });
    await until(
      async () => (await t.swarm.store.deadLetters()).length === 1,
      3000,
      "the event dead-lettered",
    );
    const [dead] = await t.swarm.store.deadLetters();
    assert.match(dead?.reason ?? "", /conclave-vc-from.*"b@1".*signer "a"/);
    assert.deepEqual(got, []);
  } finally {
    await t.cleanup();
  }
});
