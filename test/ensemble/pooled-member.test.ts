/**
 * An ensemble member's role cannot be pooled: a member is asked through its
 * role and must be its only agent. The swarm file check refuses such a pool
 * (saying which member, which pool, and what to do instead), and the
 * runtime, given one anyway (a SwarmFile built without the check), never
 * makes another agent of a member's role coordinate the ensemble: the
 * workers answer as the member, so each ticket is decided once and the
 * model is asked once per member per ticket.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { parseSwarmConfig } from "../../src/config/load.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import { issueAt, issuesOf } from "../config/helpers.js";
import { answer, startOpenAiServer } from "../helpers/openai-server.js";
import { until } from "../helpers/until.js";

const ROLES = `roles:
  lead: {}
  triage: { tasks: [classify.ticket] }
  clf-a: { tasks: [classify.ticket] }
  clf-b: { tasks: [classify.ticket] }
`;

test("a pool on an ensemble member's role is refused, saying which member and what to do", () => {
  const text = `swarm: tickets
${ROLES}agents:
  - { id: lead, role: lead }
  - { id: triage-1, role: triage }
  - { id: small-1, role: clf-a }
  - { id: small-2, role: clf-b }
pools:
  clf-a: { max: 3 }
  triage: { max: 3 }
ensembles:
  classify.ticket: { members: [small-1, small-2] }
`;
  const issues = issuesOf(text);
  const issue = issueAt(issues, "pools.clf-a");
  assert.match(issue.message, /role "clf-a" is the role of small-1/);
  assert.match(issue.message, /ensemble "classify\.ticket"/);
  assert.match(issue.message, /drop pools\.clf-a, or pool the role that coordinates/);
  // Pooling the coordinating role is fine.
  assert.equal(issues.filter((i) => i.path === "pools.triage").length, 0, JSON.stringify(issues));
});

test("the workers of a pooled member answer as the member and never coordinate", async () => {
  const server = await startOpenAiServer({ responder: () => answer("billing") });
  const dir = mkdtempSync(join(tmpdir(), "ens-pooled-member-"));
  try {
    writeFileSync(join(dir, "m.md"), "Answer billing or tech.");
    const text = `swarm: tickets
keysDir: ./keys
dataDir: ./data
defaults: { ackWaitMs: 10000, maxDeliver: 3, backoff: { baseMs: 10, maxMs: 50 } }
models:
  small: { provider: openai-compatible, baseURL: "${server.url}", model: small-model }
prices:
  models:
    small-model: { input: 0, output: 0 }
${ROLES}agents:
  - { id: lead, role: lead }
  - { id: triage-1, role: triage }
  - { id: small-1, role: clf-a, llm: { model: small, instructions: ${join(dir, "m.md")} } }
  - { id: small-2, role: clf-b, llm: { model: small, instructions: ${join(dir, "m.md")} } }
ensembles:
  classify.ticket: { members: [small-1, small-2], weights: equal }
`;
    const parsed = parseSwarmConfig(text, { baseDir: dir, env: {} });
    // The check refuses this pool; a SwarmFile built in code can still carry one.
    const config = {
      ...parsed,
      pools: {
        "clf-a": {
          template: "small-1",
          min: 3,
          max: 3,
          targetTasksPerWorker: 1,
          scaleUpCooldownMs: 0,
          scaleDownCooldownMs: 60_000,
          hysteresis: 0.2,
          intervalMs: 20,
        },
      },
    };
    const swarm = await openSwarm(config, { module: { setup() {} } });
    try {
      await swarm.start();
      await until(
        async () => swarm.agents.filter((a) => a.role === "clf-a").length === 3,
        5_000,
        "the pool's workers",
      );
      for (let n = 0; n < 6; n++) {
        await swarm.submit("triage", "classify.ticket", { text: `t${n}` }, { as: "lead" });
      }
      await until(
        async () => (await swarm.store.effects("ensemble.decided")).length >= 6,
        10_000,
        "six decisions",
      );
      await sleep(300);
      assert.equal((await swarm.store.effects("ensemble.decided")).length, 6);
      assert.equal(server.requests.length, 12, "two members asked per ticket, nothing more");
    } finally {
      await swarm.close();
    }
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
