// Vote weights are counted in integer micro-units (src/consensus/quorum-math.ts):
// a weight below one micro-unit rounds to 0 (a voter whose vote counts for
// nothing, though the file says weight > 0), and a weight, or an electorate's
// total, beyond what a safe integer holds makes every proposal of the action
// fail with a ConfigError at run time. The file loaded both; it now refuses
// them at their line.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_VOTE_WEIGHT, MIN_VOTE_WEIGHT } from "../../src/config/fields.js";
import { parseSwarmConfig } from "../../src/config/index.js";
import { toWeightUnits, WEIGHT_SCALE } from "../../src/consensus/quorum-math.js";
import { issueAt, issuesOf, MINIMAL } from "./helpers.js";

const KEY = "A".repeat(43);

describe("vote weights the quorum arithmetic cannot count", () => {
  it("an agent weight below a micro-unit, which would count as 0", () => {
    assert.equal(toWeightUnits(0.0000001), 0);
    const issue = issueAt(
      issuesOf(MINIMAL.replace("role: worker", "role: worker\n    weight: 0.0000001")),
      "agents.0.weight",
    );
    assert.match(issue.message, /0\.000001/);
  });

  it("an agent weight too large to count exactly", () => {
    assert.throws(() => toWeightUnits(1e10));
    issueAt(
      issuesOf(MINIMAL.replace("role: worker", "role: worker\n    weight: 1e10")),
      "agents.0.weight",
    );
  });

  it("a human voter's weight, and a threshold weight, likewise", () => {
    const issues = issuesOf(`${MINIMAL}humans:
  alice: { publicKey: ${KEY} }
privileged:
  deploy:
    voters: [worker, { human: alice, weight: 1e10 }]
    threshold: { weight: 0.0000001 }
`);
    issueAt(issues, "privileged.deploy.voters.1.weight");
    issueAt(issues, "privileged.deploy.threshold.weight");
  });

  it("voters whose total weight is beyond exact counting", () => {
    const issue = issueAt(
      issuesOf(`swarm: demo
roles:
  worker:
    tasks: [echo]
agents:
  - { id: w-1, role: worker, weight: 5000000000 }
  - { id: w-2, role: worker, weight: 5000000000 }
privileged:
  deploy: { voters: [worker] }
`),
      "privileged.deploy.voters",
    );
    assert.match(issue.message, /total/);
  });

  it("ordinary decimal weights still load", () => {
    const config = parseSwarmConfig(
      MINIMAL.replace("role: worker", "role: worker\n    weight: 2.5"),
      { env: {} },
    );
    assert.equal(config.agents[0]?.weight, 2.5);
  });
});

describe("the config's vote weight bounds", () => {
  it("agree with the quorum arithmetic's scale", () => {
    assert.equal(MIN_VOTE_WEIGHT, 1 / WEIGHT_SCALE);
    assert.equal(MAX_VOTE_WEIGHT, Math.floor(Number.MAX_SAFE_INTEGER / WEIGHT_SCALE));
    assert.equal(toWeightUnits(MIN_VOTE_WEIGHT), 1);
  });
});
