/**
 * A refused card must not pin its key. Before, every card heard was pinned
 * on sight (in the shared store, first claim wins for good) before the
 * policy was even asked: an outsider announcing an id the swarm file did not
 * declare yet was refused, but its key stayed pinned to that id, so once the
 * operator declared the id, the genuine agent was refused everywhere
 * (E_KEY_MISMATCH) and the outsider was admitted in its place.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { sharedBrokerNodes } from "../helpers/shared-broker.js";
import { until } from "../helpers/until.js";

const roles = { lead: {}, dev: { tasks: ["code"] } };
const defaults = {
  heartbeatMs: 50,
  ackWaitMs: 2000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};
const before = [
  { id: "dev", role: "dev", weight: 1 },
  { id: "lead", role: "lead", weight: 1 },
];
const after = [...before, { id: "dev-9", role: "dev", weight: 1 }];

test("an id squatted while it was not admitted stays free for the agent declared later", async () => {
  const { node, cleanup } = sharedBrokerNodes({
    name: "squat",
    roles,
    defaults,
    admission: { mode: "declared", declared: before },
  });
  try {
    const a = node("node-a");
    const aEvents: SwarmEvent[] = [];
    a.on((e) => aEvents.push(e));
    a.agent({ id: "dev", role: "dev" });
    await a.start();

    // An outsider announces "dev-9", an id the swarm file does not declare (yet).
    const m = node("node-m", undefined, { admission: { mode: "open" } });
    m.agent({ id: "dev-9", role: "dev" });
    await m.start();
    await until(
      () => aEvents.some((e) => e.type === "agent.refused" && e.agent === "dev-9"),
      3000,
      "the outsider refused",
    );
    await m.close();

    // The operator declares dev-9; its genuine agent starts with its own key.
    const b = node("node-b", undefined, { admission: { mode: "declared", declared: after } });
    const bEvents: SwarmEvent[] = [];
    b.on((e) => bEvents.push(e));
    b.agent({ id: "dev-9", role: "dev" });
    await b.start();
    const c = node("node-c", undefined, { admission: { mode: "declared", declared: after } });
    const cEvents: SwarmEvent[] = [];
    c.on((e) => cEvents.push(e));
    c.agent({ id: "lead", role: "lead" });
    await c.start();
    await until(
      () =>
        cEvents.some(
          (e) => (e.type === "agent.trusted" || e.type === "agent.refused") && e.agent === "dev-9",
        ),
      5000,
      "dev-9 judged by node-c",
    );
    const refusals = cEvents.filter((e) => e.type === "agent.refused" && e.agent === "dev-9");
    assert.deepEqual(refusals, [], "the genuine dev-9 was refused");
    assert.deepEqual(
      bEvents.filter((e) => e.type === "error"),
      [],
      "node-b says its own agent's key is not the one pinned",
    );
  } finally {
    await cleanup();
  }
});
