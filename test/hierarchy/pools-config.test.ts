/**
 * The swarm file's `pools:` section: validated with messages that say what
 * to change, defaults applied, and run by openSwarm in the process hosting
 * the template (workers copied from it, declared for admission, with keys
 * of their own under keysDir).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import { issueAt, issuesOf } from "../config/helpers.js";
import { until } from "../helpers/until.js";

const BASE = `swarm: demo
roles:
  lead: {}
  worker:
    tasks: [work]
agents:
  - { id: lead, role: lead }
  - { id: w-1, role: worker, weight: 2, concurrency: 1 }
`;

describe("pools: in the swarm file", () => {
  test("defaults: the role's first agent is the template, min 1, a second between looks", () => {
    const config = parseSwarmConfig(`${BASE}pools:\n  worker: { max: 3 }\n`, { env: {} });
    assert.deepEqual(config.pools["worker"], {
      template: "w-1",
      min: 1,
      max: 3,
      targetTasksPerWorker: 1,
      scaleUpCooldownMs: 10_000,
      scaleDownCooldownMs: 60_000,
      hysteresis: 0.2,
      intervalMs: 1_000,
    });
    assert.deepEqual(parseSwarmConfig(BASE, { env: {} }).pools, {});
  });

  test("mistakes are reported where they are, saying what to do", () => {
    assert.match(
      issueAt(issuesOf(`${BASE}pools:\n  wroker: { max: 3 }\n`), "pools.wroker").message,
      /no role "wroker" is defined \(did you mean "worker"\?\)/,
    );
    assert.match(
      issueAt(
        issuesOf(`${BASE}pools:\n  worker: { max: 3, template: w-2 }\n`),
        "pools.worker.template",
      ).message,
      /no agent "w-2" is declared \(did you mean "w-1"\?\)/,
    );
    assert.match(
      issueAt(
        issuesOf(`${BASE}pools:\n  worker: { max: 3, template: lead }\n`),
        "pools.worker.template",
      ).message,
      /has role "lead", not "worker"/,
    );
    assert.match(
      issueAt(issuesOf(`${BASE}pools:\n  worker: { min: 4, max: 3 }\n`), "pools.worker.max")
        .message,
      /must be at least min \(4\)/,
    );
    assert.match(
      issueAt(
        issuesOf(`${BASE}pools:\n  lead: { max: 2 }\n  worker: { max: 2, hysteresis: 1 }\n`),
        "pools.worker.hysteresis",
      ).message,
      /expected a number from 0 to below 1/,
    );
    assert.match(
      issueAt(
        issuesOf(`${BASE}  - { id: w-1-p2, role: worker }\npools:\n  worker: { max: 2 }\n`),
        "pools.worker",
      ).message,
      /worker slot "w-1-p2" is already a declared agent's id/,
    );
    // A team has one lead: a pooled copy of it could not delegate to the team.
    assert.match(
      issueAt(
        issuesOf(
          `${BASE}  - { id: w-2, role: worker }\nteams:\n  crew: { lead: lead, members: [w-1, w-2] }\npools:\n  lead: { max: 2 }\n`,
        ),
        "pools.lead.template",
      ).message,
      /agent "lead" leads team "crew", and a team has one lead/,
    );
  });

  test("openSwarm scales the pool: workers copy the template, get keys of their own, and are admitted", async () => {
    const dir = mkdtempSync(join(tmpdir(), "conclave-pools-"));
    try {
      const config = parseSwarmConfig(
        `${BASE}keysDir: ./keys\ndataDir: ./data\npools:\n  worker: { min: 1, max: 3, intervalMs: 20, scaleUpCooldownMs: 0, scaleDownCooldownMs: 100 }\n`,
        { baseDir: dir, env: {} },
      );
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const setUp: string[] = [];
      const swarm = await openSwarm(config, {
        module: {
          async setup(agent) {
            setUp.push(agent.id);
            // An asynchronous setup: the worker must not start before its handler is registered.
            await new Promise((resolve) => setImmediate(resolve));
            agent.handle<{ n: number }>("work", async (ctx) => {
              await gate;
              ctx.effect("worked", `${ctx.body.n}`);
            });
          },
        },
      });
      const refused: string[] = [];
      swarm.on((e) => {
        if (e.type === "agent.refused") refused.push(e.agent);
      });
      try {
        await swarm.start();
        for (let n = 0; n < 6; n++) await swarm.submit("worker", "work", { n }, { as: "lead" });
        await until(
          () => swarm.agents.filter((a) => a.role === "worker" && a.inFlight > 0).length === 3,
          10_000,
          "three busy workers",
        );
        const workers = swarm.agents.filter((a) => a.role === "worker");
        assert.deepEqual(workers.map((a) => a.id).sort(), ["w-1", "w-1-p1", "w-1-p2"]);
        assert.ok(
          workers.every((a) => a.card.weight === 2),
          "workers copy the template",
        );
        assert.ok(setUp.includes("w-1-p1") && setUp.includes("w-1-p2"), "the module set them up");
        assert.ok(existsSync(join(dir, "keys", "w-1-p1.key")), "a key of its own under keysDir");
        assert.notEqual(workers[1]?.card.publicKey, workers[0]?.card.publicKey);
        release();
        await until(
          async () => (await swarm.store.effectStats("worked")).keys === 6,
          10_000,
          "six tasks done",
        );
        await until(
          () => swarm.agents.filter((a) => a.role === "worker").length === 1,
          10_000,
          "the pool back to min",
        );
        // The workers' heartbeats were heard and admitted as declared slots.
        assert.deepEqual(refused, []);
      } finally {
        await swarm.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
