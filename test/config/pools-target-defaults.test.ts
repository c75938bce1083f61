/**
 * A pool whose template inherits its concurrency from the swarm file's
 * defaults (or from the built-in default, 4, when the file sets none) is
 * checked like one that sets it: the file's checks did not pass the defaults
 * on, so `targetTasksPerWorker` above the inherited concurrency was accepted.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { issueAt, issuesOf } from "./helpers.js";

const FILE = `swarm: demo
roles:
  lead: {}
  worker:
    tasks: [work]
agents:
  - { id: lead, role: lead }
  - { id: w-1, role: worker }
pools:
  worker: { max: 3, targetTasksPerWorker: 6 }
`;

test("targetTasksPerWorker above the defaults' concurrency is refused", () => {
  const issue = issueAt(issuesOf(FILE), "pools.worker.targetTasksPerWorker");
  assert.match(issue.message, /6 is above the workers' concurrency \(4, from defaults\)/);
  const withDefaults = `${FILE}defaults:\n  concurrency: 2\n`;
  assert.match(
    issueAt(issuesOf(withDefaults), "pools.worker.targetTasksPerWorker").message,
    /\(2, from defaults\)/,
  );
  const accepted = parseSwarmConfig(`${FILE}defaults:\n  concurrency: 8\n`, { env: {} });
  assert.equal(accepted.pools?.["worker"]?.targetTasksPerWorker, 6);
});
