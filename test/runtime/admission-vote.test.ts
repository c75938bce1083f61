/**
 * `admission: vote`: an agent no swarm file declares announces itself; the
 * node that refuses it asks the swarm (`swarm.admit`), the council votes by
 * its policy on what the card asks for, and every node grants exactly what
 * an approved decision says. A request the council rejects stays refused.
 * Both decisions are sealed in the audit log and verify.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { verifyStoredAuditLog } from "../../src/runtime/consensus/audit-log.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { sharedBrokerNodes } from "../helpers/shared-broker.js";
import { until } from "../helpers/until.js";

const roles = { lead: {}, worker: { tasks: ["job"] }, council: {} };
const defaults = {
  heartbeatMs: 50,
  ackWaitMs: 2000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};
const declared = [
  { id: "lead", role: "lead", weight: 1 },
  { id: "judge", role: "council", weight: 1 },
];

describe("admission by vote", () => {
  test("the council admits a worker it approves, with the grant asked for; it refuses a would-be council member", async () => {
    const { node, cleanup } = sharedBrokerNodes({
      name: "vote",
      roles,
      defaults,
      admission: { mode: "vote", declared },
      privileged: {
        "swarm.admit": {
          protocol: "quorum",
          threshold: { weight: 1 },
          voters: ["council"],
          deadlineMs: 5000,
        },
      },
    });
    try {
      const home = node("node-home");
      const events: SwarmEvent[] = [];
      home.on((e) => events.push(e));
      home.agent({ id: "lead", role: "lead" });
      // The council's policy: workers of weight 1 may join; nobody may join the council.
      home.agent({ id: "judge", role: "council" }).vote((proposal) => {
        const asked = proposal.data as { role: string; weight: number };
        return asked.role === "worker" && asked.weight === 1
          ? { choice: "approve", reasons: ["a worker of weight 1"] }
          : {
              choice: "reject",
              reasons: [`no ${asked.role} of weight ${asked.weight} joins by vote`],
            };
      });
      await home.start();

      // A newcomer node announces a worker and a would-be council member.
      const newcomer = node("node-new", undefined, { admission: { mode: "open" } });
      let jobs = 0;
      newcomer.agent({ id: "w-9", role: "worker" }).handle("job", () => {
        jobs++;
        return { done: true };
      });
      newcomer.agent({ id: "c-9", role: "council", weight: 5 });
      await newcomer.start();

      await until(
        () => home.registry.get("w-9")?.liveness === "alive",
        10_000,
        "w-9 admitted by vote",
      );
      assert.equal(home.registry.get("w-9")?.card.role, "worker");
      // Admitted: work reaches it.
      assert.deepEqual(
        await home.submitAndWait("worker", "job", {}, { as: "lead", timeoutMs: 10_000 }),
        { done: true },
      );
      assert.equal(jobs, 1);
      // c-9 asked to join the council with weight 5: rejected, still refused.
      await until(
        () =>
          events.some(
            (e) =>
              e.type === "consensus.decided" &&
              e.action === "swarm.admit" &&
              e.outcome === "rejected",
          ),
        10_000,
        "c-9's request decided",
      );
      assert.equal(home.registry.get("c-9"), undefined);
      assert.ok(events.some((e) => e.type === "agent.refused" && e.agent === "c-9"));
      const verdict = await verifyStoredAuditLog(home.store);
      assert.equal(verdict.ok, true, JSON.stringify(verdict));
      assert.equal(verdict.ok && verdict.outcomes.approved, 1);
      assert.equal(verdict.ok && verdict.outcomes.rejected, 1);
    } finally {
      await cleanup();
    }
  });
});
