/**
 * `propose({ key })` run again while the round an earlier call under that
 * key started is still open must wait for that round's decision: one
 * request, one sealed decision. The retry waited only as long as its *own*
 * `deadlineMs` allowed (plus grace), so a retry with a shorter deadline than
 * the open round's (a changed `deadlineMs` after a restart) gave up on it,
 * started a second round and got a second sealed decision for the key.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DECISION_KIND } from "../../src/consensus/audit-verify.js";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";
import { readAuditLog } from "../../src/runtime/consensus/audit-log.js";
import { createTestSwarm } from "../../src/testkit/index.js";

test("a retry with a shorter deadline waits for the open round under its key", async () => {
  const alice = generateAgentKeyPair();
  const t = createTestSwarm({
    roles: { lead: {}, ops: { tasks: ["funds.transfer"] } },
    privileged: {
      "funds.transfer": {
        protocol: "quorum",
        threshold: { weight: 2 },
        voters: ["lead"],
        // Alice never votes: the round stays open until its deadline.
        humans: [{ id: "alice", weight: 1, publicKey: encodePublicKey(alice.publicKey) }],
      },
    },
  });
  try {
    t.swarm.agent({ id: "architect", role: "lead", weight: 1 });
    await t.swarm.start();
    const key = "task-9:architect:1";
    const data = { to: "dev-1", amount: 300 };
    const first = t.swarm.propose("funds.transfer", data, {
      as: "architect",
      key,
      deadlineMs: 3500,
    });
    // The same request again, with the shortest deadline allowed.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const retry = t.swarm.propose("funds.transfer", data, { as: "architect", key, deadlineMs: 10 });
    const [a, b] = await Promise.all([first, retry]);
    assert.equal(b.proposal.id, a.proposal.id, "the retry gets the open round's decision");
    assert.equal(b.seal, a.seal);
    const sealed = (await readAuditLog(t.swarm.store)).filter((r) => r.kind === DECISION_KIND);
    assert.equal(sealed.length, 1, "one request, one sealed decision");
  } finally {
    await t.cleanup();
  }
});
