import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { sharedBrokerNodes } from "../helpers/shared-broker.js";
import { until } from "../helpers/until.js";

const roles = { lead: {}, dev: { tasks: ["code"] }, council: {} };
const defaults = {
  heartbeatMs: 50,
  ackWaitMs: 2000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};
const operator = generateAgentKeyPair();
const declared = [
  { id: "lead", role: "lead", weight: 1 },
  { id: "dev", role: "dev", weight: 1 },
  { id: "mole", role: "dev", weight: 1 },
];
const admission = { mode: "declared" as const, declared, operatorKey: operator.publicKey };

const nodes = () => sharedBrokerNodes({ name: "adm", roles, defaults, admission });

describe("admission between nodes", () => {
  test("an agent no swarm file declares is refused: no trust, its heartbeats and tasks dead-lettered with E_NOT_ADMITTED", async () => {
    const { node, cleanup } = nodes();
    try {
      const a = node("node-a");
      const events: SwarmEvent[] = [];
      a.on((e) => events.push(e));
      let handled = 0;
      a.agent({ id: "dev", role: "dev" }).handle("code", () => {
        handled++;
      });
      await a.start();
      // An outsider node that admits anyone announces py-1 as the architect.
      const m = node("node-m", undefined, { admission: { mode: "open" } });
      m.agent({ id: "py-1", role: "lead" });
      await m.start();
      await until(
        () => events.some((e) => e.type === "agent.refused" && e.agent === "py-1"),
        3000,
        "py-1 refused",
      );
      const refused = events.find((e) => e.type === "agent.refused");
      assert.equal(refused?.type === "agent.refused" && refused.code, "E_NOT_ADMITTED");
      await m.submit("dev", "code", { n: 1 }, { as: "py-1" }).catch(() => undefined);
      const deadOf = async (subject: string) =>
        (await a.store.deadLetters()).filter((d) => d.subject === subject);
      await until(
        async () => (await deadOf("adm.task.dev.code")).length > 0,
        5000,
        "the task parked",
      );
      const [task] = await deadOf("adm.task.dev.code");
      assert.match(task?.reason ?? "", /E_NOT_ADMITTED/);
      const heartbeats = await deadOf("adm.registry.heartbeat");
      assert.ok(
        heartbeats.some((d) => /E_NOT_ADMITTED/.test(d.reason)),
        "its heartbeats are parked",
      );
      assert.equal(handled, 0, "nothing it sent ran");
      assert.ok(!events.some((e) => e.type === "agent.trusted" && e.agent === "py-1"));
      assert.equal(a.registry.get("py-1"), undefined);
    } finally {
      await cleanup();
    }
  });

  test("a declared agent claiming more weight, or another key than the one pinned, is refused", async () => {
    const { node, cleanup } = nodes();
    try {
      const a = node("node-a");
      const events: SwarmEvent[] = [];
      a.on((e) => events.push(e));
      a.agent({ id: "dev", role: "dev" });
      await a.start();
      const heavy = node("node-h", undefined, { admission: { mode: "open" } });
      heavy.agent({ id: "lead", role: "lead", weight: 1000 });
      await heavy.start();
      await until(() => events.some((e) => e.type === "agent.refused"), 3000, "lead refused");
      const refused = events.find((e) => e.type === "agent.refused");
      assert.equal(refused?.type === "agent.refused" && refused.code, "E_ROLE_MISMATCH");
      await heavy.close();

      // mole's key gets pinned on first sight; a new process with a fresh key is refused.
      const first = node("node-1", undefined, { admission: { mode: "open" } });
      first.agent({ id: "mole", role: "dev" });
      await first.start();
      await until(() => a.registry.get("mole") !== undefined, 3000, "mole joined");
      await first.drain();
      await until(() => a.registry.get("mole") === undefined, 3000, "mole left");
      const second = node("node-2", undefined, { admission: { mode: "open" } });
      second.agent({ id: "mole", role: "dev" });
      await second.start();
      await until(
        () => events.some((e) => e.type === "agent.refused" && e.agent === "mole"),
        3000,
        "the new key refused",
      );
      const keyRefusal = events.find((e) => e.type === "agent.refused" && e.agent === "mole");
      assert.equal(keyRefusal?.type === "agent.refused" && keyRefusal.code, "E_KEY_MISMATCH");
      assert.equal(a.registry.get("mole"), undefined);
    } finally {
      await cleanup();
    }
  });

  test("an agent may revoke only itself: an outsider's revocation of another agent is refused", async () => {
    const { node, cleanup } = nodes();
    try {
      const a = node("node-a");
      const b = node("node-b");
      const events: SwarmEvent[] = [];
      a.on((e) => events.push(e));
      a.agent({ id: "dev", role: "dev" });
      b.agent({ id: "lead", role: "lead" });
      await a.start();
      await b.start();
      await until(() => a.registry.get("lead") !== undefined, 3000, "lead joined");
      await assert.rejects(b.revoke("dev", { as: "lead" }), /may revoke only itself/);
      // A forged broadcast: lead signs a revocation of dev anyway.
      const { signRevocation } = await import("../../src/registry/revocation.js");
      assert.throws(
        () =>
          signRevocation(
            { agent: "dev", authority: "self" },
            { id: "lead", privateKey: generateAgentKeyPair().privateKey },
            { now: () => Date.now(), setTimer: () => () => {} },
          ),
        /may revoke only itself/,
      );
      await sleep(100);
      assert.ok(!events.some((e) => e.type === "agent.left" && e.card.id === "dev"));
      // The operator may.
      await b.revoke("dev", { operatorKey: operator.privateKey });
      await until(
        () =>
          events.some(
            (e) => e.type === "agent.refused" && e.agent === "dev" && e.code === "E_REVOKED",
          ),
        3000,
        "dev revoked on its own node",
      );
    } finally {
      await cleanup();
    }
  });

  test("revoked while holding a task: the task is handed back and done once by another agent", async () => {
    const { node, cleanup } = nodes();
    try {
      const a = node("node-a");
      const b = node("node-b");
      const c = node("node-c");
      let started: () => void = () => {};
      const holding = new Promise<void>((resolve) => {
        started = resolve;
      });
      const doneBy: string[] = [];
      a.agent({ id: "lead", role: "lead" });
      b.agent({ id: "mole", role: "dev" }).handle("code", async (ctx) => {
        started();
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
        ctx.effect("code.done", ctx.task.id);
      });
      await a.start();
      await b.start();
      await until(() => a.registry.get("mole") !== undefined, 3000, "mole joined");
      const id = await a.submit("dev", "code", { n: 1 }, { as: "lead" });
      await holding;
      c.agent({ id: "dev", role: "dev" }).handle("code", (ctx) => {
        doneBy.push(ctx.agentId);
        ctx.effect("code.done", ctx.task.id);
      });
      await c.start();
      await a.revoke("mole", { operatorKey: operator.privateKey });
      await until(() => doneBy.length === 1, 5000, "dev did the task");
      await sleep(100);
      const stats = await a.store.effectStats("code.done");
      assert.equal(stats.keys, 1);
      assert.equal(stats.duplicateKeys, 0);
      assert.deepEqual(doneBy, ["dev"]);
      assert.ok((await a.store.effects("code.done")).every((e) => e.key === id));
    } finally {
      await cleanup();
    }
  });
});
