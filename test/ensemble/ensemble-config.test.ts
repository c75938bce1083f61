/**
 * The `ensembles:` section's cross-field checks for the rules that ask
 * someone else: best-of needs a reviewer, judge a judge, stacking a
 * combiner, each a declared agent or role (not a member) whose role lists
 * the task type it is asked; every message says what to do.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";

const BASE = `swarm: s
roles:
  desk: { tasks: [classify] }
  m-a: { tasks: [classify] }
  m-b: { tasks: [classify] }
  judges: { tasks: [ensemble.judge, ensemble.combine] }
  reviewers: { tasks: [ensemble.review] }
  crowd: { tasks: [ensemble.review] }
  empty: { tasks: [ensemble.judge] }
agents:
  - { id: desk-1, role: desk }
  - { id: m-a, role: m-a }
  - { id: m-b, role: m-b }
  - { id: judge-1, role: judges }
  - { id: reviewer-1, role: reviewers }
  - { id: crowd-1, role: crowd }
  - { id: crowd-2, role: crowd }
ensembles:
  classify: `;

function load(ensemble: string) {
  return parseSwarmConfig(`${BASE}${ensemble}\n`);
}

function refused(ensemble: string, message: RegExp): void {
  assert.throws(() => load(ensemble), message);
}

describe("ensemble config: reviewer, judge and combiner", () => {
  test("the rule follows from the one named; defaults to weighted-vote", () => {
    const rule = (e: string) => load(e).ensembles["classify"]?.combine;
    assert.equal(rule("{ members: [m-a, m-b] }"), "weighted-vote");
    assert.equal(rule("{ members: [m-a, m-b], judge: judge-1 }"), "judge");
    assert.equal(rule("{ members: [m-a, m-b], reviewer: reviewers }"), "best-of");
    assert.equal(rule("{ members: [m-a, m-b], combiner: judges }"), "stacking");
    const judged = load(
      "{ members: [m-a, m-b], combine: judge, judge: judges, instructions: Be brief. }",
    );
    assert.equal(judged.ensembles["classify"]?.judge, "judges");
    assert.equal(judged.ensembles["classify"]?.instructions, "Be brief.");
  });

  test("a rule that asks someone needs them named", () => {
    refused(
      "{ members: [m-a, m-b], combine: best-of }",
      /ensembles\.classify\.reviewer: combine: best-of needs reviewer: the agent or role that scores the answers \(a role that lists "ensemble\.review" under tasks\)/,
    );
    refused("{ members: [m-a, m-b], combine: judge }", /combine: judge needs judge:/);
    refused("{ members: [m-a, m-b], combine: stacking }", /combine: stacking needs combiner:/);
  });

  test("a name for another rule, two names without combine, instructions for a vote", () => {
    refused(
      "{ members: [m-a, m-b], combine: judge, judge: judge-1, reviewer: reviewers }",
      /reviewer: is only asked by combine: best-of \(this ensemble combines by judge\): remove it, or set combine: best-of/,
    );
    refused(
      "{ members: [m-a, m-b], judge: judge-1, combiner: judges }",
      /ensembles\.classify\.combine: judge: and combiner: are both given: say which rule combines the answers with combine: judge or stacking/,
    );
    refused(
      "{ members: [m-a, m-b], instructions: Be brief. }",
      /instructions: are only read by best-of, judge and stacking \(this ensemble combines by weighted-vote\)/,
    );
  });

  test("the one named must be declared, askable, not a member, and listing its task", () => {
    refused(
      "{ members: [m-a, m-b], judge: jugde-1 }",
      /no agent or role "jugde-1" is declared \(did you mean "judge-1"\?\)/,
    );
    refused("{ members: [m-a, m-b], judge: m-a }", /the judge "m-a" is a member/);
    refused(
      "{ members: [m-a, m-b], reviewer: crowd-1 }",
      /reviewer crowd-1 shares role "crowd" with other agents, any of which may be asked: name the role instead/,
    );
    refused(
      "{ members: [m-a, m-b], judge: empty }",
      /role "empty" has no agent to ask: declare one under agents with role: empty/,
    );
    refused(
      "{ members: [m-a, m-b], judge: reviewers }",
      /role "reviewers" does not list "ensemble\.judge" under tasks: add it/,
    );
    assert.doesNotThrow(() => load("{ members: [m-a, m-b], reviewer: crowd }"));
  });

  test("an unknown rule lists the five", () => {
    refused(
      "{ members: [m-a, m-b], combine: majority }",
      /"weighted-vote", "weighted-mean", "best-of", "judge"(,| or) "stacking"/,
    );
  });
});
