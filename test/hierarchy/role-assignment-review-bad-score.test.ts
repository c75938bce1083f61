/**
 * A custom suitability function that returns NaN, +∞ or a non-number is
 * refused with a message naming the agent and the role, not indices of the
 * solver's internal matrix (whose columns are slots, not roles).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../../src/errors/index.js";
import { assignRoles } from "../../src/hierarchy/role-assignment.js";

test("a bad score from a custom suitability names the agent and the role", () => {
  const agents = [
    { id: "a1", capabilities: [] },
    { id: "a2", capabilities: [] },
  ];
  const roles = [{ name: "lead", slots: 2 }, { name: "reviewer" }];
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, "0.5" as unknown as number]) {
    assert.throws(
      () =>
        assignRoles(agents, roles, {
          suitability: (agent, role) => (agent.id === "a2" && role.name === "reviewer" ? bad : 1),
        }),
      (e: unknown) =>
        e instanceof ConfigError &&
        /suitability of agent "a2" for role "reviewer" is /.test(e.message) &&
        /return a finite number, or FORBIDDEN/.test(e.message),
      String(bad),
    );
  }
});
