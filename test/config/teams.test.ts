/**
 * The `teams:` section: who leads whom. Each wrong shape is refused with
 * the field and what to do; a sound hierarchy (nesting included) is built
 * as written.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseSwarmConfig } from "../../src/config/index.js";
import { issueAt, issuesOf } from "./helpers.js";

const BASE = `swarm: demo
roles:
  director: { tasks: [plan] }
  lead: { tasks: [research] }
  researcher: { tasks: [investigate] }
agents:
  - { id: boss, role: director }
  - { id: lead-1, role: lead }
  - { id: r-1, role: researcher }
  - { id: r-2, role: researcher }
`;

test("a nested hierarchy is built as written, defaults applied", () => {
  const config = parseSwarmConfig(
    `${BASE}teams:
  org: { lead: boss, members: [lead-1] }
  research: { lead: lead-1, roles: [researcher] }
`,
    { source: "swarm.yaml", env: {} },
  );
  assert.deepEqual(config.teams, {
    org: { lead: "boss", members: ["lead-1"], roles: [] },
    research: { lead: "lead-1", members: [], roles: ["researcher"] },
  });
});

test("no teams: an empty section", () => {
  assert.deepEqual(parseSwarmConfig(BASE, { source: "swarm.yaml", env: {} }).teams, {});
});

test("a lead, member or role that does not exist is named, with a guess", () => {
  const issues = issuesOf(`${BASE}teams:
  research: { lead: lead-2, members: [r-3], roles: [researchr] }
`);
  assert.match(issueAt(issues, "teams.research.lead").message, /no agent "lead-2".*lead-1/);
  assert.match(issueAt(issues, "teams.research.members.0").message, /no agent "r-3"/);
  assert.match(issueAt(issues, "teams.research.roles.0").message, /did you mean "researcher"/);
});

test("a team without members is refused", () => {
  const issues = issuesOf(`${BASE}teams:
  research: { lead: lead-1 }
`);
  assert.match(issueAt(issues, "teams.research").message, /no members; list agents/);
});

test("a lead cannot be a member of its own team", () => {
  const issues = issuesOf(`${BASE}teams:
  research: { lead: lead-1, members: [r-1, lead-1] }
`);
  assert.match(issueAt(issues, "teams.research.members.1").message, /leads team "research"/);
});

test("an agent is in one team at most, by id or by role", () => {
  const issues = issuesOf(`${BASE}teams:
  a: { lead: lead-1, members: [r-1] }
  b: { lead: boss, roles: [researcher] }
`);
  assert.match(issueAt(issues, "teams.b.roles.0").message, /"r-1" is already a member of team "a"/);
});

test("teams that nest in a circle are refused", () => {
  const issues = issuesOf(`${BASE}teams:
  up: { lead: boss, members: [lead-1] }
  down: { lead: lead-1, members: [boss] }
`);
  assert.ok(
    issues.some((i) => /nest in a circle \((up → down → up|down → up → down)\)/.test(i.message)),
    JSON.stringify(issues),
  );
});

test("a team name must be one subject token without '_'", () => {
  const issues = issuesOf(`${BASE}teams:
  research.a: { lead: lead-1, members: [r-1] }
`);
  assert.ok(
    issues.some((i) => /team name/.test(i.message)),
    JSON.stringify(issues),
  );
});
