/**
 * Swarm-file mistakes in roles and pools that used to be accepted silently:
 * a task listed twice in a role, and a pool whose targetTasksPerWorker is
 * above what its workers hold at once (so it would grow only after a queue
 * formed, and shrink as soon as it drained).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { checkPools } from "../../src/config/pools.js";
import { issueAt, issuesOf } from "../config/helpers.js";

const BASE = `swarm: demo
roles:
  lead: {}
  worker:
    tasks: [work]
agents:
  - { id: lead, role: lead }
  - { id: w-1, role: worker, concurrency: 1 }
`;

describe("roles: a task listed twice", () => {
  test("is refused at the duplicate, saying to list it once", () => {
    const issue = issueAt(
      issuesOf(BASE.replace("tasks: [work]", "tasks: [work, report, work]")),
      "roles.worker.tasks.2",
    );
    assert.match(
      issue.message,
      /task "work" is listed twice in role "worker"; list each task once/,
    );
  });

  test("distinct tasks are fine", () => {
    const config = parseSwarmConfig(BASE.replace("tasks: [work]", "tasks: [work, report]"), {
      env: {},
    });
    assert.deepEqual(config.roles["worker"]?.tasks, ["work", "report"]);
  });
});

describe("pools: targetTasksPerWorker against the workers' concurrency", () => {
  test("above the template's own concurrency: refused, saying what to set", () => {
    const issue = issueAt(
      issuesOf(`${BASE}pools:\n  worker: { max: 3, targetTasksPerWorker: 5 }\n`),
      "pools.worker.targetTasksPerWorker",
    );
    assert.match(issue.message, /5 is above the workers' concurrency \(1, from agent "w-1"\)/);
    assert.match(issue.message, /set it at most 1/);
  });

  test("above the role's concurrency when the template sets none: refused", () => {
    const text = BASE.replace("tasks: [work]", "tasks: [work]\n    concurrency: 2").replace(
      "{ id: w-1, role: worker, concurrency: 1 }",
      "{ id: w-1, role: worker }",
    );
    const issue = issueAt(
      issuesOf(`${text}pools:\n  worker: { max: 3, targetTasksPerWorker: 3 }\n`),
      "pools.worker.targetTasksPerWorker",
    );
    assert.match(issue.message, /3 is above the workers' concurrency \(2, from role "worker"\)/);
  });

  test("at or below the concurrency: accepted", () => {
    const config = parseSwarmConfig(
      `${BASE}pools:\n  worker: { max: 3, targetTasksPerWorker: 0.8 }\n`,
      { env: {} },
    );
    assert.equal(config.pools["worker"]?.targetTasksPerWorker, 0.8);
    const atLimit = parseSwarmConfig(
      `${BASE}pools:\n  worker: { max: 3, targetTasksPerWorker: 1 }\n`,
      { env: {} },
    );
    assert.equal(atLimit.pools["worker"]?.targetTasksPerWorker, 1);
  });

  test("the defaults' concurrency counts when given and nothing closer is set", () => {
    const issues: { path: (string | number)[]; message: string }[] = [];
    const agents = [{ id: "w-1", role: "worker" }];
    const roles = { worker: { tasks: ["work"] } };
    const pools = { worker: { max: 3, targetTasksPerWorker: 6 } };
    checkPools(pools, agents, roles, {}, (i) => issues.push(i), { defaults: { concurrency: 8 } });
    assert.equal(issues.length, 0, JSON.stringify(issues));
    checkPools(pools, agents, roles, {}, (i) => issues.push(i), { defaults: {} });
    assert.equal(issues.length, 1);
    assert.deepEqual(issues[0]?.path, ["pools", "worker", "targetTasksPerWorker"]);
    assert.match(issues[0]?.message ?? "", /\(4, from defaults\)/);
  });
});
