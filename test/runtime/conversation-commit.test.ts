/**
 * Conversation ordering (`ordering: conversation`): a task's `seq` N+1 runs
 * only after N completed (or its gap timeout). The marker of N used to be
 * written beside N's commit, not after it: when the commit failed (here, a
 * delegation's hold that no longer fits), N+1 ran at once.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

const fast = {
  ackWaitMs: 20_000,
  maxDeliver: 3,
  backoff: { baseMs: 300, maxMs: 300, factor: 1, jitter: "none" as const },
};

test("seq N+1 does not run before seq N is completed (its commit failed)", {
  timeout: 30_000,
}, async () => {
  const t = createTestSwarm({
    roles: {
      lead: {},
      worker: { tasks: ["work"] },
      dev: { tasks: ["step"], ordering: "conversation", gapTimeoutMs: 8000 },
    },
    defaults: fast,
  });
  try {
    const { swarm } = t;
    const log: string[] = [];
    swarm.on((e: SwarmEvent) => {
      if (e.type === "task.failed") log.push(`failed attempt ${e.attempt}: ${e.error}`);
    });
    swarm.agent({ id: "lead", role: "lead" });
    swarm.agent({ id: "w-1", role: "worker" }).handle("work", () => {});
    // dev-1 plans step 0: delegates 80 credits, then pays 50 for a model call.
    // Its commit (which moves the 80 into escrow) fails: only 50 are left.
    swarm
      .agent({ id: "dev-1", role: "dev", concurrency: 4, budget: { initial: 100, minBalance: 0 } })
      .handle<{ seq: number }>("step", async (ctx) => {
        log.push(`start ${ctx.body.seq} (attempt ${ctx.attempt})`);
        if (ctx.body.seq === 0 && ctx.attempt === 1) {
          await ctx.delegate("worker", "work", {}, { budget: 80 });
          await ctx.spend({ kind: "tool", credits: 50 });
        }
      });
    await swarm.start();
    const first = await swarm.submit("dev", "step", { seq: 0 }, { as: "lead", conv: "c2", seq: 0 });
    await sleep(50);
    const second = await swarm.submit(
      "dev",
      "step",
      { seq: 1 },
      { as: "lead", conv: "c2", seq: 1 },
    );
    await until(() => log.some((l) => l.startsWith("start 1")), 15_000, "seq 1 to start");
    const firstOutcomeWhenSecondStarted = (await swarm.outcome(first))?.status ?? "pending";
    await swarm.wait(second, { timeoutMs: 15_000 });
    console.log(
      JSON.stringify({
        log,
        firstOutcomeWhenSecondStarted,
        marker0: await swarm.store.isCompleted("conv:c2:0"),
      }),
    );
    assert.notEqual(
      firstOutcomeWhenSecondStarted,
      "pending",
      "seq 1 ran while seq 0 was neither completed nor dead-lettered, long before the gap timeout",
    );
  } finally {
    await t.cleanup();
  }
});
