import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { systemClock } from "../../src/core/clock.js";
import { VECTOR_CLOCK_HEADER } from "../../src/runtime/event-subscription.js";
import { signedMessage } from "../../src/runtime/messages.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import type { Envelope } from "../../src/wire/envelope.js";
import { until } from "../helpers/until.js";

function setup() {
  const t = createTestSwarm({ roles: { ops: {} } });
  const a = t.swarm.agent({ id: "a", role: "ops" });
  const b = t.swarm.agent({ id: "b", role: "ops" });
  return { ...t, a, b };
}

describe("event subscriptions", () => {
  test("events fan out; forged ones are parked in the dead-letter queue and counted", async () => {
    const { swarm, cleanup } = setup();
    try {
      await swarm.start();
      const got: Envelope[] = [];
      swarm.subscribe("deploy.*", (e) => {
        got.push(e);
      });
      swarm.publish("deploy.started", { env: "staging" }, { as: "a" });
      const forged = {
        id: "01JD0000000000000000000009",
        type: "deploy.started",
        from: "a",
        ts: 1,
        body: {},
        sig: `${"B".repeat(85)}A`,
      };
      swarm.transport.publish(
        "test.event.deploy.started",
        new TextEncoder().encode(JSON.stringify(forged)),
      );
      await until(
        async () => (await swarm.store.deadLetters()).length === 1,
        3000,
        "the parked event",
      );
      await until(() => got.length === 1, 3000, "the good event");
      assert.deepEqual(got[0]?.body, { env: "staging" });
      const [parked] = await swarm.store.deadLetters();
      assert.match(parked?.reason ?? "", /SignatureError/);
      assert.equal(parked?.subject, "test.event.deploy.started");
      assert.equal(
        await swarm.metrics.get("conclave_messages_rejected_total", { code: "E_SIGNATURE" }),
        1,
      );
    } finally {
      await cleanup();
    }
  });

  test("conversation ordering delivers by seq whatever the arrival order", async () => {
    const { swarm, cleanup } = setup();
    try {
      await swarm.start();
      const seqs: number[] = [];
      swarm.subscribe(
        "chat",
        (e) => {
          seqs.push(e.seq ?? -1);
        },
        { ordering: "conversation" },
      );
      for (const seq of [3, 1, 0, 2, 1, 4])
        swarm.publish("chat", { seq }, { as: "a", conv: "c1", seq });
      await until(() => seqs.length === 5, 3000, "five events");
      await sleep(20);
      assert.deepEqual(seqs, [0, 1, 2, 3, 4], "in order, the duplicate 1 delivered once");
    } finally {
      await cleanup();
    }
  });

  test("a missing seq is given up after the gap timeout; later ones still arrive in order", async () => {
    const { swarm, cleanup } = setup();
    try {
      await swarm.start();
      const seqs: number[] = [];
      swarm.subscribe(
        "chat",
        (e) => {
          seqs.push(e.seq ?? -1);
        },
        { ordering: "conversation", gapTimeoutMs: 100 },
      );
      for (const seq of [0, 2, 3]) swarm.publish("chat", {}, { as: "a", conv: "c2", seq });
      await until(() => seqs.length === 1, 1000, "seq 0");
      await sleep(30);
      assert.deepEqual(seqs, [0], "2 and 3 wait for 1");
      await until(() => seqs.length === 3, 2000, "the gap timeout");
      assert.deepEqual(seqs, [0, 2, 3]);
    } finally {
      await cleanup();
    }
  });

  test("causal ordering holds an event back until what it depends on was delivered", async () => {
    const { swarm, a, b, cleanup } = setup();
    try {
      await swarm.start();
      const order: string[] = [];
      swarm.subscribe(
        "note",
        (e) => {
          order.push((e.body as { text: string }).text);
        },
        { ordering: "causal" },
      );
      const send = (sender: typeof a, text: string, clock: Record<string, number>) => {
        const { entry } = signedMessage(
          {
            swarm: swarm.name,
            clock: systemClock,
            maxEnvelopeBytes: 1 << 20,
            transportKind: swarm.transport.kind,
          },
          sender.signer,
          { mode: "publish", subject: "test.event.note", type: "note", body: { text } },
        );
        swarm.transport.publish(entry.subject, entry.data, {
          headers: { [VECTOR_CLOCK_HEADER]: JSON.stringify(clock) },
        });
      };
      // b's reply was sent after b saw a's question: it arrives first but must wait.
      send(b, "answer", { a: 1, b: 1 });
      await sleep(30);
      assert.deepEqual(order, []);
      send(a, "question", { a: 1 });
      await until(() => order.length === 2, 2000, "both notes");
      assert.deepEqual(order, ["question", "answer"]);
    } finally {
      await cleanup();
    }
  });

  test("publish with causal: true stamps clocks that causal subscribers accept in order", async () => {
    const { swarm, cleanup } = setup();
    try {
      await swarm.start();
      const order: number[] = [];
      swarm.subscribe(
        "tick",
        (e) => {
          order.push((e.body as { n: number }).n);
        },
        { ordering: "causal" },
      );
      for (let n = 0; n < 20; n++)
        swarm.publish("tick", { n }, { as: n % 2 ? "a" : "b", causal: true });
      await until(() => order.length === 20, 2000, "20 ticks");
      assert.equal(new Set(order).size, 20);
    } finally {
      await cleanup();
    }
  });
});
