/**
 * A root whose handler is still running is not dead-lettered because one of
 * the children it waits on died: `ctx.call` throws `ChildTaskFailedError`
 * to a handler that may try another way (an ensemble asks a replacement
 * member), and `ctx.gather` returns the dead child as a result. The run's
 * summary used to count such a root dead-lettered (and `conclave up` ended
 * the run as settled) while its handler was still working on it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ChildTaskFailedError, PermanentError } from "../../src/errors/index.js";
import { workloadProgress } from "../../src/runtime/workload.js";
import { createTestSwarm } from "../../src/testkit/index.js";

test("a dead child does not settle a root whose handler still runs; a dead root does", async () => {
  const t = createTestSwarm({
    roles: {
      lead: { tasks: ["ask", "give-up"] },
      flaky: { tasks: ["answer"] },
      steady: { tasks: ["answer"] },
    },
  });
  try {
    const { swarm } = t;
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let waiting: () => void = () => {};
    const steadyAsked = new Promise<void>((resolve) => {
      waiting = resolve;
    });
    swarm
      .agent({ id: "lead", role: "lead" })
      .handle("ask", async (ctx) => {
        try {
          return await ctx.call("flaky", "answer", {});
        } catch (error) {
          assert.ok(error instanceof ChildTaskFailedError);
          const answer = await ctx.call("steady", "answer", {});
          ctx.finish(answer);
          return answer;
        }
      })
      .handle("give-up", async (ctx) => {
        await ctx.call("flaky", "answer", {});
      });
    swarm.agent({ id: "flaky-1", role: "flaky" }).handle("answer", () => {
      throw new PermanentError("flaky cannot answer");
    });
    swarm.agent({ id: "steady-1", role: "steady" }).handle("answer", async () => {
      waiting();
      await released;
      return 42;
    });
    await swarm.start();
    const root = await swarm.submit("lead", "ask", {}, { as: "lead" });
    await steadyAsked;
    const during = await workloadProgress(swarm.store);
    assert.equal(during.deadLettered, 0, "the root's handler is still running");
    assert.equal(during.pending, 1, JSON.stringify(during));
    release();
    assert.equal(await swarm.wait(root, { timeoutMs: 10_000 }), 42);
    const after = await workloadProgress(swarm.store);
    assert.deepEqual(
      { completed: after.completed, deadLettered: after.deadLettered, pending: after.pending },
      { completed: 1, deadLettered: 0, pending: 0 },
    );
    // A root that gives up when its child dies is dead-lettered itself, and counted so.
    const dead = await swarm.submit("lead", "give-up", {}, { as: "lead" });
    await assert.rejects(swarm.wait(dead, { timeoutMs: 10_000 }), ChildTaskFailedError);
    const end = await workloadProgress(swarm.store);
    assert.deepEqual(
      { completed: end.completed, deadLettered: end.deadLettered, pending: end.pending },
      { completed: 1, deadLettered: 1, pending: 0 },
    );
  } finally {
    await t.cleanup();
  }
});
