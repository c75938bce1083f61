/**
 * `ctx.signal` is aborted when the task's deadline passes while its handler
 * runs (TaskContext's TSDoc says so); before, nothing aborted it, and a
 * handler that watched the signal ran, and paid, to its end.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { TimeoutError } from "../../src/errors/index.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

test("ctx.signal is aborted at the task's deadline; the expired task is then dead-lettered", async () => {
  const t = createTestSwarm({
    roles: { lead: {}, dev: { tasks: ["code"] } },
    defaults: {
      ackWaitMs: 5000,
      maxDeliver: 3,
      backoff: { baseMs: 5, maxMs: 10, factor: 2, jitter: "none" },
    },
  });
  try {
    const { swarm } = t;
    let abortedAt: number | undefined;
    let reason: unknown;
    swarm.agent({ id: "lead", role: "lead" });
    swarm.agent({ id: "dev-1", role: "dev" }).handle("code", async (ctx) => {
      ctx.signal.addEventListener("abort", () => {
        abortedAt = Date.now();
        reason = ctx.signal.reason;
      });
      for (let i = 0; i < 30; i++) {
        ctx.signal.throwIfAborted();
        await sleep(100);
      }
    });
    await swarm.start();
    const deadline = Date.now() + 400;
    const id = await swarm.submit("dev", "code", {}, { as: "lead", deadline });
    await until(
      async () => (await swarm.store.deadLetter(id)) !== undefined,
      10_000,
      "dead letter",
    );
    assert.ok(abortedAt !== undefined, "the signal was aborted");
    assert.ok(abortedAt - deadline < 1000, `aborted ${abortedAt - deadline} ms after the deadline`);
    assert.ok(reason instanceof TimeoutError, String(reason));
    assert.match(String((reason as Error).message), /passed its deadline/);
    assert.match((await swarm.store.deadLetter(id))?.reason ?? "", /deadline passed/);
  } finally {
    await t.cleanup();
  }
});

test("a handler that ends before its deadline is not aborted", async () => {
  const t = createTestSwarm({ roles: { lead: {}, dev: { tasks: ["code"] } } });
  try {
    const { swarm } = t;
    let aborted = false;
    swarm.agent({ id: "lead", role: "lead" });
    swarm.agent({ id: "dev-1", role: "dev" }).handle("code", (ctx) => {
      ctx.signal.addEventListener("abort", () => {
        aborted = true;
      });
      return "done";
    });
    await swarm.start();
    const id = await swarm.submit("dev", "code", {}, { as: "lead", deadline: Date.now() + 300 });
    assert.equal(await swarm.wait(id, { timeoutMs: 5000 }), "done");
    await sleep(500);
    assert.equal(aborted, false);
  } finally {
    await t.cleanup();
  }
});
