/**
 * Defect "done while approved actions are still queued" (issue 17): a root
 * task finished by its handler is not settled while a privileged action it
 * had approved and queued has not run yet; a run waits for it, and counts
 * it as lost if it never runs.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { compilePolicy } from "../../src/consensus/policy.js";
import { workloadProgress } from "../../src/runtime/workload.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

describe("privileged follow-ups are work to settle", () => {
  test("a finished root with an approved action still queued is pending until the action ran", async () => {
    const t = createTestSwarm({
      roles: { lead: {}, audit: { tasks: ["check"] }, ops: { tasks: ["funds.transfer"] } },
      defaults: {
        heartbeatMs: 100,
        ackWaitMs: 5000,
        maxDeliver: 3,
        backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
      },
      privileged: {
        "funds.transfer": {
          protocol: "quorum",
          threshold: { weight: 1 },
          voters: ["audit"],
          deadlineMs: 3000,
        },
      },
    });
    try {
      const { swarm } = t;
      let release = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let transfers = 0;
      swarm.agent({ id: "architect", role: "lead" });
      swarm
        .agent({
          id: "auditor",
          role: "audit",
          policy: compilePolicy({ rules: [], default: "approve" }),
        })
        .handle("check", async (ctx) => {
          const decision = await ctx.propose({
            action: "funds.transfer",
            data: { to: "dev-1", amount: 10 },
          });
          assert.equal(decision.outcome, "approved");
          ctx.submit("ops", "funds.transfer", decision.proposal.data, { approval: decision.seal });
          ctx.finish();
        });
      swarm.agent({ id: "ops-1", role: "ops" }).handle("funds.transfer", async () => {
        await held;
        transfers++;
      });
      await swarm.start();
      await swarm.submit("audit", "check", {}, { as: "architect" });
      // The root is finished once the check committed; the transfer is queued or running.
      await until(
        async () => (await swarm.store.effects("root.completed")).length === 1,
        10_000,
        "the root finished",
      );
      const during = await workloadProgress(swarm.store);
      assert.equal(during.completed, 1);
      assert.equal(during.followUps, 1, "the approved transfer has not run");
      assert.equal(during.pending, 1, "the run is not settled while it waits");
      release();
      await until(() => transfers === 1, 10_000, "the transfer");
      await until(
        async () => (await workloadProgress(swarm.store)).pending === 0,
        10_000,
        "settled",
      );
      assert.equal((await workloadProgress(swarm.store)).followUps, 0);
    } finally {
      await t.cleanup();
    }
  });
});
