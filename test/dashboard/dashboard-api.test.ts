/**
 * The dashboard's JSON API without a browser: verifying a sealed decision
 * answers the verdict, and a seq that holds no decision (past the end of the
 * audit log, or an entry of another kind) is 404 E_NOT_FOUND, not "ok".
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { type DashboardServer, serveDashboard } from "../../src/dashboard/server.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";

const TOKEN = "dashboard-api-token-0123456789";
const work = mkdtempSync(join(tmpdir(), "conclave-dashboard-api-"));

describe("the dashboard API", () => {
  let swarm: Swarm;
  let dashboard: DashboardServer;
  let decided: number;

  before(async () => {
    const config = parseSwarmConfig(
      `swarm: api
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
    const decision = await swarm.propose("funds.transfer", { amount: 1 }, { as: "lead" });
    assert.equal(decision.outcome, "approved");
    dashboard = await serveDashboard(swarm, config, { token: TOKEN, port: 0 });
    const rows = (await (await get("/api/decisions")).json()) as { seq: number }[];
    assert.equal(rows.length, 1);
    decided = rows[0]?.seq ?? 0;
  });

  after(async () => {
    await dashboard?.close();
    await swarm?.close();
    rmSync(work, { recursive: true, force: true });
  });

  const get = (path: string) =>
    fetch(`${dashboard.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const verify = (seq: number) =>
    fetch(`${dashboard.url}/api/decisions/${seq}/verify`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });

  test("verifying a sealed decision answers ok", async () => {
    const response = await verify(decided);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { ok: boolean; seq: number };
    assert.equal(body.ok, true, JSON.stringify(body));
    assert.equal(body.seq, decided);
  });

  test("a seq past the end of the audit log is 404 E_NOT_FOUND", async () => {
    const response = await verify(decided + 1000);
    assert.equal(response.status, 404);
    const body = (await response.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, "E_NOT_FOUND");
    assert.match(body.error.message, new RegExp(`no decision at audit seq ${decided + 1000}`));
  });

  test("a seq of an audit entry that is not a decision is 404 too", async () => {
    const note = await swarm.store.appendAudit({ kind: "test.note", data: { n: 1 } });
    assert.equal((await verify(note.seq)).status, 404);
  });
});
