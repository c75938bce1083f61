/**
 * A request whose handler throws `PermanentError` (bad input: no other
 * agent can do better) was sent on to every other agent of the role, each
 * running the handler again, and the caller got `E_ALL_CANDIDATES_FAILED`
 * instead of the handler's own error. As a queued task is dead-lettered at
 * once for it, a request now fails at once with the handler's code.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConclaveError, PermanentError } from "../../src/errors/index.js";
import { createTestSwarm } from "../../src/testkit/index.js";

const defaults = {
  heartbeatMs: 100,
  ackWaitMs: 2000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

test("a request refused with PermanentError is not tried on the other agents", async () => {
  const t = createTestSwarm({ roles: { lead: {}, clerk: { tasks: ["charge"] } }, defaults });
  try {
    const { swarm } = t;
    swarm.agent({ id: "boss", role: "lead" });
    const runs: string[] = [];
    for (const id of ["clerk-1", "clerk-2", "clerk-3"]) {
      swarm.agent({ id, role: "clerk" }).handle("charge", () => {
        runs.push(id);
        throw new PermanentError("order 7 has no card on file");
      });
    }
    await swarm.start();
    const error = await swarm
      .request("clerk", "charge", { order: 7 }, { as: "boss", timeoutMs: 2000 })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(error instanceof ConclaveError, String(error));
    assert.equal(error.code, "E_PERMANENT");
    assert.match(error.message, /no card on file/);
    assert.equal(runs.length, 1, `ran once, not on every agent (${runs})`);
  } finally {
    await t.cleanup();
  }
});
