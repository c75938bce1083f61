import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ConfigError } from "../../src/errors/index.js";
import {
  type AgentProfile,
  assignRoles,
  DEFAULT_SUITABILITY_WEIGHTS,
  FORBIDDEN,
  planReassignment,
  type RoleRequirement,
  suitability,
} from "../../src/hierarchy/index.js";

const near = (actual: number, expected: number) =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${actual} is not ${expected}`);

describe("suitability", () => {
  const role: RoleRequirement = {
    name: "reviewer",
    requires: ["code_review"],
    prefers: ["typescript", "security"],
  };

  it("combines preferred capabilities, reputation, spare capacity and cost with the documented weights", () => {
    near(
      suitability(
        {
          id: "rev-1",
          capabilities: ["code_review", "typescript"],
          reputation: 0.8,
          load: 0.5,
          cost: 100,
        },
        role,
      ),
      0.49,
    );
    // Defaults: reputation 0.5, load 0, cost 0, no preferences → 0.4 + 0.15 + 0.2.
    near(suitability({ id: "x", capabilities: [] }, { name: "any" }), 0.75);
  });

  it("is −∞ without a required capability, and clamps reputation and load", () => {
    assert.equal(suitability({ id: "x", capabilities: ["typescript"] }, role), FORBIDDEN);
    near(
      suitability({ id: "x", capabilities: [], reputation: 7, load: -3 }, { name: "any" }),
      0.4 + 0.3 + 0.2,
    );
  });

  it("ranks a better, idler, cheaper agent higher, one criterion at a time (property)", () => {
    const agent = fc.record({
      reputation: fc.double({ min: 0, max: 1, noNaN: true }),
      load: fc.double({ min: 0, max: 1, noNaN: true }),
      cost: fc.double({ min: 0, max: 1000, noNaN: true }),
    });
    fc.assert(
      fc.property(agent, fc.double({ min: 0, max: 1, noNaN: true }), (a, delta) => {
        const base = suitability({ id: "a", capabilities: ["code_review"], ...a }, role);
        const of = (patch: Partial<AgentProfile>) =>
          suitability({ id: "a", capabilities: ["code_review"], ...a, ...patch }, role);
        assert.ok(of({ reputation: Math.min(1, a.reputation + delta) }) >= base);
        assert.ok(of({ load: Math.max(0, a.load - delta) }) >= base);
        assert.ok(of({ cost: a.cost * (1 - delta) }) >= base);
        assert.ok(of({ capabilities: ["code_review", "security"] }) > base);
      }),
    );
    assert.equal(DEFAULT_SUITABILITY_WEIGHTS.preferred, 0.4);
  });
});

describe("role assignment", () => {
  const agents: AgentProfile[] = [
    { id: "a1", capabilities: ["code_review", "security"], reputation: 0.9 },
    { id: "a2", capabilities: ["code_review", "deploy"], reputation: 0.6 },
    { id: "a3", capabilities: ["code_review"], reputation: 0.7, load: 0.9 },
    { id: "a4", capabilities: ["write"], reputation: 0.8 },
  ];
  const roles: RoleRequirement[] = [
    { name: "reviewer", requires: ["code_review"], prefers: ["security"], slots: 2 },
    { name: "deployer", requires: ["deploy"] },
  ];

  it("gives the only capable agent the scarce role and the best remaining ones the others", () => {
    const result = assignRoles(agents, roles);
    assert.deepEqual(
      result.assignments.map((a) => [a.role, a.slot, a.agent]),
      [
        ["reviewer", 0, "a1"],
        ["reviewer", 1, "a3"],
        ["deployer", 0, "a2"],
      ],
    );
    assert.deepEqual(result.idle, ["a4"]);
    assert.deepEqual(result.unfilled, []);
    assert.deepEqual(result.unassignable, []);
    near(
      result.total,
      result.assignments.reduce((sum, a) => sum + a.suitability, 0),
    );
  });

  it("reports roles nobody can take and slots left for want of agents", () => {
    const result = assignRoles(agents.slice(0, 2), [
      { name: "reviewer", requires: ["code_review"], slots: 3 },
      { name: "pilot", requires: ["fly"] },
    ]);
    assert.equal(result.assignments.length, 2);
    assert.deepEqual(result.unfilled, [
      { role: "reviewer", slot: 2, reason: "no-free-agent" },
      { role: "pilot", slot: 0, reason: "no-capable-agent" },
    ]);
    assert.deepEqual(result.unassignable, ["pilot"]);
    assert.deepEqual(result.idle, []);
  });

  it("takes a custom suitability function, and refuses duplicates and bad slots", () => {
    const byId = assignRoles(agents, [{ name: "lead" }], {
      suitability: (agent) => (agent.id === "a4" ? 10 : 0),
    });
    assert.equal(byId.assignments[0]?.agent, "a4");
    assert.throws(
      () => assignRoles([agents[0] as AgentProfile, agents[0] as AgentProfile], roles),
      ConfigError,
    );
    assert.throws(
      () => assignRoles(agents, [roles[0] as RoleRequirement, roles[0] as RoleRequirement]),
      ConfigError,
    );
    assert.throws(() => assignRoles(agents, [{ name: "r", slots: 1.5 }]), ConfigError);
    assert.throws(
      () => assignRoles(agents, roles, { weights: { ...DEFAULT_SUITABILITY_WEIGHTS, cost: -1 } }),
      ConfigError,
    );
  });
});

describe("re-assignment", () => {
  const agents: AgentProfile[] = [
    { id: "rev-1", capabilities: ["code_review"], reputation: 0.9 },
    { id: "rev-2", capabilities: ["code_review"], reputation: 0.8 },
    { id: "dep-1", capabilities: ["deploy", "code_review"], reputation: 0.7 },
    { id: "spare-1", capabilities: ["code_review"], reputation: 0.5 },
    { id: "spare-2", capabilities: ["code_review"], reputation: 0.6 },
    { id: "shady", capabilities: ["code_review"], reputation: 0.1 },
  ];
  const roles: RoleRequirement[] = [
    { name: "reviewer", requires: ["code_review"], slots: 2 },
    { name: "deployer", requires: ["deploy"] },
  ];
  const current = [
    { role: "reviewer", slot: 0, agent: "rev-1", suitability: 0.8 },
    { role: "reviewer", slot: 1, agent: "rev-2", suitability: 0.7 },
    { role: "deployer", slot: 0, agent: "dep-1", suitability: 0.6 },
  ];

  it("refills only the vacated slot with the best free agent and says why", () => {
    const plan = planReassignment(current, agents, roles, { kind: "left", agent: "rev-2" });
    assert.deepEqual(plan.reassigned, [
      { role: "reviewer", slot: 1, from: "rev-2", to: "spare-2", reason: "left" },
    ]);
    assert.deepEqual(
      plan.assignments.map((a) => [a.role, a.slot, a.agent]),
      [
        ["reviewer", 0, "rev-1"],
        ["deployer", 0, "dep-1"],
        ["reviewer", 1, "spare-2"],
      ],
    );
    assert.deepEqual(plan.unfilled, []);
  });

  it("moves a role away from an agent whose reputation fell below the floor, never to another such agent", () => {
    const fallen = agents.map((a) => (a.id === "rev-1" ? { ...a, reputation: 0.05 } : a));
    const plan = planReassignment(current, fallen, roles, {
      kind: "reputation",
      agent: "rev-1",
      reputation: 0.05,
    });
    assert.deepEqual(plan.reassigned, [
      { role: "reviewer", slot: 0, from: "rev-1", to: "spare-2", reason: "reputation-below-floor" },
    ]);
    const only = planReassignment(
      current,
      agents.filter((a) => a.id !== "spare-1" && a.id !== "spare-2"),
      roles,
      { kind: "halted", agent: "rev-1" },
    );
    assert.deepEqual(only.reassigned, [
      { role: "reviewer", slot: 0, from: "rev-1", to: null, reason: "halted" },
    ]);
    assert.deepEqual(only.unfilled, [{ role: "reviewer", slot: 0, reason: "no-free-agent" }]);
  });

  it("changes nothing for an agent without a role or a reputation above the floor", () => {
    for (const event of [
      { kind: "left", agent: "spare-1" } as const,
      { kind: "reputation", agent: "rev-1", reputation: 0.3 } as const,
    ]) {
      const plan = planReassignment(current, agents, roles, event);
      assert.equal(plan.assignments, current);
      assert.deepEqual(plan.reassigned, []);
    }
  });

  it("keeps every other slot and fills vacated ones from free agents only (property)", () => {
    const profile = fc.record({
      capabilities: fc.subarray(["code_review", "deploy", "write"]),
      reputation: fc.double({ min: 0, max: 1, noNaN: true }),
    });
    const rolesAll: RoleRequirement[] = [
      { name: "reviewer", requires: ["code_review"], slots: 2 },
      { name: "deployer", requires: ["deploy"] },
      { name: "writer", requires: ["write"] },
    ];
    fc.assert(
      fc.property(
        fc.array(profile, { minLength: 1, maxLength: 9 }),
        fc.nat(),
        fc.constantFrom("halted", "left", "reputation"),
        (profiles, pick, kind) => {
          const pool = profiles.map((p, i) => ({ id: `ag-${i}`, ...p }));
          const initial = assignRoles(pool, rolesAll, { weights: DEFAULT_SUITABILITY_WEIGHTS });
          const victim = (pool[pick % pool.length] as AgentProfile).id;
          const event =
            kind === "reputation"
              ? ({ kind, agent: victim, reputation: 0 } as const)
              : ({ kind, agent: victim } as const);
          const plan = planReassignment(initial.assignments, pool, rolesAll, event);
          const held = initial.assignments.filter((a) => a.agent === victim);
          assert.equal(plan.reassigned.length, held.length);
          // Untouched slots keep their agent.
          for (const a of initial.assignments.filter((s) => s.agent !== victim)) {
            assert.ok(
              plan.assignments.some(
                (b) => b.role === a.role && b.slot === a.slot && b.agent === a.agent,
              ),
            );
          }
          // Nobody holds two slots, the victim holds none, replacements were free and above the floor.
          const holders = plan.assignments.map((a) => a.agent);
          assert.equal(new Set(holders).size, holders.length);
          assert.ok(!holders.includes(victim));
          const before = new Set(initial.assignments.map((a) => a.agent));
          for (const r of plan.reassigned) {
            if (r.to === null) continue;
            assert.ok(!before.has(r.to));
            const replacement = pool.find((a) => a.id === r.to) as AgentProfile;
            assert.ok((replacement.reputation ?? 0.5) >= 0.2);
            assert.notEqual(
              suitability(replacement, rolesAll.find((x) => x.name === r.role) as RoleRequirement),
              FORBIDDEN,
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuses a slot of an unknown role and a floor outside [0, 1]", () => {
    assert.throws(
      () => planReassignment(current, agents, roles.slice(0, 1), { kind: "left", agent: "dep-1" }),
      ConfigError,
    );
    assert.throws(
      () =>
        planReassignment(
          current,
          agents,
          roles,
          { kind: "left", agent: "dep-1" },
          { reputationFloor: 2 },
        ),
      ConfigError,
    );
  });
});
