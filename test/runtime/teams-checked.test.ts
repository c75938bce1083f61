/**
 * Teams given to `createSwarm` by a program (not through the swarm file's
 * schema) are checked the same way. An agent listed in two teams used to be
 * accepted: it consumed the first team's queue only, and the second lead's
 * delegations waited in a queue nobody read until their callers timed out.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../../src/errors/index.js";
import type { TeamSpec } from "../../src/runtime/teams.js";
import { createTestSwarm } from "../../src/testkit/index.js";

const roles = { boss: { tasks: ["go"] }, boss2: { tasks: ["go2"] }, dev: { tasks: ["code"] } };

function refused(teams: Record<string, TeamSpec>, message: RegExp) {
  assert.throws(
    () => createTestSwarm({ roles, teams }),
    (error: unknown) => error instanceof ConfigError && message.test(error.message),
  );
}

test("an agent listed in two teams is refused at createSwarm, saying to take it out of one", () => {
  refused(
    { a: { lead: "lead", members: ["dev-1"] }, b: { lead: "lead2", members: ["dev-1"] } },
    /agent "dev-1" is a member of team "a" and of team "b"; an agent is in one team at most/,
  );
});

test("a team name that is not one subject token, a lead in its own team, a team of nobody: refused", () => {
  refused({ "res.core": { lead: "lead", members: ["dev-1"] } }, /team "res\.core": a team name is/);
  refused(
    { a: { lead: "lead", members: ["lead", "dev-1"] } },
    /"lead" leads team "a" and cannot be one of its members/,
  );
  refused({ a: { lead: "lead" } }, /team "a" has no members/);
  refused({ a: { members: ["dev-1"] } as unknown as TeamSpec }, /team "a" has no lead/);
});

test("an agent in one team by id and in another by role is refused when it is added", async () => {
  const t = createTestSwarm({
    roles,
    teams: { a: { lead: "lead", members: ["dev-1"] }, b: { lead: "lead2", roles: ["dev"] } },
  });
  try {
    assert.throws(
      () => t.swarm.agent({ id: "dev-1", role: "dev" }),
      (error: unknown) =>
        error instanceof ConfigError && /is a member of 2 teams \(a, b\)/.test(error.message),
    );
    // Another agent of the role is in team b only: fine.
    t.swarm.agent({ id: "dev-2", role: "dev" });
  } finally {
    await t.cleanup();
  }
});
