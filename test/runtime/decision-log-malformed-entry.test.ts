/**
 * An audit entry of the decision kind whose data is not a decision's shape
 * (a store written by hand, a Byzantine coordinator's) made the node's
 * decision log throw a TypeError as it read the log: every later proposal
 * of that node failed. Such an entry is skipped by the log's lookups (the
 * audit verifier names it as the first bad entry); proposals go on.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { DECISION_KIND } from "../../src/consensus/audit-verify.js";
import { openSwarm } from "../../src/runtime/from-config.js";

test("a malformed decision entry in the audit log does not stop the node proposing", async () => {
  const work = mkdtempSync(join(tmpdir(), "conclave-decision-log-malformed-"));
  const config = parseSwarmConfig(
    `swarm: malformedlog
roles: { lead: {}, ops: { tasks: [funds.transfer] } }
agents:
  - { id: lead, role: lead, weight: 2 }
  - { id: ops-1, role: ops }
privileged:
  funds.transfer: { protocol: quorum, threshold: { weight: 2 }, voters: [lead] }
`,
    { baseDir: work },
  );
  const swarm = await openSwarm(config, {
    module: {
      setup(agent) {
        agent.handle("funds.transfer", async () => ({ sent: true }));
      },
    },
  });
  try {
    await swarm.start();
    const first = await swarm.propose("funds.transfer", { amount: 1 }, { as: "lead" });
    assert.equal(first.outcome, "approved");
    for (const data of [42, null, { proposal: null, seal: 7 }]) {
      await swarm.store.appendAudit({ kind: DECISION_KIND, data });
    }
    const second = await swarm.propose("funds.transfer", { amount: 2 }, { as: "lead" });
    assert.equal(second.outcome, "approved");
    const done = await swarm.submitAndWait(
      "ops",
      "funds.transfer",
      { amount: 2 },
      { as: "lead", approval: second.seal, timeoutMs: 10_000 },
    );
    assert.deepEqual(done, { sent: true });
  } finally {
    await swarm.close();
    rmSync(work, { recursive: true, force: true });
  }
});
