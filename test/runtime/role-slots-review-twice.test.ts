/**
 * A role is staffed by one `swarm.slots(...)`: a second would pause and
 * resume the same agents by its own count (both use the `standby` pause), so
 * it is refused, naming the role.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../../src/errors/index.js";
import { createTestSwarm } from "../../src/testkit/index.js";

test("slots for a role another slots() already staffs are refused", async () => {
  const t = createTestSwarm({
    roles: { lead: {}, reviewer: { tasks: ["review"] }, writer: { tasks: ["write"] } },
  });
  try {
    const { swarm } = t;
    swarm.agent({ id: "rev-1", role: "reviewer" }).handle("review", () => {});
    swarm.slots({ roles: [{ name: "reviewer", slots: 1 }] });
    assert.throws(
      () => swarm.slots({ roles: [{ name: "writer" }, { name: "reviewer", slots: 2 }] }),
      (e: unknown) =>
        e instanceof ConfigError &&
        /slots for role "reviewer": the role is already staffed by slots/.test(e.message),
    );
    // The refused call claimed nothing: writer can still be staffed.
    assert.doesNotThrow(() => swarm.slots({ roles: [{ name: "writer" }] }));
  } finally {
    await t.cleanup();
  }
});
