import assert from "node:assert/strict";
import { test } from "node:test";
import { VECTOR_CLOCK_HEADER } from "../../src/runtime/event-subscription.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

// What a node's causal subscriptions delivered stays part of what its
// agents saw after a subscription ends: an answer published once the
// question's subscription was closed must still follow the question.
test("a causal event follows what an unsubscribed causal subscription delivered", async () => {
  const t = createTestSwarm({ roles: { ops: {} } });
  t.swarm.agent({ id: "a", role: "ops" });
  t.swarm.agent({ id: "b", role: "ops" });
  try {
    await t.swarm.start();
    const clocks: Record<string, number>[] = [];
    t.swarm.transport.subscribe("test.event.answer", (m) => {
      clocks.push(JSON.parse(m.headers[VECTOR_CLOCK_HEADER] ?? "{}"));
    });
    let questions = 0;
    const sub = t.swarm.subscribe(
      "question",
      () => {
        questions++;
      },
      { ordering: "causal" },
    );
    t.swarm.publish("question", { q: "?" }, { as: "a", causal: true });
    await until(() => questions === 1, 2000, "the question");
    sub.unsubscribe();
    t.swarm.publish("answer", { a: "!" }, { as: "b", causal: true });
    await until(() => clocks.length === 1, 2000, "the answer");
    // Each agent's entry is its stream of this start of the node: `<agent>@<incarnation>`.
    const entries = Object.entries(clocks[0] ?? {}).map(([k, n]) => [k.split("@")[0], n]);
    assert.deepEqual(Object.fromEntries(entries), { a: 1, b: 1 });
  } finally {
    await t.cleanup();
  }
});
