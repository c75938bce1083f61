import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, beforeEach, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { sharedBrokerNodes } from "../helpers/shared-broker.js";
import { until } from "../helpers/until.js";

const roles = { lead: {}, dev: { tasks: ["code"] } };
const defaults = {
  heartbeatMs: 100,
  ackWaitMs: 2000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

const operator = generateAgentKeyPair();

/** Two or more nodes (swarm instances) sharing one in-process broker and one store. */
const nodes = () =>
  sharedBrokerNodes({
    name: "trust",
    roles,
    defaults,
    admission: { mode: "open", operatorKey: operator.publicKey },
  });

describe("trust between nodes", () => {
  test("a remote agent's tasks are accepted after the mutual handshake, refused at once after revocation", async () => {
    const { node, cleanup } = nodes();
    try {
      const a = node("node-a");
      const b = node("node-b");
      const events: SwarmEvent[] = [];
      b.on((e) => events.push(e));
      a.agent({ id: "lead", role: "lead" });
      let handled = 0;
      b.agent({ id: "dev", role: "dev" }).handle("code", () => {
        handled++;
      });
      await a.start();
      await b.start();
      await a.submit("dev", "code", { n: 1 }, { as: "lead" });
      await until(() => handled === 1, 5000, "the first task");
      assert.ok(
        events.some((e) => e.type === "agent.trusted" && e.agent === "lead"),
        "node-b trusted lead through the handshake",
      );

      await b.revoke("lead", { operatorKey: operator.privateKey });
      await a.submit("dev", "code", { n: 2 }, { as: "lead" });
      // The revoked agent's heartbeats are refused (and parked) too: look for the task's.
      const refusedTask = async () =>
        (await b.store.deadLetters()).find((d) => d.subject === "trust.task.dev.code");
      await until(async () => (await refusedTask()) !== undefined, 5000, "the refused task");
      const dead = await refusedTask();
      assert.match(dead?.reason ?? "", /revoked/);
      assert.equal(handled, 1, "nothing from a revoked agent runs");
      assert.equal(b.registry.get("lead"), undefined, "the registry dropped it");
    } finally {
      await cleanup();
    }
  });

  test("an impostor announcing another agent's public key never becomes trusted", async () => {
    const { node, cleanup } = nodes();
    try {
      const victim = generateAgentKeyPair();
      const b = node("node-b");
      let handled = 0;
      b.agent({ id: "dev", role: "dev" }).handle("code", () => {
        handled++;
      });
      await b.start();
      // node-m announces "mallory" with the victim's public key but signs with its own private key.
      const mine = generateAgentKeyPair();
      const m = node("node-m", () => ({
        publicKey: victim.publicKey,
        privateKey: mine.privateKey,
      }));
      const events: SwarmEvent[] = [];
      b.on((e) => events.push(e));
      m.agent({ id: "mallory", role: "lead" });
      await m.start();
      await sleep(600);
      assert.ok(!events.some((e) => e.type === "agent.trusted" && e.agent === "mallory"));
      assert.equal(handled, 0);
    } finally {
      await cleanup();
    }
  });

  test("a card that would change a pinned key is ignored", async () => {
    const { node, cleanup } = nodes();
    try {
      const b = node("node-b");
      b.agent({ id: "dev", role: "dev" });
      await b.start();
      const events: SwarmEvent[] = [];
      b.on((e) => events.push(e));
      const m = node("node-m");
      m.agent({ id: "dev", role: "dev" }); // same id, another key
      await m.start();
      await until(
        () =>
          events.some(
            (e) => e.type === "message.rejected" && /different public key/.test(e.reason),
          ),
        3000,
        "the rejected card",
      );
    } finally {
      await cleanup();
    }
  });
});

describe("keys proved before a restart", () => {
  const work = mkdtempSync(join(tmpdir(), "conclave-proved-"));
  after(() => rmSync(work, { recursive: true, force: true }));
  let file = "";
  beforeEach((t) => {
    file = join(work, `${t.name.replace(/\W+/g, "-").slice(0, 40)}.json`);
  });
  const provedIn = () => {
    try {
      return (JSON.parse(readFileSync(file, "utf8")) as { signers: Record<string, string> })
        .signers;
    } catch {
      return {};
    }
  };

  test("verify what an agent signed while its node is down; a revocation forgets it", {
    timeout: 30_000,
  }, async () => {
    const { node, cleanup } = nodes();
    try {
      const lead = generateAgentKeyPair();
      const a = node("node-a", () => lead);
      a.agent({ id: "lead", role: "lead" });
      const events: SwarmEvent[] = [];
      const handled: number[] = [];
      const dev = (n: string) => {
        const b = node(n, undefined, { provedSignersFile: file });
        b.on((e) => events.push(e));
        b.agent({ id: "dev", role: "dev" }).handle<{ n: number }>("code", (ctx) => {
          handled.push(ctx.body.n);
        });
        return b;
      };
      const b = dev("node-b");
      await a.start();
      await b.start();
      await a.submit("dev", "code", { n: 1 }, { as: "lead" });
      await until(() => handled.length === 1, 5000, "the first task");
      await until(() => provedIn()["lead"] !== undefined, 5000, "lead's key kept");

      // node-b stops; lead queues a task and its node stops too.
      await b.close();
      await a.submit("dev", "code", { n: 2 }, { as: "lead" });
      await a.close();
      // Restarted, node-b verifies it at once. Before, it waited for a
      // handshake nobody could answer and dead-lettered it as from an
      // unknown signer.
      const again = dev("node-b2");
      await again.start();
      await until(() => handled.length === 2, 5000, "the task queued while both were down");
      assert.deepEqual(await again.store.deadLetters(), []);
      assert.equal(
        events.some((e) => e.type === "trust.retrying" && e.agent === "lead"),
        false,
        "it never waited for lead",
      );

      await again.revoke("lead", { operatorKey: operator.privateKey });
      await until(() => provedIn()["lead"] === undefined, 5000, "lead forgotten");
    } finally {
      await cleanup();
    }
  });

  test("a revocation made while a node was down is applied when it starts: the remembered key lets nothing in", {
    timeout: 30_000,
  }, async () => {
    const { node, cleanup } = nodes();
    try {
      const a = node("node-a");
      a.agent({ id: "lead", role: "lead" });
      const handled: number[] = [];
      const dev = (n: string) => {
        const b = node(n, undefined, { provedSignersFile: file });
        b.agent({ id: "dev", role: "dev" }).handle<{ n: number }>("code", (ctx) => {
          handled.push(ctx.body.n);
        });
        return b;
      };
      const b = dev("node-b");
      await a.start();
      await b.start();
      await a.submit("dev", "code", { n: 1 }, { as: "lead" });
      await until(() => provedIn()["lead"] !== undefined, 5000, "lead's key kept");
      await until(() => handled.length === 1, 5000, "the first task");

      // node-b stops; lead queues a task, is revoked (node-b hears nothing), and stops.
      await b.close();
      await a.submit("dev", "code", { n: 2 }, { as: "lead" });
      await a.revoke("lead", { operatorKey: operator.privateKey });
      await a.close();
      assert.notEqual(provedIn()["lead"], undefined, "node-b's file still holds lead's key");

      const again = dev("node-b2");
      await again.start();
      const refused = async () =>
        (await again.store.deadLetters()).find((d) => d.subject === "trust.task.dev.code");
      await until(async () => (await refused()) !== undefined, 5000, "the queued task refused");
      assert.match((await refused())?.reason ?? "", /revoked/);
      assert.deepEqual(handled, [1], "nothing signed by a revoked agent runs");
      await until(() => provedIn()["lead"] === undefined, 5000, "lead's key forgotten");
    } finally {
      await cleanup();
    }
  });

  /**
   * node-b (keeping proofs in `file`) ran a task of boss's and kept boss's
   * first key; then both nodes stopped. `dev` starts another dev node.
   */
  const bossProvedThenGone = async (node: ReturnType<typeof nodes>["node"]) => {
    const handled: number[] = [];
    const dev = (n: string) => {
      const b = node(n, undefined, { provedSignersFile: file });
      b.agent({ id: "dev", role: "dev" }).handle<{ n: number }>("code", (ctx) => {
        handled.push(ctx.body.n);
      });
      return b;
    };
    const a = node("node-a");
    a.agent({ id: "boss", role: "lead" });
    const b = dev("node-b");
    await a.start();
    await b.start();
    await a.submit("dev", "code", { n: 1 }, { as: "boss" });
    await until(() => provedIn()["boss"] !== undefined, 5000, "boss's first key kept");
    await b.close();
    await a.close();
    return { handled, dev };
  };

  test("an agent back with another key is proved anew, its tasks not refused as forged", {
    timeout: 30_000,
  }, async () => {
    const { node, cleanup } = nodes();
    try {
      const { handled, dev } = await bossProvedThenGone(node);
      // boss comes back with a fresh key and queues a task; node-b restarts.
      const a2 = node("node-a2");
      a2.agent({ id: "boss", role: "lead" });
      await a2.start();
      await a2.submit("dev", "code", { n: 2 }, { as: "boss" });
      const again = dev("node-b2");
      await again.start();
      await until(() => handled.includes(2), 10_000, "the task signed with the new key");
      assert.deepEqual(await again.store.deadLetters(), []);
      const fresh = a2.registry.get("boss")?.card.publicKey;
      await until(() => provedIn()["boss"] === fresh, 5000, "the new key kept");
    } finally {
      await cleanup();
    }
  });

  test("a task signed with a new key while its node is down waits for it, not refused as forged", {
    timeout: 60_000,
  }, async () => {
    const { node, cleanup } = nodes();
    try {
      const { handled, dev } = await bossProvedThenGone(node);
      // boss comes back with a fresh key, queues a task, and goes down again.
      const rekeyed = generateAgentKeyPair();
      const a2 = node("node-a2", () => rekeyed);
      a2.agent({ id: "boss", role: "lead" });
      await a2.start();
      await a2.submit("dev", "code", { n: 2 }, { as: "boss" });
      await a2.close();
      const again = dev("node-b2");
      await again.start();
      await sleep(1000);
      assert.deepEqual(await again.store.deadLetters(), [], "not dead-lettered as forged");
      assert.deepEqual(handled, [1]);
      // boss is back: proved anew, its task runs.
      const a3 = node("node-a3", () => rekeyed);
      a3.agent({ id: "boss", role: "lead" });
      await a3.start();
      // (Under load the task's check against the old key could end after
      // the handshake proved the new one: it died as forged. The check now
      // remembers which key it used; trust.ts verifyOffThread.)
      await until(() => handled.includes(2), 30_000, "the task signed with the new key");
      // (Its heartbeats may be parked: the registry keeps an id's first key.)
      const tasks = (await again.store.deadLetters()).filter((d) => d.subject.includes(".task."));
      assert.deepEqual(tasks, []);
    } finally {
      await cleanup();
    }
  });

  test("a remembered key is not trusted for an agent admission no longer grants", {
    timeout: 30_000,
  }, async () => {
    const declared = (ids: string[]) => ({
      admission: {
        mode: "declared" as const,
        declared: ids.map((id) => ({ id, role: id === "boss" ? "lead" : "dev", weight: 1 })),
      },
    });
    const { node, cleanup } = sharedBrokerNodes({ name: "trust", roles, defaults });
    try {
      const handled: number[] = [];
      const dev = (n: string, ids: string[]) => {
        const b = node(n, undefined, { provedSignersFile: file, ...declared(ids) });
        b.agent({ id: "dev", role: "dev" }).handle<{ n: number }>("code", (ctx) => {
          handled.push(ctx.body.n);
        });
        return b;
      };
      const a = node("node-a", undefined, declared(["boss", "dev"]));
      a.agent({ id: "boss", role: "lead" });
      const b = dev("node-b", ["boss", "dev"]);
      await a.start();
      await b.start();
      await a.submit("dev", "code", { n: 1 }, { as: "boss" });
      await until(() => provedIn()["boss"] !== undefined, 5000, "boss's key kept");
      await b.close();
      await a.submit("dev", "code", { n: 2 }, { as: "boss" });
      await a.close();
      // boss is no longer declared: its remembered key must not let its task in.
      const again = dev("node-b2", ["dev"]);
      await again.start();
      await sleep(1500);
      assert.deepEqual(handled, [1]);
    } finally {
      await cleanup();
    }
  });
});
