/**
 * `swarm.request`'s `timeoutMs` was passed to the transport unchecked: 0, a
 * negative or NaN timed every candidate out at once (a node timer fires
 * after 1 ms) while the first one ran the handler, and the caller got
 * `E_ALL_CANDIDATES_FAILED`; NATS refused it with a ConfigError per
 * candidate, wrapped the same way. It is refused before any agent is asked,
 * as the router refuses its own `timeoutMs`.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ConfigError } from "../../src/errors/index.js";
import { createTestSwarm } from "../../src/testkit/index.js";

test("a request with a timeoutMs that is not above 0 is refused before any agent runs it", async () => {
  const t = createTestSwarm({ roles: { lead: {}, clerk: { tasks: ["charge"] } } });
  try {
    const { swarm } = t;
    swarm.agent({ id: "boss", role: "lead" });
    const runs: string[] = [];
    for (const id of ["clerk-1", "clerk-2"]) {
      swarm.agent({ id, role: "clerk" }).handle("charge", async () => {
        runs.push(id);
        await sleep(5);
        return { ok: true };
      });
    }
    await swarm.start();
    for (const timeoutMs of [0, -5, Number.NaN]) {
      await assert.rejects(
        swarm.request("clerk", "charge", { order: 7 }, { as: "boss", timeoutMs }),
        (error: unknown) => error instanceof ConfigError && /timeoutMs/.test(error.message),
        String(timeoutMs),
      );
    }
    await sleep(30);
    assert.deepEqual(runs, []);
  } finally {
    await t.cleanup();
  }
});
