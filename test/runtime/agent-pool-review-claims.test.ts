/**
 * `swarm.pool(...)`: one pool per role (two would both scale the same queue,
 * each spawning its own workers), and a pool refused for bad settings claims
 * no role, so the corrected call, or slots for the role, still go through.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../../src/errors/index.js";
import { createTestSwarm } from "../../src/testkit/index.js";

test("a second pool of a role is refused, and a refused pool claims no role", async () => {
  const t = createTestSwarm({
    roles: { lead: {}, worker: { tasks: ["work"] }, reviewer: { tasks: ["review"] } },
  });
  try {
    const { swarm } = t;
    swarm.agent({ id: "lead", role: "lead" });
    swarm.agent({ id: "rev-1", role: "reviewer" }).handle("review", () => {});
    const spawn = (id: string) => swarm.agent({ id, role: "worker" }).handle("work", () => {});

    assert.throws(
      () => swarm.pool({ role: "reviewer", min: 3, max: 1, spawn }),
      (e: unknown) => e instanceof ConfigError && /max must be/.test(e.message),
    );
    // The refused pool did not claim "reviewer": slots for it are fine.
    assert.doesNotThrow(() => swarm.slots({ roles: [{ name: "reviewer" }] }));

    swarm.pool({ role: "worker", min: 0, max: 2, spawn });
    assert.throws(
      () => swarm.pool({ role: "worker", min: 0, max: 4, spawn }),
      (e: unknown) =>
        e instanceof ConfigError &&
        /a pool of role "worker": the role already has a pool/.test(e.message),
    );
  } finally {
    await t.cleanup();
  }
});
