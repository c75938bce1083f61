/**
 * `GET /api/decisions` shows each vote with its voter's weight in that
 * decision: a person's vote weighs what the action's rule gives them
 * (`{ human: alice, weight: 2 }`). It used to show 1 for every person
 * (only agents' weights were looked up), so the votes listed did not add up
 * to the tally beside them. An agent's weight is likewise the one its
 * round counted (the proposal's rule), not the swarm file's: an agent
 * admitted by credential is in no file's list, and showed 1.
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
import { signEnvelope } from "../../src/wire/signature.js";
import { until } from "../helpers/until.js";

const TOKEN = "vote-weights-token-0123456789";
const work = mkdtempSync(join(tmpdir(), "conclave-vote-weights-"));
const alice = generateAgentKeyPair();

describe("the dashboard's decisions", () => {
  let swarm: Swarm;
  let dashboard: DashboardServer;
  let config: ReturnType<typeof parseSwarmConfig>;

  before(async () => {
    config = parseSwarmConfig(
      `swarm: weights
roles: { lead: {}, ops: { tasks: [deploy.production] } }
agents:
  - { id: lead, role: lead, weight: 2 }
  - { id: ops-1, role: ops }
humans:
  alice: { publicKey: ${encodePublicKey(alice.publicKey)} }
privileged:
  deploy.production:
    threshold: { weight: 3 }
    voters: [lead, { human: alice, weight: 2 }]
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
    const decided = swarm.propose("deploy.production", { version: "3.0.0" }, { as: "lead" });
    await until(async () => swarm.awaitingHumans().length === 1, 10_000, "a waiting proposal");
    const proposal = swarm.awaitingHumans()[0]?.proposal.id ?? "";
    const { envelope } = swarm.humanBallot(proposal, "alice", "approve");
    swarm.castHumanVote(proposal, signEnvelope(envelope, alice.privateKey));
    assert.equal((await decided).outcome, "approved");
    dashboard = await serveDashboard(swarm, config, { token: TOKEN, port: 0 });
  });

  after(async () => {
    await dashboard?.close();
    await swarm?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("a person's vote shows the weight the rule gives them, and the votes add up to the tally", async () => {
    const response = await fetch(`${dashboard.url}/api/decisions`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const [row] = (await response.json()) as {
      votes: { from: string; choice: string; weight: number }[];
      tally: { approve: number };
    }[];
    assert.ok(row);
    const weight = (from: string) => row.votes.find((v) => v.from === from)?.weight;
    assert.equal(weight("alice"), 2, JSON.stringify(row.votes));
    assert.equal(weight("lead"), 2);
    const approving = row.votes.filter((v) => v.choice === "approve");
    assert.equal(
      approving.reduce((sum, v) => sum + v.weight, 0),
      row.tally.approve,
      "the approving votes add up to the tally",
    );
  });

  test("an agent's vote shows the weight its round counted, not the swarm file's", async () => {
    // Served with a file that does not give lead its weight (as for an
    // agent admitted by credential, which no file lists).
    const agents = config.agents.map((a) => (a.id === "lead" ? { ...a, weight: 1 } : a));
    const other = await serveDashboard(swarm, { ...config, agents }, { token: TOKEN, port: 0 });
    try {
      const response = await fetch(`${other.url}/api/decisions`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      const [row] = (await response.json()) as { votes: { from: string; weight: number }[] }[];
      assert.equal(
        row?.votes.find((v) => v.from === "lead")?.weight,
        2,
        JSON.stringify(row?.votes),
      );
    } finally {
      await other.close();
    }
  });
});
