/**
 * `POST /api/approvals/:id/ballot` prepares the vote a person then signs. A
 * choice that is neither `approve` nor `reject` (a typo such as `Reject`, or
 * none at all) is refused with 400 E_INVALID_REQUEST; it used to become an
 * approve ballot, ready to be signed.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { type DashboardServer, serveDashboard } from "../../src/dashboard/server.js";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";
import { until } from "../helpers/until.js";

const TOKEN = "ballot-choice-token-0123456789";
const work = mkdtempSync(join(tmpdir(), "conclave-ballot-choice-"));
const alice = generateAgentKeyPair();

describe("the dashboard's ballot route", () => {
  let swarm: Swarm;
  let dashboard: DashboardServer;
  let proposal: string;

  before(async () => {
    const config = parseSwarmConfig(
      `swarm: ballot
roles: { lead: {}, ops: { tasks: [deploy.production] } }
agents:
  - { id: lead, role: lead }
  - { id: ops-1, role: ops }
humans:
  alice: { publicKey: ${encodePublicKey(alice.publicKey)} }
privileged:
  deploy.production:
    threshold: { weight: 2 }
    voters: [lead, { human: alice, weight: 1 }]
    deadlineMs: 60000
`,
      { baseDir: work },
    );
    swarm = await openSwarm(config, {
      module: {
        setup(agent) {
          agent.handle("deploy.production", async () => ({ deployed: true }));
        },
      },
    });
    await swarm.start();
    void swarm
      .propose("deploy.production", { version: "2.0.0" }, { as: "lead" })
      .catch(() => undefined);
    await until(async () => swarm.awaitingHumans().length === 1, 10_000, "a waiting proposal");
    proposal = swarm.awaitingHumans()[0]?.proposal.id ?? "";
    dashboard = await serveDashboard(swarm, config, { token: TOKEN, port: 0 });
  });

  after(async () => {
    await dashboard?.close();
    await swarm?.close();
    rmSync(work, { recursive: true, force: true });
  });

  const ballot = (body: unknown) =>
    fetch(`${dashboard.url}/api/approvals/${proposal}/ballot`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  for (const [what, body] of [
    ["a choice spelled otherwise (Reject)", { human: "alice", choice: "Reject" }],
    ["no choice", { human: "alice" }],
    ["a choice that is not a string", { human: "alice", choice: true }],
  ] as const) {
    test(`${what} is refused with 400 E_INVALID_REQUEST, not made an approve ballot`, async () => {
      const response = await ballot(body);
      const answer = (await response.json()) as {
        error?: { code: string; message: string };
        envelope?: { body?: { choice?: string } };
      };
      assert.equal(response.status, 400, JSON.stringify(answer));
      assert.equal(answer.error?.code, "E_INVALID_REQUEST");
      assert.match(answer.error?.message ?? "", /approve.*reject/);
    });
  }

  test("approve and reject are prepared as asked", async () => {
    for (const choice of ["approve", "reject"]) {
      const response = await ballot({ human: "alice", choice });
      assert.equal(response.status, 200);
      const answer = (await response.json()) as { envelope: { body: { choice: string } } };
      assert.equal(answer.envelope.body.choice, choice);
    }
  });
});
