/**
 * The swarm's handlers and voter policy, tested on an embedded swarm in a
 * temporary folder (conclave/testkit): no broker, no network.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  compilePolicy,
  evaluatePolicy,
  loadSwarmConfig,
  type Proposal,
  parsePolicyYaml,
} from "conclave";
import { createTestSwarm } from "conclave/testkit";
import { type Greeted, setup } from "../agents.ts";

const swarmFile = fileURLToPath(new URL("../swarm.yaml", import.meta.url));

test("a worker greets, and the greeting finishes the root task", async () => {
  const config = await loadSwarmConfig(swarmFile);
  const { swarm, cleanup } = createTestSwarm({
    roles: { lead: {}, worker: { tasks: ["greet"] } },
  });
  try {
    // The lead hands out no work here (workload.tasks: 0): the test submits it.
    for (const id of ["lead", "worker-1"]) {
      const spec = config.agents.find((a) => a.id === id);
      assert.ok(spec, `${id} is in swarm.yaml`);
      await setup(swarm.agent({ id, role: spec.role }), { config, workload: { tasks: 0 } });
    }
    await swarm.start();
    const greeted = await swarm.submitAndWait<Greeted>(
      "worker",
      "greet",
      { name: "test" },
      { as: "lead", timeoutMs: 10_000 },
    );
    assert.deepEqual(greeted, { text: "hello, test" });
  } finally {
    await cleanup();
  }
});

test("the worker's policy rejects a long greeting, with the reason", async () => {
  const policy = compilePolicy(
    parsePolicyYaml(await readFile(new URL("../policies/worker.yaml", import.meta.url), "utf8")),
  );
  const proposal = (text: string): Proposal => ({
    id: "01J00000000000000000000000",
    action: "greeting.publish",
    data: { text },
    proposer: "worker-1",
    ts: 0,
    deadline: 1_000,
    protocol: "quorum",
  });
  assert.equal(evaluatePolicy(policy, proposal("hello")).choice, "approve");
  const long = evaluatePolicy(policy, proposal("x".repeat(81)));
  assert.equal(long.choice, "reject");
  assert.match(long.reasons.join(" "), /needs a human/);
});
