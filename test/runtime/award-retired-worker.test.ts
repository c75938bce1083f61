import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { systemClock } from "../../src/core/clock.js";
import { agentAccount } from "../../src/ledger/index.js";
import { handBackAwardedTasks } from "../../src/runtime/retire-agent.js";
import { queueNames, subjects } from "../../src/runtime/subjects.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { live, marketDefaults } from "../helpers/market.js";
import { until } from "../helpers/until.js";

/**
 * A bidder wins two tasks (one running, one queued in its own award queue),
 * then stops for good: nobody else consumes that queue.
 */
async function strandTwoAwards() {
  const t = createTestSwarm({
    roles: { lead: {}, dev: { tasks: ["review"] } },
    defaults: marketDefaults,
  });
  const { swarm } = t;
  swarm.agent({ id: "lead", role: "lead", budget: { initial: 1000, minBalance: 0 } });
  let release: () => void = () => undefined;
  const blocked = new Promise<void>((resolve) => {
    release = resolve;
  });
  const started: string[] = [];
  swarm
    .agent({ id: "dev-1", role: "dev", budget: { initial: 0, minBalance: 0 } })
    .bid(() => ({ price: 30 }))
    .handle("review", async (ctx) => {
      started.push(ctx.task.id);
      await Promise.race([
        blocked,
        new Promise((_, reject) =>
          ctx.signal.addEventListener("abort", () => reject(new Error("stopped"))),
        ),
      ]);
    });
  // Takes the role's queue but never bids: what a redriven task reaches.
  const ranByDev2: string[] = [];
  swarm.agent({ id: "dev-2", role: "dev" }).handle("review", (ctx) => {
    ranByDev2.push(ctx.task.id);
  });
  await swarm.start();
  await live(swarm, ["dev-1", "dev-2"]);
  const tasks: string[] = [];
  for (const pr of [1, 2]) {
    const won = await swarm.auction(
      "review",
      { pr },
      { as: "lead", rule: "first-price", reserve: 100, roundMs: 100 },
    );
    assert.equal(won.status, "awarded");
    assert.equal(won.winner, "dev-1");
    assert.ok(won.task);
    tasks.push(won.task);
  }
  await until(() => started.length === 1, 20000, "dev-1 runs its first award");
  await until(
    async () => (await swarm.store.balance(agentAccount("lead"))) === 940,
    20000,
    "both prices held in escrow",
  );
  return { t, swarm, tasks, started, ranByDev2, release: () => release() };
}

describe("tasks awarded to an agent that stops for good", () => {
  test("revoking a bidder with awarded tasks queued: they are dead-lettered, the escrow refunded", async () => {
    const { t, swarm, tasks } = await strandTwoAwards();
    try {
      await swarm.revoke("dev-1", { as: "dev-1" }, "leaving");
      await until(
        async () => {
          const outcomes = await Promise.all(tasks.map((id) => swarm.outcome(id)));
          return outcomes.every((o) => o?.status === "dead_lettered");
        },
        10000,
        "both awarded tasks dead-lettered",
      );
      await until(
        async () => (await swarm.store.balance(agentAccount("lead"))) === 1000,
        20000,
        "both prices refunded to the payer",
      );
    } finally {
      await t.cleanup();
    }
  });

  // Revocation stops the agent without waiting for it: a hand-back that
  // throws (the bus refusing the consumer) must be reported, not left as an
  // unhandled rejection, which ends the process.
  test("revoking a bidder whose award queue cannot be read reports it and keeps the node up", async () => {
    const { t, swarm } = await strandTwoAwards();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    const errors: string[] = [];
    swarm.on((e) => {
      if (e.type === "error") errors.push(e.error);
    });
    const transport = swarm.transport as { consume: typeof swarm.transport.consume };
    const consume = transport.consume.bind(swarm.transport);
    const queue = queueNames.awarded(swarm.name, "dev-1");
    transport.consume = (name, handler, options) => {
      if (name === queue) throw new Error("the bus refused the consumer");
      return consume(name, handler, options);
    };
    try {
      await swarm.revoke("dev-1", { as: "dev-1" }, "leaving");
      await until(
        () => errors.some((e) => e.includes("won at auction") && e.includes("refused")),
        10000,
        "the hand-back's failure reported",
      );
      await sleep(100);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", onUnhandled);
      await t.cleanup();
    }
  });

  test("handBackAwardedTasks dead-letters them with a reason, refunds the escrow once, and a redrive runs them on the role's queue", async () => {
    const { t, swarm, tasks, ranByDev2 } = await strandTwoAwards();
    try {
      // Stopped for good, as retireAgent and a revocation stop it (no more auctions run here).
      const dev1 = swarm.agents.find((a) => a.id === "dev-1");
      await dev1?.stop(false);
      // Stranded as things stand: nobody consumes dev-1's award queue.
      await sleep(300);
      const queue = queueNames.awarded(swarm.name, "dev-1");
      assert.equal((await swarm.transport.queueInfo(queue)).pending, 2);
      assert.equal(await swarm.outcome(tasks[0] as string), undefined);

      const node = {
        swarm: swarm.name,
        transport: swarm.transport,
        clock: systemClock,
        events: { emit: () => undefined },
      };
      const handedBack = await handBackAwardedTasks(
        node,
        { id: "dev-1", role: "dev" },
        { waitMs: 2000 },
      );
      assert.equal(handedBack, 2);
      assert.equal((await swarm.transport.queueInfo(queue)).pending, 0);
      await until(
        async () => {
          const outcomes = await Promise.all(tasks.map((id) => swarm.outcome(id)));
          return outcomes.every((o) => o?.status === "dead_lettered");
        },
        20000,
        "both awarded tasks dead-lettered",
      );
      const outcome = await swarm.outcome(tasks[1] as string);
      assert.match(
        outcome?.status === "dead_lettered" ? outcome.reason : "",
        /dev-1.*stopped.*redrive/s,
      );
      const store = swarm.store;
      await until(
        async () => (await store.balance(agentAccount("lead"))) === 1000,
        20000,
        "both prices refunded to the payer",
      );
      for (const id of tasks) {
        const record = await store.deadLetter(id);
        assert.equal(record?.subject, subjects.task(swarm.name, "dev", "review"));
      }
      const [reputation] = await store.reputations(["dev-1"]);
      assert.equal(reputation?.observations, 2, "the winner's reputation learnt both failures");

      // A second hand-back finds nothing: nothing is refunded twice.
      assert.equal(await handBackAwardedTasks(node, { id: "dev-1", role: "dev" }), 0);

      await swarm.redrive(tasks[1] as string, { by: "test", unpaid: true });
      await until(() => ranByDev2.length === 1, 20000, "the redriven task runs on the role queue");
      const check = await store.ledgerCheck();
      assert.deepEqual(check.negative, []);
      assert.equal(check.sum, check.minted);
      assert.equal(await store.balance(agentAccount("lead")), 1000, "nobody paid twice");
    } finally {
      await t.cleanup();
    }
  });
});
