/**
 * The swarm file's `slots:` section: checked, and run by openSwarm (the
 * best agent of a staffed role holds its slot, the others wait on standby).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import { issueAt, issuesOf } from "../config/helpers.js";

const BASE = `swarm: demo
roles:
  reviewer:
    tasks: [review]
agents:
  - { id: rev-1, role: reviewer, capabilities: [review] }
  - { id: rev-2, role: reviewer, capabilities: [review, security] }
`;

describe("slots: in the swarm file", () => {
  test("a role that does not exist is reported, with the likely one", () => {
    assert.match(
      issueAt(
        issuesOf(`${BASE}slots:\n  roles:\n    reveiwer: { slots: 1 }\n`),
        "slots.roles.reveiwer",
      ).message,
      /no role "reveiwer" is defined \(did you mean "reviewer"\?\)/,
    );
  });

  test("openSwarm staffs the role: the best agent holds the slot, the other waits", async () => {
    const dir = mkdtempSync(join(tmpdir(), "conclave-slots-"));
    try {
      const config = parseSwarmConfig(
        `${BASE}dataDir: ./data\nkeysDir: ./keys\nslots:\n  reputationFloor: 0.3\n  roles:\n    reviewer: { slots: 1, requires: [review], prefers: [security] }\n`,
        { baseDir: dir, env: {} },
      );
      assert.deepEqual(config.slots, {
        reputationFloor: 0.3,
        intervalMs: 5_000,
        roles: { reviewer: { slots: 1, requires: ["review"], prefers: ["security"] } },
      });
      const swarm = await openSwarm(config, {
        module: { setup: (agent) => void agent.handle("review", () => {}) },
      });
      try {
        await swarm.start();
        const paused = Object.fromEntries(swarm.agents.map((a) => [a.id, a.paused]));
        assert.deepEqual(paused, { "rev-1": true, "rev-2": false });
      } finally {
        await swarm.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
