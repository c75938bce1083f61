/**
 * `propose({ key })` refused before any round started (no live voter of the
 * action's roles: a `ConfigError`) must not bind the key to a round that
 * never existed. It did: the key was claimed first, so the retry, once a
 * voter was up, took the claim for an earlier round and polled the log for
 * its decision until that phantom round's deadline (plus grace) had passed
 * — with `deadlineMs: 60000`, a minute of waiting for nothing, with a day's
 * deadline, a day.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../../src/errors/index.js";
import { createTestSwarm } from "../../src/testkit/index.js";

test("a retry under the key of a refused proposal starts its round at once", async () => {
  const t = createTestSwarm({
    roles: { lead: {}, security: {}, ops: { tasks: ["funds.transfer"] } },
    privileged: {
      "funds.transfer": {
        protocol: "quorum",
        threshold: { weight: 1 },
        voters: ["security"],
        deadlineMs: 60_000,
      },
    },
  });
  try {
    t.swarm.agent({ id: "architect", role: "lead", weight: 1 });
    await t.swarm.start();
    const key = "task-7:architect:1";
    const data = { to: "dev-1", amount: 300 };
    await assert.rejects(
      t.swarm.propose("funds.transfer", data, { as: "architect", key }),
      ConfigError,
    );
    // The voter comes up; the handler is retried under the same key.
    t.swarm.agent({ id: "sentinel", role: "security", weight: 1 });
    const started = Date.now();
    const decision = await Promise.race([
      t.swarm.propose("funds.transfer", data, { as: "architect", key }),
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error("the retry waited for a round that never existed")),
          10_000,
        ),
      ),
    ]);
    assert.equal(decision.outcome, "approved");
    assert.ok(Date.now() - started < 10_000);
  } finally {
    await t.cleanup();
  }
});

test("a retry under the key of a decided round gets that decision back, even with no voter live now", async () => {
  const t = createTestSwarm({
    roles: { lead: {}, security: {}, finance: {}, ops: { tasks: ["funds.transfer"] } },
    privileged: {
      "funds.transfer": { protocol: "quorum", threshold: { weight: 1 }, voters: ["security"] },
      // Nobody of the finance role runs: proposing it alone is refused.
      "funds.audit": { protocol: "quorum", threshold: { weight: 1 }, voters: ["finance"] },
    },
  });
  try {
    t.swarm.agent({ id: "architect", role: "lead", weight: 1 });
    t.swarm.agent({ id: "sentinel", role: "security", weight: 1 });
    await t.swarm.start();
    const key = "task-8:architect:1";
    const data = { to: "dev-1", amount: 300 };
    const first = await t.swarm.propose("funds.transfer", data, { as: "architect", key });
    assert.equal(first.outcome, "approved");
    await assert.rejects(t.swarm.propose("funds.audit", data, { as: "architect" }), ConfigError);
    const again = await t.swarm.propose("funds.audit", data, { as: "architect", key });
    assert.equal(again.seal, first.seal);
  } finally {
    await t.cleanup();
  }
});
