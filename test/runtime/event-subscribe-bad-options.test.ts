/**
 * A causal subscription's `gapTimeoutMs` was not checked: NaN never expired
 * (every event waiting for a predecessor was held until the buffer
 * overflowed) and re-armed a 1 ms timer for ever, spinning the node. A
 * conversation subscription refused it; both now refuse it where it is given.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../../src/errors/index.js";
import { createTestSwarm } from "../../src/testkit/index.js";

test("a causal subscription refuses a gapTimeoutMs that is NaN or negative", async () => {
  const t = createTestSwarm({ roles: { ops: {} } });
  t.swarm.agent({ id: "a", role: "ops" });
  try {
    await t.swarm.start();
    for (const gapTimeoutMs of [Number.NaN, -1]) {
      for (const ordering of ["causal", "conversation"] as const) {
        assert.throws(
          () => t.swarm.subscribe("note", () => {}, { ordering, gapTimeoutMs }),
          (error: unknown) => error instanceof ConfigError && /gapTimeoutMs/.test(error.message),
          `${ordering} with ${gapTimeoutMs}`,
        );
      }
    }
  } finally {
    await t.cleanup();
  }
});
