/**
 * Revoking an agent takes it off its node. It used to stay hosted (stopped):
 * when it was the node's first agent it still signed the node's heartbeats,
 * which every other node then refused, so the node's healthy agents left
 * the swarm; and a pool counted the revoked worker as serving, never
 * replacing it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import type { Agent } from "../../src/runtime/agent.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { sharedBrokerNodes } from "../helpers/shared-broker.js";
import { until } from "../helpers/until.js";

const operator = generateAgentKeyPair();
const defaults = {
  heartbeatMs: 100,
  ackWaitMs: 2000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

test("revoking one agent of a node does not make its other agents leave the swarm", async () => {
  const { node, cleanup } = sharedBrokerNodes({
    name: "revfirst",
    roles: { lead: {}, dev: { tasks: ["code"] } },
    defaults,
    admission: { mode: "open", operatorKey: operator.publicKey },
  });
  try {
    const a = node("node-a");
    const b = node("node-b");
    const events: SwarmEvent[] = [];
    b.on((e) => events.push(e));
    a.agent({ id: "mole", role: "dev" }).handle("code", () => undefined); // hosted first: signs node-a's heartbeats
    a.agent({ id: "dev-a", role: "dev" }).handle("code", () => "ok");
    b.agent({ id: "lead", role: "lead" });
    await a.start();
    await b.start();
    await until(() => b.registry.get("dev-a") !== undefined, 5000, "node-b to hear dev-a");
    await b.revoke("mole", { operatorKey: operator.privateKey });
    await sleep(2500); // leftAfterMs = 3*100 + 7*100 = 1000 ms
    const left = events
      .filter((e) => e.type === "agent.left")
      .map((e) => `${(e as { card: { id: string } }).card.id}:${(e as { reason: string }).reason}`);
    const parked = (await b.store.deadLetters()).filter((d) =>
      d.subject.endsWith("heartbeat"),
    ).length;
    console.log(
      "agent.left on node-b:",
      left,
      "dev-a in b's registry:",
      b.registry.get("dev-a")?.liveness,
      "heartbeats dead-lettered:",
      parked,
    );
    assert.ok(
      b.registry.get("dev-a") !== undefined,
      "dev-a (not revoked) dropped from node-b's registry",
    );
  } finally {
    await cleanup();
  }
});

const fast = {
  ackWaitMs: 5000,
  maxDeliver: 3,
  heartbeatMs: 50,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

test("a pool replaces a revoked worker", async () => {
  const t = createTestSwarm({
    roles: { lead: {}, worker: { tasks: ["work"] } },
    defaults: fast,
    admission: { mode: "open", operatorKey: operator.publicKey },
  });
  try {
    const { swarm } = t;
    swarm.agent({ id: "lead", role: "lead" });
    const setup = (a: Agent) =>
      a.handle("work", (ctx) => {
        ctx.effect("worked", ctx.task.id, { by: ctx.agentId });
      });
    setup(swarm.agent({ id: "w", role: "worker" }));
    const pool = swarm.pool({
      role: "worker",
      min: 1,
      max: 1,
      members: ["w"],
      workerId: (n) => `w-p${n}`,
      intervalMs: 30,
      scaleUpCooldownMs: 30,
      scaleDownCooldownMs: 60_000,
      spawn: (id) => setup(swarm.agent({ id, role: "worker" })),
    });
    await swarm.start();
    await swarm.revoke("w", { operatorKey: operator.privateKey });
    await sleep(300);
    for (let n = 0; n < 3; n++) await swarm.submit("worker", "work", { n }, { as: "lead" });
    await until(
      async () => (await swarm.store.effects("worked")).length === 3,
      10_000,
      "the tasks done by a replacement (a pool that still counted the revoked worker as serving left them stuck)",
    );
    assert.ok(!pool.workers.includes("w"), `workers: ${pool.workers.join(", ")}`);
  } finally {
    await t.cleanup();
  }
});
