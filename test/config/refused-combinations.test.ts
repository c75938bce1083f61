/**
 * Settings the swarm file used to accept although they did nothing, or
 * worse: each is now a ConfigError naming the field and what to do.
 *
 * - `slots:` on a pooled role: the pool grows the role by its queue while
 *   the slots keep all but `slots` of its agents on standby.
 * - `tolerance:` on a weighted-vote ensemble: labels agree only when equal;
 *   nothing reads it (weighted-mean does, and learning from a numeric truth).
 * - an ensemble whose judge (reviewer, combiner) is in the coordinators' role:
 *   the coordinator holds its task while it waits on its own role's answer.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { issueAt, issuesOf } from "./helpers.js";

const POOLED = `swarm: s
roles:
  lead: {}
  worker: { tasks: [work] }
agents:
  - { id: lead-1, role: lead }
  - { id: worker-1, role: worker }
pools:
  worker: { template: worker-1, min: 1, max: 4 }
`;

describe("slots on a pooled role", () => {
  test("is refused, naming both sections and what to keep", () => {
    const issue = issueAt(
      issuesOf(`${POOLED}slots:\n  roles:\n    worker: { slots: 1 }\n`),
      "slots.roles.worker",
    );
    assert.match(issue.message, /role "worker" is also pooled \(pools\.worker\)/);
    assert.match(issue.message, /remove it from slots, or remove pools\.worker/);
  });

  test("slots and pools on different roles still load", () => {
    const config = parseSwarmConfig(
      `${POOLED.replace("  lead: {}", "  lead: { tasks: [plan] }")}slots:\n  roles:\n    lead: { slots: 1 }\n`,
    );
    assert.equal(config.slots?.roles["lead"]?.slots, 1);
    assert.equal(config.pools["worker"]?.max, 4);
  });
});

const ENSEMBLE = `swarm: s
roles:
  desk: { tasks: [classify, ensemble.judge, ensemble.review, ensemble.combine] }
  m-a: { tasks: [classify] }
  m-b: { tasks: [classify] }
  judges: { tasks: [ensemble.judge] }
agents:
  - { id: desk-1, role: desk }
  - { id: m-a, role: m-a }
  - { id: m-b, role: m-b }
  - { id: judge-1, role: judges }
ensembles:
  classify: `;

const ensemble = (text: string) => `${ENSEMBLE}${text}\n`;

describe("tolerance on an ensemble", () => {
  test("is refused on weighted-vote, said or implied", () => {
    for (const text of [
      "{ members: [m-a, m-b], combine: weighted-vote, tolerance: 0.5 }",
      "{ members: [m-a, m-b], tolerance: 0 }",
    ]) {
      const issue = issueAt(issuesOf(ensemble(text)), "ensembles.classify.tolerance");
      assert.match(issue.message, /tolerance: is not used by weighted-vote/);
      assert.match(issue.message, /remove it, or set combine: weighted-mean/);
    }
  });

  test("is kept where it is read: weighted-mean, and a judge's learned weights", () => {
    const mean = parseSwarmConfig(
      ensemble("{ members: [m-a, m-b], combine: weighted-mean, tolerance: 0.5 }"),
    );
    assert.equal(mean.ensembles["classify"]?.tolerance, 0.5);
    const judged = parseSwarmConfig(
      ensemble("{ members: [m-a, m-b], judge: judge-1, tolerance: 1 }"),
    );
    assert.equal(judged.ensembles["classify"]?.tolerance, 1);
    const unset = parseSwarmConfig(ensemble("{ members: [m-a, m-b] }"));
    assert.equal(unset.ensembles["classify"]?.tolerance, 0);
  });
});

describe("an ensemble's coordinator as its own judge", () => {
  test("is refused, by role or by agent, for judge, reviewer and combiner", () => {
    const cases = [
      ["{ members: [m-a, m-b], judge: desk }", "judge", "desk"],
      ["{ members: [m-a, m-b], judge: desk-1 }", "judge", "desk-1"],
      ["{ members: [m-a, m-b], reviewer: desk }", "reviewer", "desk"],
      ["{ members: [m-a, m-b], combiner: desk-1 }", "combiner", "desk-1"],
    ] as const;
    for (const [text, field, name] of cases) {
      const issue = issueAt(issuesOf(ensemble(text)), `ensembles.classify.${field}`);
      assert.match(
        issue.message,
        new RegExp(
          `the ${field} "${name}" is in role "desk", which coordinates this ensemble \\(it lists "classify"\\)`,
        ),
      );
      assert.match(issue.message, /name an agent or role that does not list "classify"/);
    }
  });

  test("a judge of another role still loads", () => {
    const config = parseSwarmConfig(ensemble("{ members: [m-a, m-b], judge: judges }"));
    assert.equal(config.ensembles["classify"]?.combine, "judge");
  });
});
