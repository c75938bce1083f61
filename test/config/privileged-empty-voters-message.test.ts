// `voters: []` on a privileged action: the message said "no agent has a
// voter role ()", an empty list in parentheses. It now says the list is
// empty and what to put in it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { issueAt, issuesOf, MINIMAL } from "./helpers.js";

describe("privileged.<action>.voters: []", () => {
  it("says the list is empty and what to list", () => {
    const issue = issueAt(
      issuesOf(`${MINIMAL}privileged:\n  deploy: { voters: [] }\n`),
      "privileged.deploy.voters",
    );
    assert.doesNotMatch(issue.message, /\(\)/);
    assert.match(issue.message, /voters is empty/);
    assert.match(issue.message, /voters: \[worker\]/);
  });
});
