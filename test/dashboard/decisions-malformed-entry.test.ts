/**
 * `/api/decisions` lists the audit log's decisions as stored, before anyone
 * verified them. One entry of the decision kind whose data is not a
 * decision's shape (a Byzantine coordinator's, or a store written by hand)
 * made the whole route answer 500, so the Consensus tab showed nothing at
 * all — not even the entry's seq to press Verify on. Such an entry is now
 * listed with what it holds, and every sealed decision beside it as before.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { DECISION_KIND } from "../../src/consensus/audit-verify.js";
import { type DashboardServer, serveDashboard } from "../../src/dashboard/server.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";

const TOKEN = "decisions-malformed-token";
const work = mkdtempSync(join(tmpdir(), "conclave-dashboard-malformed-"));
let swarm: Swarm;
let dashboard: DashboardServer;
const forged: number[] = [];

before(async () => {
  const config = parseSwarmConfig(
    `swarm: malformed
roles: { lead: {}, ops: { tasks: [funds.transfer] } }
agents:
  - { id: lead, role: lead, weight: 2 }
  - { id: ops-1, role: ops }
privileged:
  funds.transfer: { protocol: quorum, threshold: { weight: 2 }, voters: [lead] }
`,
    { baseDir: work },
  );
  swarm = await openSwarm(config, {
    module: {
      setup(agent) {
        agent.handle("funds.transfer", async () => ({ sent: true }));
      },
    },
  });
  await swarm.start();
  await swarm.propose("funds.transfer", { amount: 1 }, { as: "lead" });
  await swarm.propose("funds.transfer", { amount: 2 }, { as: "lead" });
  // Appended last: this node's next proposal would read them too (not this test's concern).
  for (const data of [42, { proposal: null, votes: "none", evidence: 3 }]) {
    forged.push((await swarm.store.appendAudit({ kind: DECISION_KIND, data })).seq);
  }
  dashboard = await serveDashboard(swarm, config, { token: TOKEN, port: 0 });
});

after(async () => {
  await dashboard?.close();
  await swarm?.close();
  rmSync(work, { recursive: true, force: true });
});

test("a malformed decision entry is listed, and the sealed ones beside it too", async () => {
  const response = await fetch(`${dashboard.url}/api/decisions`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  const body = await response.text();
  assert.equal(response.status, 200, body);
  const rows = JSON.parse(body) as {
    seq: number;
    action: string;
    outcome: string;
    votes: unknown[];
  }[];
  assert.equal(rows.length, 4);
  const sealed = rows.filter((r) => !forged.includes(r.seq));
  assert.deepEqual(
    sealed.map((r) => [r.action, r.outcome, r.votes.length]),
    [
      ["funds.transfer", "approved", 1],
      ["funds.transfer", "approved", 1],
    ],
  );
  for (const seq of forged) {
    const row = rows.find((r) => r.seq === seq);
    assert.ok(row, `the entry at seq ${seq} is listed`);
    assert.deepEqual(row.votes, []);
  }
  // Verify names the first bad entry, as for any broken log.
  const verdict = (await (
    await fetch(`${dashboard.url}/api/decisions/${Math.max(...forged)}/verify`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    })
  ).json()) as { ok: boolean; seq: number };
  assert.equal(verdict.ok, false);
  assert.equal(verdict.seq, Math.min(...forged));
});
