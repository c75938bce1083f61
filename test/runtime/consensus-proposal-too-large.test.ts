/**
 * A proposal too large for the bus is refused with `EnvelopeTooLargeError`
 * and leaves nothing behind. The engine registered the round before it
 * published the proposal; when publishing threw, `propose` failed but the
 * round stayed among the open ones, unscheduled: the next tick of any other
 * round closed it at its deadline and sealed a `no-quorum` decision into the
 * audit log, for a proposal no voter ever saw.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DECISION_KIND } from "../../src/consensus/audit-verify.js";
import { EnvelopeTooLargeError } from "../../src/errors/index.js";
import { readAuditLog } from "../../src/runtime/consensus/audit-log.js";
import { createTestSwarm } from "../../src/testkit/index.js";

test("a proposal too large to publish is refused, and no decision is ever sealed for it", async () => {
  const t = createTestSwarm({
    roles: { lead: {}, ops: { tasks: ["funds.transfer"] } },
    maxEnvelopeBytes: 8192,
    privileged: {
      "funds.transfer": {
        protocol: "quorum",
        threshold: { weight: 2 },
        voters: ["lead"],
        deadlineMs: 200,
      },
    },
  });
  t.swarm.agent({ id: "lead-1", role: "lead", weight: 1 });
  // Silent: keeps the second round open past the first one's deadline.
  t.swarm.agent({ id: "lead-2", role: "lead", weight: 1 }).vote(() => null);
  try {
    await t.swarm.start();
    await assert.rejects(
      t.swarm.propose("funds.transfer", { memo: "x".repeat(10_000) }, { as: "lead-1" }),
      EnvelopeTooLargeError,
    );
    const second = await t.swarm.propose(
      "funds.transfer",
      { amount: 1 },
      { as: "lead-1", deadlineMs: 1000 },
    );
    assert.equal(second.outcome, "no-quorum");
    const decisions = (await readAuditLog(t.swarm.store)).filter((r) => r.kind === DECISION_KIND);
    assert.deepEqual(
      decisions.map((r) => (r.data as { proposal: { id: string } }).proposal.id),
      [second.proposal.id],
      "only the round that was proposed is sealed",
    );
  } finally {
    await t.cleanup();
  }
});
