/**
 * One idempotency key, one auction: callers that run `swarm.auction` with
 * the same `id` (at once, or one retrying after the other) get one call for
 * proposals, one outcome, and the id of the one task the winner runs.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { agentAccount, escrowAccount } from "../../src/ledger/index.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { escrowKey } from "../../src/runtime/market/engine.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { live, marketDefaults } from "../helpers/market.js";
import { until } from "../helpers/until.js";

/** A lead with 1000 credits and two bidding reviewers; `ran` gets the id of every task they run. */
async function market(ran: string[], events: SwarmEvent[]) {
  const t = createTestSwarm({
    roles: { lead: {}, dev: { tasks: ["review"] } },
    defaults: marketDefaults,
  });
  const { swarm } = t;
  swarm.on((e) => events.push(e));
  swarm.agent({ id: "lead", role: "lead", budget: { initial: 1000, minBalance: 0 } });
  for (const [id, ask] of [
    ["dev-1", 100],
    ["dev-2", 80],
  ] as const) {
    swarm
      .agent({ id, role: "dev", budget: { initial: 10, minBalance: 0 } })
      .bid(() => ({ price: ask }))
      .handle("review", (ctx) => {
        ran.push(ctx.task.id);
      });
  }
  await swarm.start();
  await live(swarm, ["dev-1", "dev-2"]);
  return t;
}

const options = {
  as: "lead",
  id: "same-key-1",
  rule: "vickrey" as const,
  reserve: 500,
  roundMs: 400,
};

describe("market: one auction per idempotency key", () => {
  test("two concurrent swarm.auction calls with one id run one auction and name the same task", async () => {
    const ran: string[] = [];
    const events: SwarmEvent[] = [];
    const t = await market(ran, events);
    try {
      const { swarm } = t;
      const [a, b] = await Promise.all([
        swarm.auction("review", { pr: 1 }, options),
        swarm.auction("review", { pr: 1 }, options),
      ]);
      assert.equal(
        events.filter((e) => e.type === "auction.opened").length,
        1,
        "one call for proposals for one auction id",
      );
      assert.equal(events.filter((e) => e.type === "auction.closed").length, 1);
      assert.equal(a.status, "awarded");
      assert.deepEqual(b, a, "both callers get the one outcome");
      await until(() => ran.length === 1, 5000, "the winner runs the task");
      assert.deepEqual(ran, [a.task], "the task both callers were told of is the one that ran");
      await until(
        async () => (await swarm.store.balance(agentAccount("dev-2"))) === 110,
        5000,
        "the escrow released once",
      );
      assert.equal(await swarm.store.balance(agentAccount("lead")), 900, "paid once");
      assert.equal(await swarm.store.balance(escrowAccount(escrowKey(a.auction))), 0);
    } finally {
      await t.cleanup();
    }
  });

  test("a retried swarm.auction with the same id is told the task the winner ran, not a task never sent", async () => {
    const ran: string[] = [];
    const events: SwarmEvent[] = [];
    const t = await market(ran, events);
    try {
      const { swarm } = t;
      const first = await swarm.auction("review", { pr: 1 }, options);
      const retried = await swarm.auction("review", { pr: 1 }, options);
      assert.equal(first.status, "awarded");
      assert.ok(first.task);
      assert.equal(retried.task, first.task, "the retry names the same awarded task");
      await until(() => ran.length === 1, 5000, "the winner runs the task");
      // Give a second task (if any were sent) time to run too.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(ran, [first.task], "one task ran, the one both calls named");
      assert.equal(events.filter((e) => e.type === "auction.opened").length, 1);
      assert.equal(await swarm.store.balance(agentAccount("lead")), 900, "paid once");
    } finally {
      await t.cleanup();
    }
  });
});
