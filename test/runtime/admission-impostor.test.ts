/**
 * An outsider announcing a card for a declared agent id with another key is
 * refused (E_KEY_MISMATCH), and that refusal must not lock the genuine
 * agent out. Before, it was remembered against the id and an admitted card
 * with the genuine key did not clear it: every task the genuine agent sent
 * that node was dead-lettered, for good.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";
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

test("an impostor's card for a pinned id does not lock the genuine agent out", async () => {
  const leadKeys = generateAgentKeyPair();
  const declared = [
    { id: "lead", role: "lead", weight: 1, publicKey: encodePublicKey(leadKeys.publicKey) },
    { id: "dev", role: "dev", weight: 1 },
  ];
  const { node, cleanup } = sharedBrokerNodes({
    name: "imp",
    roles,
    defaults,
    admission: { mode: "declared", declared },
  });
  try {
    const a = node("node-a");
    const events: SwarmEvent[] = [];
    a.on((e) => events.push(e));
    let handled = 0;
    a.agent({ id: "dev", role: "dev" }).handle("code", () => {
      handled++;
    });
    await a.start();

    // An outsider (it admits anyone itself) announces "lead" with its own key.
    const m = node("node-m", undefined, { admission: { mode: "open" } });
    m.agent({ id: "lead", role: "lead" });
    await m.start();
    await until(
      () => events.some((e) => e.type === "agent.refused" && e.agent === "lead"),
      3000,
      "the impostor refused",
    );
    await m.close();

    // The genuine lead, with the key the swarm file pins, joins.
    const b = node("node-b", (id) => (id === "lead" ? leadKeys : generateAgentKeyPair()));
    b.agent({ id: "lead", role: "lead" });
    await b.start();
    await until(
      () => events.some((e) => e.type === "agent.trusted" && e.agent === "lead"),
      5000,
      "the genuine lead trusted",
    );
    await b.submit("dev", "code", { n: 1 }, { as: "lead" });
    await until(
      async () =>
        handled === 1 ||
        (await a.store.deadLetters()).some((d) => d.subject === "imp.task.dev.code"),
      5000,
      "the task handled or parked",
    );
    const dead = (await a.store.deadLetters()).filter((d) => d.subject === "imp.task.dev.code");
    assert.deepEqual(
      dead.map((d) => d.reason),
      [],
      "the genuine lead's task was dead-lettered",
    );
    assert.equal(handled, 1);

    // The impostor comes back while the genuine lead is admitted: its cards
    // (refused or ignored) change nothing; the genuine lead's next task runs.
    const m2 = node("node-m2", undefined, { admission: { mode: "open" } });
    m2.agent({ id: "lead", role: "lead" });
    await m2.start();
    await sleep(600); // a dozen of its heartbeats
    await b.submit("dev", "code", { n: 2 }, { as: "lead" });
    await until(() => handled === 2, 5000, "the second task");
    assert.deepEqual(
      (await a.store.deadLetters()).filter((d) => d.subject === "imp.task.dev.code"),
      [],
    );
  } finally {
    await cleanup();
  }
});
