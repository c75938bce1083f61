// YAML reads `id: 007` as the number 7 and `version: 2` as the number 2. Where
// the swarm file wants text, the message said "got 7" (not what was written)
// and not how to fix it; it now shows the value as written and says to quote it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { issueAt, issuesOf, MINIMAL } from "./helpers.js";

describe("a number or true/false where text is expected", () => {
  it("an agent id 007 is shown as written, with the quoted form", () => {
    const text = MINIMAL.replace("id: w-1", "id: 007").replace("agents:", "agents:");
    const issue = issueAt(issuesOf(text), "agents.0.id");
    assert.match(issue.message, /007/);
    assert.match(issue.message, /quote it: "007"/);
  });

  it("prices.version: 2 says to quote it", () => {
    const issue = issueAt(issuesOf(`${MINIMAL}prices: { version: 2 }\n`), "prices.version");
    assert.match(issue.message, /quote it: "2"/);
  });

  it("description: yes-like booleans say to quote them", () => {
    const issue = issueAt(issuesOf(`${MINIMAL}description: true\n`), "description");
    assert.match(issue.message, /quote it: "true"/);
  });
});
