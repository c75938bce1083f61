/**
 * planVacancyFill: a slot that nobody could take when it was vacated (an
 * `agent.reassigned` with `to: null`) is filled later, once a free agent at
 * or above the reputation floor can take it; slots held keep their agent,
 * and a slot still nobody can take stays vacant, saying why.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { planReassignment, planVacancyFill } from "../../src/hierarchy/reassignment.js";
import type { AgentProfile, RoleRequirement } from "../../src/hierarchy/suitability.js";

const roles: RoleRequirement[] = [
  { name: "reviewer", requires: ["code_review"], slots: 2 },
  { name: "deployer", requires: ["deploy"] },
];
const current = [
  { role: "reviewer", slot: 0, agent: "rev-1", suitability: 0.8 },
  { role: "deployer", slot: 0, agent: "dep-1", suitability: 0.6 },
];
const vacant = [{ role: "reviewer", slot: 1 }];

describe("planVacancyFill", () => {
  it("fills a vacant slot with the best free agent at or above the floor", () => {
    const agents: AgentProfile[] = [
      { id: "rev-1", capabilities: ["code_review"], reputation: 0.9 },
      { id: "dep-1", capabilities: ["deploy", "code_review"], reputation: 0.9 },
      { id: "shady", capabilities: ["code_review"], reputation: 0.1 },
      { id: "rev-2", capabilities: ["code_review"], reputation: 0.6 },
    ];
    const plan = planVacancyFill(current, vacant, agents, roles);
    assert.deepEqual(plan.filled, [
      { role: "reviewer", slot: 1, from: null, to: "rev-2", reason: "vacancy-filled" },
    ]);
    assert.deepEqual(
      plan.assignments.map((a) => [a.role, a.slot, a.agent]),
      [
        ["reviewer", 0, "rev-1"],
        ["deployer", 0, "dep-1"],
        ["reviewer", 1, "rev-2"],
      ],
    );
    assert.deepEqual(plan.vacant, []);
  });

  it("leaves the slot vacant while nobody free is fit, saying why", () => {
    const agents: AgentProfile[] = [
      { id: "rev-1", capabilities: ["code_review"], reputation: 0.9 },
      { id: "dep-1", capabilities: ["deploy"], reputation: 0.9 },
      { id: "shady", capabilities: ["code_review"], reputation: 0.1 },
    ];
    const plan = planVacancyFill(current, vacant, agents, roles);
    assert.deepEqual(plan.filled, []);
    assert.deepEqual(plan.assignments, current);
    assert.deepEqual(plan.vacant, [{ role: "reviewer", slot: 1, reason: "no-free-agent" }]);
    const none = planVacancyFill(current, [{ role: "deployer", slot: 1 }], [], roles);
    assert.deepEqual(none.vacant, [{ role: "deployer", slot: 1, reason: "no-capable-agent" }]);
  });

  it("a halted sole holder's slot, left vacant, goes back to it once it can work again", () => {
    const one: RoleRequirement[] = [{ name: "reviewer", slots: 1 }];
    const held = [{ role: "reviewer", slot: 0, agent: "rev-1", suitability: 0.5 }];
    const alone: AgentProfile[] = [{ id: "rev-1", capabilities: [] }];
    const halted = planReassignment(held, alone, one, { kind: "halted", agent: "rev-1" });
    assert.deepEqual(halted.reassigned, [
      { role: "reviewer", slot: 0, from: "rev-1", to: null, reason: "halted" },
    ]);
    assert.deepEqual(halted.assignments, []);
    const back = planVacancyFill(halted.assignments, halted.unfilled, alone, one);
    assert.deepEqual(back.filled, [
      { role: "reviewer", slot: 0, from: null, to: "rev-1", reason: "vacancy-filled" },
    ]);
  });

  it("ignores a 'vacant' slot someone holds, and checks the floor", () => {
    const agents: AgentProfile[] = [{ id: "x", capabilities: ["code_review"] }];
    const plan = planVacancyFill(current, [{ role: "reviewer", slot: 0 }], agents, roles);
    assert.deepEqual(plan.filled, []);
    assert.equal(plan.assignments, current);
    assert.throws(
      () => planVacancyFill(current, vacant, agents, roles, { reputationFloor: 2 }),
      /reputation floor must be in \[0, 1\]/,
    );
  });
});
