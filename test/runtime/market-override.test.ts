/**
 * A call may choose another rule than the swarm file's: the file's
 * rule-specific settings (an English auction's minIncrement, a Dutch one's
 * clock, multi-criteria's criteria) apply only under their own rule. They
 * used to be merged into every call's terms, which then failed to validate
 * with a message naming a setting the call never passed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createTestSwarm } from "../../src/testkit/index.js";
import { until } from "../helpers/until.js";

const defaults = {
  heartbeatMs: 50,
  ackWaitMs: 2000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

for (const [name, base] of [
  ["english", { rule: "english", minIncrement: 5 }],
  ["dutch", { rule: "dutch", startPrice: 10, step: 5, stepMs: 50, reserve: 100 }],
  [
    "multi-criteria",
    { rule: "multi-criteria", criteria: [{ name: "price", weight: 1, direction: "min" }] },
  ],
] as const) {
  test(`swarm file says ${name}; swarm.auction(..., { rule: "first-price" }) runs a first-price auction`, async () => {
    const t = createTestSwarm({
      roles: { lead: {}, dev: { tasks: ["review"] } },
      defaults,
      tasks: {
        review: {
          allocation: "auction",
          role: "dev",
          auction: {
            side: "procurement",
            roundMs: 300,
            maxRounds: 5,
            criteria: [],
            onUnsold: "queue",
            ...base,
          } as never,
        },
      },
    });
    try {
      const { swarm } = t;
      swarm.agent({ id: "lead", role: "lead" });
      swarm
        .agent({ id: "dev", role: "dev" })
        .bid(() => ({ price: 40 }))
        .handle("review", () => undefined);
      await swarm.start();
      await until(() => swarm.registry.get("dev")?.liveness === "alive", 5000, "dev alive");
      const won = await swarm.auction("review", {}, { as: "lead", rule: "first-price" });
      assert.equal(won.status, "awarded");
      assert.equal(won.winner, "dev");
    } finally {
      await t.cleanup();
    }
  });
}
