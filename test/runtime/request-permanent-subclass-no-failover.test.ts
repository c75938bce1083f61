/**
 * A request fails over to another agent unless the handler refused it with
 * a `PermanentError`, told apart by the reply's code. Only the base class and
 * three subclasses were listed: a handler failing with any other of the
 * library's permanent errors (an unusable model answer, an unknown tool, a
 * team task from a non-lead, ...) ran again on every agent of the role, and
 * the caller got `E_ALL_CANDIDATES_FAILED` instead of the handler's error.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConclaveError } from "../../src/errors/index.js";
import { ModelResponseError, UnknownToolError } from "../../src/errors/llm.js";
import { createTestSwarm } from "../../src/testkit/index.js";

const defaults = {
  heartbeatMs: 100,
  ackWaitMs: 2000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

for (const [name, make] of [
  ["ModelResponseError", () => new ModelResponseError("m-1", "not JSON")],
  ["UnknownToolError", () => new UnknownToolError("rm", ["ls"])],
] as const) {
  test(`a request refused with ${name} is not tried on the other agents`, async () => {
    const t = createTestSwarm({ roles: { lead: {}, clerk: { tasks: ["charge"] } }, defaults });
    try {
      const { swarm } = t;
      swarm.agent({ id: "boss", role: "lead" });
      const runs: string[] = [];
      for (const id of ["clerk-1", "clerk-2", "clerk-3"]) {
        swarm.agent({ id, role: "clerk" }).handle("charge", () => {
          runs.push(id);
          throw make();
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
      assert.equal(error.code, make().code);
      assert.equal(runs.length, 1, `ran once, not on every agent (${runs})`);
    } finally {
      await t.cleanup();
    }
  });
}
