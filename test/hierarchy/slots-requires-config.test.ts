/**
 * `slots.roles.<role>.requires` is checked against the capabilities of the
 * role's declared agents: a capability no agent of the role has (a typo),
 * or a set no single agent has, is refused at load with an issue at the
 * capability (or the list) naming it, the role, the likely capability and
 * what to do, instead of loading a role whose agents all wait on standby.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { issueAt, issuesOf } from "../config/helpers.js";

const BASE = `swarm: demo
roles:
  lead: {}
  reviewer: { tasks: [review] }
agents:
  - { id: lead, role: lead }
  - { id: rev-1, role: reviewer, capabilities: [review, security] }
  - { id: rev-2, role: reviewer, capabilities: [review, perf] }
`;

const slots = (role: string) => `${BASE}slots:\n  roles:\n    reviewer: ${role}\n`;

describe("slots: requires", () => {
  test("a capability no agent of the role has is refused, with the likely one", () => {
    const issues = issuesOf(slots("{ slots: 1, requires: [review, securty] }"));
    const issue = issueAt(issues, "slots.roles.reviewer.requires.1");
    assert.match(issue.message, /no agent of role "reviewer" has capability "securty"/);
    assert.match(issue.message, /\(did you mean "security"\?\)/);
    assert.match(issue.message, /fix the name, or add it to the capabilities/);
    assert.equal(issues.length, 1, JSON.stringify(issues));
  });

  test("capabilities no single agent has together are refused", () => {
    const issue = issueAt(
      issuesOf(slots("{ slots: 1, requires: [security, perf] }")),
      "slots.roles.reviewer.requires",
    );
    assert.match(issue.message, /no single agent of role "reviewer" has all of "security", "perf"/);
  });

  test("capabilities some agent of the role has load", () => {
    const config = parseSwarmConfig(slots("{ slots: 1, requires: [review, security] }"), {
      env: {},
    });
    assert.deepEqual(config.slots?.roles["reviewer"]?.requires, ["review", "security"]);
  });
});
