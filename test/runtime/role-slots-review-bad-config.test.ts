/**
 * Role slots set up with bad settings are refused at `swarm.slots(...)`, with
 * a ConfigError saying what is wrong: not later, from a start that nobody
 * awaits (on a running swarm an unhandled rejection, which ends the node), nor
 * on each event the slots plan for.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../../src/errors/index.js";
import type { RoleSlotsConfig } from "../../src/runtime/role-slots.js";
import { createTestSwarm } from "../../src/testkit/index.js";

test("bad slot settings on a running swarm throw a ConfigError at once, with no unhandled rejection", async () => {
  const t = createTestSwarm({ roles: { lead: {}, reviewer: { tasks: ["review"] } } });
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  try {
    const { swarm } = t;
    swarm.agent({ id: "lead", role: "lead" });
    swarm.agent({ id: "rev-1", role: "reviewer" }).handle("review", () => {});
    await swarm.start();
    const bad: [RoleSlotsConfig, RegExp][] = [
      [{ roles: [{ name: "reviewer", slots: 1.5 }] }, /slots must be a whole number/],
      [
        { roles: [{ name: "reviewer" }, { name: "reviewer", slots: 2 }] },
        /role name "reviewer" appears twice/,
      ],
      [
        { roles: [{ name: "reviewer" }], reputationFloor: 2 },
        /reputation floor must be in \[0, 1\]/,
      ],
      [{ roles: [{ name: "reviewer" }], intervalMs: 0 }, /intervalMs must be/],
    ];
    for (const [config, message] of bad) {
      assert.throws(
        () => swarm.slots(config),
        (e: unknown) => e instanceof ConfigError && message.test(e.message),
        JSON.stringify(config),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(
      unhandled.map((e) => String(e)),
      [],
    );
    // Refused slots claim nothing: the role can still be pooled.
    assert.doesNotThrow(() =>
      swarm.pool({
        role: "reviewer",
        min: 1,
        max: 2,
        members: ["rev-1"],
        spawn: (id) => swarm.agent({ id, role: "reviewer" }).handle("review", () => {}),
      }),
    );
  } finally {
    process.off("unhandledRejection", onUnhandled);
    await t.cleanup();
  }
});
