/**
 * The review pipeline on an embedded swarm in a temporary folder
 * (conclave/testkit), with the voter policies of policies/: no broker, no
 * network.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { compilePolicy, loadSwarmConfig, parsePolicyYaml } from "conclave";
import { createTestSwarm } from "conclave/testkit";
import { change, findings, setup, type Verdict } from "../agents.ts";

const swarmFile = fileURLToPath(new URL("../swarm.yaml", import.meta.url));

test("a reviewer flags eval()", () => {
  assert.deepEqual(findings(change(5)), ["calls eval()"]);
  assert.deepEqual(findings(change(1)), []);
});

test("the pipeline: small changes merged, large ones refused by the maintainer's policy", async () => {
  const config = await loadSwarmConfig(swarmFile);
  const { swarm, cleanup } = createTestSwarm({
    roles: config.roles,
    ...(config.privileged ? { privileged: config.privileged } : {}),
  });
  try {
    // The agents of swarm.yaml with their policies; the test submits the changes.
    for (const spec of config.agents) {
      const policy = spec.policy
        ? compilePolicy(parsePolicyYaml(await readFile(spec.policy, "utf8")))
        : undefined;
      const agent = swarm.agent({ id: spec.id, role: spec.role, ...(policy ? { policy } : {}) });
      await setup(agent, { config, workload: { changes: 0 } });
    }
    await swarm.start();
    const verdicts: Verdict[] = [];
    for (const n of [1, 4, 5]) {
      const id = await swarm.submit("reviewer", "review", change(n), { as: "lead" });
      verdicts.push(await finished(id));
    }
    assert.deepEqual(
      verdicts.map((v) => [v.change, v.merged]),
      [
        [1, true],
        [4, false],
        [5, false],
      ],
    );
    assert.match(verdicts[1]?.reason ?? "", /merge rejected/);
    assert.equal(verdicts[2]?.reason, "calls eval()");
  } finally {
    await cleanup();
  }

  /** What root task `id` was finished with (ctx.finish), once it is. */
  async function finished(id: string): Promise<Verdict> {
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      const done = await swarm.result(id);
      if (done !== undefined) return done.data as Verdict;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`change task ${id} was not finished within 15 s`);
  }
});
