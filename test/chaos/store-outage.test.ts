/**
 * Finding 11 of docs/CHAOS.md (`pg-cut`): a store outage of a few seconds
 * dead-lettered the work it touched. Each failed store call of the task
 * pipeline (the completion check, the commit) nak'ed the task and spent a
 * delivery; `maxDeliver` was gone long before Postgres was back. Now a
 * task whose store is unreachable waits in place, keeping its lease, and
 * carries on when the store answers: nothing is dead-lettered, nothing
 * runs twice.
 *
 * A Postgres store behind the fault proxy (test/chaos/proxy.ts), the memory
 * transport; the link is cut for 1.5 s, far longer than
 * `maxDeliver × backoff` (3 × at most 20 ms): two tasks are inside their
 * handler when the cut comes (their commit fails), four more are delivered
 * during it (their completion check fails).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createSwarm } from "../../src/runtime/swarm.js";
import { dropPostgresSchema, openPostgresStore } from "../../src/store/postgres-store.js";
import { ephemeralKeys } from "../../src/testkit/index.js";
import { createMemoryTransport } from "../../src/transport/memory/memory-transport.js";
import { until } from "../helpers/until.js";
import { postgresMissing, postgresUrl } from "../integration/fixtures/processes.js";
import { startChaosProxy } from "./proxy.js";

const url = postgresUrl;
const skip = await postgresMissing();

async function outageSwarm() {
  const target = new URL(url);
  const proxy = await startChaosProxy(Number(target.port || 5432));
  const schema = `conclave_test_${randomBytes(6).toString("hex")}`;
  const viaProxy = new URL(url);
  viaProxy.port = String(proxy.port);
  const store = await openPostgresStore({
    url: viaProxy.toString(),
    schema,
    poolSize: 4,
    connectTimeoutMs: 1000,
  });
  const swarm = createSwarm({
    name: "outage",
    keys: ephemeralKeys(),
    transport: createMemoryTransport(),
    store,
    roles: { lead: {}, dev: { tasks: ["work"] } },
    defaults: {
      heartbeatMs: 200,
      ackWaitMs: 2000,
      maxDeliver: 3,
      backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" },
    },
  });
  const events: SwarmEvent[] = [];
  swarm.on((e) => events.push(e));
  return {
    proxy,
    store,
    swarm,
    events,
    async cleanup() {
      proxy.heal();
      await swarm.close();
      await proxy.close();
      await dropPostgresSchema({ url, schema });
    },
  };
}

test("a store outage longer than maxDeliver × backoff dead-letters nothing: tasks wait and complete after the heal", {
  ...(skip === undefined ? {} : { skip }),
  timeout: 60_000,
}, async () => {
  const { proxy, store, swarm, events, cleanup } = await outageSwarm();
  const runs = new Map<string, number>();
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  try {
    swarm.agent({ id: "lead", role: "lead" });
    swarm.agent({ id: "dev-1", role: "dev", concurrency: 2 }).handle("work", async (ctx) => {
      runs.set(ctx.task.id, (runs.get(ctx.task.id) ?? 0) + 1);
      await gate;
      ctx.effect("worked", ctx.task.id);
    });
    await swarm.start();
    const ids: string[] = [];
    for (let n = 0; n < 6; n++) ids.push(await swarm.submit("dev", "work", { n }, { as: "lead" }));
    await until(() => runs.size === 2, 10_000, "two tasks inside their handler");

    proxy.cut();
    release();
    await sleep(1500);
    proxy.heal();

    // Settled: completed, or dead-lettered (what happened before the fix).
    const settled = async (id: string) =>
      (await store.isCompleted(id)) || (await store.deadLetter(id)) !== undefined;
    await until(
      async () => (await Promise.all(ids.map(settled))).every(Boolean),
      20_000,
      "every task settled",
      50,
    );
    assert.deepEqual(
      (await store.deadLetters()).map((d) => d.reason),
      [],
      "nothing was dead-lettered",
    );
    const worked = (await store.effects("worked")).map((e) => e.key).sort();
    assert.deepEqual(worked, [...ids].sort(), "each task's effect applied once");
    for (const id of ids) assert.equal(runs.get(id), 1, `task ${id} ran once`);
    assert.ok(
      events.some((e) => e.type === "store.unreachable"),
      "the wait was reported (store.unreachable)",
    );
  } finally {
    release();
    await cleanup();
  }
});

test("a handler that fails because the store is unreachable runs again on the same delivery once it answers", {
  ...(skip === undefined ? {} : { skip }),
  timeout: 60_000,
}, async () => {
  const { proxy, store, swarm, events, cleanup } = await outageSwarm();
  const attempts = new Map<string, number[]>();
  let submitted: () => void = () => {};
  const allSubmitted = new Promise<void>((resolve) => {
    submitted = resolve;
  });
  try {
    swarm.agent({ id: "lead", role: "lead" });
    swarm.agent({ id: "dev-1", role: "dev", concurrency: 3 }).handle("work", async (ctx) => {
      await allSubmitted;
      const seen = attempts.get(ctx.task.id) ?? [];
      attempts.set(ctx.task.id, [...seen, ctx.attempt]);
      if (seen.length === 0) {
        // The first run of each task finds the store gone mid-handler.
        proxy.cut();
        setTimeout(() => proxy.heal(), 1500);
      }
      await store.isCompleted(`lookup:${ctx.task.id}`);
      ctx.effect("worked", ctx.task.id);
    });
    await swarm.start();
    const ids: string[] = [];
    for (let n = 0; n < 3; n++) ids.push(await swarm.submit("dev", "work", { n }, { as: "lead" }));
    submitted();
    // The store is cut while this polls: a failed read is "not yet".
    const settled = async (id: string) =>
      (await store.isCompleted(id).catch(() => false)) ||
      (await store.deadLetter(id).catch(() => undefined)) !== undefined;
    await until(
      async () => (await Promise.all(ids.map(settled))).every(Boolean),
      20_000,
      "every task settled",
      50,
    );
    assert.deepEqual(
      (await store.deadLetters()).map((d) => d.reason),
      [],
    );
    assert.deepEqual(
      (await store.effects("worked")).map((e) => e.key).sort(),
      [...ids].sort(),
      "each task's effect applied once",
    );
    for (const id of ids) {
      const seen = attempts.get(id) ?? [];
      assert.ok(seen.length >= 2, `task ${id} ran again after the outage (${seen.join(",")})`);
      assert.ok(
        seen.every((a) => a === 1),
        `no delivery was spent: every run was attempt 1 (${seen.join(",")})`,
      );
    }
    assert.ok(events.some((e) => e.type === "store.reachable"));
  } finally {
    submitted();
    await cleanup();
  }
});
