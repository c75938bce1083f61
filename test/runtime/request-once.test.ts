/**
 * A request (`<swarm>.agent.<id>.request`) runs once per envelope, as a
 * queued task does: the very same signed request sent again (a replay by
 * anyone on the bus, or a client's retry) gets the first run's result and
 * runs nothing. Before, the request path had no claim or completion check:
 * a privileged request with a valid approval ran its action again on every
 * replay (the approval is claimed by envelope id, and a redelivery of that
 * id passes, for the queue path's sake).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { PrivilegedAction } from "../../src/consensus/rule.js";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { decodeEnvelope, encodeEnvelope } from "../../src/wire/codec.js";
import { createSignedEnvelope } from "../../src/wire/signature.js";

const defaults = {
  heartbeatMs: 100,
  ackWaitMs: 2000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};
const transfer: PrivilegedAction = {
  protocol: "quorum",
  threshold: { fraction: 0.5 },
  voters: ["lead"],
  deadlineMs: 2000,
};

test("a replayed privileged request gets the first result and does not run its action twice", async () => {
  const keys = new Map<string, ReturnType<typeof generateAgentKeyPair>>();
  const t = createTestSwarm({
    roles: { lead: {}, ops: { tasks: ["funds.transfer"] } },
    defaults,
    privileged: { "funds.transfer": transfer },
    keys: (id) => {
      const k = keys.get(id) ?? generateAgentKeyPair();
      keys.set(id, k);
      return k;
    },
  });
  try {
    const { swarm } = t;
    swarm.agent({ id: "architect", role: "lead" });
    const ran: unknown[] = [];
    swarm.agent({ id: "ops-1", role: "ops" }).handle("funds.transfer", (ctx) => {
      ran.push(ctx.body);
      return { ok: true };
    });
    await swarm.start();
    const data = { to: "dev", amount: 300 };
    const approved = await swarm.propose("funds.transfer", data, { as: "architect" });
    assert.equal(approved.outcome, "approved");

    const request = createSignedEnvelope(
      {
        type: "task.funds.transfer",
        from: "architect",
        body: data,
        headers: { "conclave-approval": approved.seal },
      },
      (keys.get("architect") as { privateKey: import("node:crypto").KeyObject }).privateKey,
    );
    const bytes = encodeEnvelope(request);
    const subject = "test.agent.ops-1.request";
    const first = await swarm.transport.request(subject, bytes, { timeoutMs: 3000 });
    assert.match(Buffer.from(first.data).toString(), /reply\.ok/);
    assert.equal(ran.length, 1);
    // The same bytes again: the first run's result, no second run.
    const again = await swarm.transport.request(subject, bytes, { timeoutMs: 3000 });
    assert.equal(decodeEnvelope(again.data).type, "reply.ok");
    assert.deepEqual(decodeEnvelope(again.data).body, { ok: true });
    await sleep(100);
    assert.equal(ran.length, 1, "the approved transfer ran once on one approval");
  } finally {
    await t.cleanup();
  }
});
