/**
 * A task of a type allocated by auction that goes unsold falls back to its
 * role's queue under the message id `unsold-<task id>` (the bus saw the
 * task id as the auction request). When that copy died, its dead letter
 * was recorded under the message id, not the task's: `swarm.wait` and
 * `submitAndWait` on the task id (what `submit` returned) never saw the
 * outcome and waited for ever, and a redrive by task id found nothing.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ChildTaskFailedError, PermanentError } from "../../src/errors/index.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { live, marketDefaults } from "../helpers/market.js";

test("an unsold task that dies is dead-lettered under its task id, and its waiter is told", async () => {
  const t = createTestSwarm({
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
  try {
    const { swarm } = t;
    swarm.agent({ id: "lead", role: "lead" });
    swarm
      .agent({ id: "dev-1", role: "dev" })
      .bid(() => undefined)
      .handle("review", () => {
        throw new PermanentError("cannot review this");
      });
    await swarm.start();
    await live(swarm, ["dev-1"]);
    const waited = swarm
      .submitAndWait("dev", "review", { n: 1 }, { as: "lead", timeoutMs: 8000 })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    const error = await waited;
    assert.ok(error instanceof ChildTaskFailedError, `told it died, not ${String(error)}`);
    assert.match(error.message, /cannot review this/);
  } finally {
    await t.cleanup();
  }
});
