/**
 * An agent the dashboard's node has not heard from yet (hosted elsewhere,
 * not started, or silent) shows the status its ledger balance gives it: one
 * below its minimum balance is halted. It showed `active` whatever its
 * balance (`conclave top` too).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { type DashboardServer, serveDashboard } from "../../src/dashboard/server.js";
import { agentAccount, operations } from "../../src/ledger/index.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";

const TOKEN = "unheard-halted-token-0123456789";
const work = mkdtempSync(join(tmpdir(), "conclave-unheard-halted-"));
let swarm: Swarm | undefined;
let dashboard: DashboardServer | undefined;
after(async () => {
  await dashboard?.close();
  await swarm?.close();
  rmSync(work, { recursive: true, force: true });
});

test("an unheard agent below its minimum balance shows halted; one above shows active", async () => {
  const config = parseSwarmConfig(
    `swarm: unheard
roles: { lead: {}, dev: { tasks: [code] } }
agents:
  - { id: lead, role: lead }
  - { id: dev-1, role: dev, budget: { initial: 500, minBalance: 100 } }
  - { id: dev-2, role: dev, budget: { initial: 500, minBalance: 100 } }
`,
    { baseDir: work },
  );
  swarm = await openSwarm(config, { agents: ["lead"], module: { setup() {} } });
  await swarm.start();
  // What dev-1 and dev-2 left in the ledger when they ran elsewhere.
  await swarm.store.applyLedgerOperation(operations.mint("m1", agentAccount("dev-1"), 80, 1));
  await swarm.store.applyLedgerOperation(operations.mint("m2", agentAccount("dev-2"), 300, 1));
  dashboard = await serveDashboard(swarm, config, { token: TOKEN, port: 0 });
  const response = await fetch(`${dashboard.url}/api/agents`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  const rows = (await response.json()) as { id: string; status: string; liveness: string }[];
  const of = (id: string) => rows.find((r) => r.id === id);
  assert.equal(of("dev-1")?.liveness, "declared");
  assert.equal(of("dev-1")?.status, "halted");
  assert.equal(of("dev-2")?.status, "active");
});
