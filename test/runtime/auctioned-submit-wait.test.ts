/**
 * `swarm.submitAndWait` (and `swarm.wait`) on a task of a type allocated
 * by auction: the submitted task is the auction's request, completed as
 * `auction:<id>`, and the winner runs an awarded task with an id of its
 * own. The waiter read only the submitted id's outcome, so it never saw
 * the awarded task's result (nor its death) and waited for ever; and
 * `swarm.outcome(id)` stayed undefined.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ChildTaskFailedError, PermanentError } from "../../src/errors/index.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { live, marketDefaults } from "../helpers/market.js";

function auctionSwarm() {
  return createTestSwarm({
    roles: { lead: {}, dev: { tasks: ["review"] } },
    defaults: marketDefaults,
    tasks: {
      review: {
        allocation: "auction",
        role: "dev",
        auction: {
          rule: "vickrey",
          side: "procurement",
          reserve: 50,
          roundMs: 200,
          maxRounds: 1,
          criteria: [],
          onUnsold: "queue",
        },
      },
    },
  });
}

test("submitAndWait on an auctioned task resolves with the awarded task's result", async () => {
  const t = auctionSwarm();
  try {
    const { swarm } = t;
    swarm.agent({ id: "lead", role: "lead", budget: { initial: 1000, minBalance: 0 } });
    swarm
      .agent({ id: "dev-1", role: "dev" })
      .bid(() => ({ price: 30 }))
      .handle("review", (ctx) => ({ reviewed: (ctx.body as { n: number }).n }));
    await swarm.start();
    await live(swarm, ["dev-1"]);
    const id = await swarm.submit("dev", "review", { n: 1 }, { as: "lead" });
    const result = await swarm.wait(id, { timeoutMs: 6000 });
    assert.deepEqual(result, { reviewed: 1 });
    // swarm.outcome reads the same: the awarded task's outcome, under the submitted id.
    const outcome = await swarm.outcome(id);
    assert.equal(outcome?.status, "completed");
    assert.equal(outcome?.taskId, id);
  } finally {
    await t.cleanup();
  }
});

test("submitAndWait on an auctioned task whose awarded task dies is told so", async () => {
  const t = auctionSwarm();
  try {
    const { swarm } = t;
    swarm.agent({ id: "lead", role: "lead", budget: { initial: 1000, minBalance: 0 } });
    swarm
      .agent({ id: "dev-1", role: "dev" })
      .bid(() => ({ price: 30 }))
      .handle("review", () => {
        throw new PermanentError("cannot review this");
      });
    await swarm.start();
    await live(swarm, ["dev-1"]);
    const error = await swarm
      .submitAndWait("dev", "review", { n: 1 }, { as: "lead", timeoutMs: 6000 })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(error instanceof ChildTaskFailedError, `told it died, not ${String(error)}`);
    assert.match(error.message, /cannot review this/);
  } finally {
    await t.cleanup();
  }
});
