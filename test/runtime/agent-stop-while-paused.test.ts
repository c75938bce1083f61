/**
 * An agent paused (halted for credits, on standby, retiring) while a task
 * runs, then stopped: a graceful stop waits for that task, and a stop at
 * once aborts it. Both used to return at once, as the pause had already
 * let go of the agent's consumers: a retired worker was announced gone
 * with its task still running, and a node could close its store under it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createTestSwarm } from "../../src/testkit/index.js";

test("stop(true) of a paused agent waits for its running task; stop(false) aborts it", async () => {
  const t = createTestSwarm({ roles: { lead: {}, dev: { tasks: ["slow", "hang"] } } });
  try {
    const { swarm } = t;
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started: () => void = () => {};
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    let aborted = false;
    swarm.agent({ id: "lead", role: "lead" });
    const dev = swarm.agent({ id: "dev-1", role: "dev" }).handle("slow", async () => {
      started();
      await released;
      return "done";
    });
    await swarm.start();
    const id = await swarm.submit("dev", "slow", {}, { as: "lead" });
    await running;
    dev.pause("halted");
    let stopped = false;
    const stopping = dev.stop(true).then(() => {
      stopped = true;
    });
    await sleep(200);
    assert.equal(stopped, false, "the graceful stop waits for the running task");
    release();
    await stopping;
    assert.equal(await swarm.outcome(id).then((o) => o?.status), "completed");

    // At once: the running task is aborted, not waited for.
    let hanging: () => void = () => {};
    const hangs = new Promise<void>((resolve) => {
      hanging = resolve;
    });
    const other = swarm.agent({ id: "dev-2", role: "dev" }).handle("hang", async (ctx) => {
      hanging();
      await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
      aborted = true;
      throw new Error("aborted");
    });
    await swarm.submit("dev", "hang", {}, { as: "lead" });
    await hangs;
    other.pause("halted");
    await other.stop(false);
    await sleep(50);
    assert.equal(aborted, true, "the stop at once aborted the running task");
  } finally {
    await t.cleanup();
  }
});
