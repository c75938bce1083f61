// YAML refuses a key written twice, but `1` and `"1"`, or `true` and
// `"true"`, are different keys to YAML and the same field once read: the
// second silently replaced the first. A key that is a list or a mapping was
// turned into text ("[ a, b ]") with only a Node warning on stderr. Both are
// now ConfigErrors at their line.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { issueAt, issuesOf, MINIMAL } from "./helpers.js";

describe("mapping keys", () => {
  it("that read as the same text are refused at the second", () => {
    const issues = issuesOf(`${MINIMAL}workload:\n  1: a\n  "1": b\n  true: c\n  "true": d\n`);
    const first = issueAt(issues, "workload.1");
    assert.equal(first.line, 10);
    assert.match(first.message, /line 9/);
    assert.equal(issueAt(issues, "workload.true").line, 12);
  });

  it("that are lists or mappings are refused", () => {
    const issue = issueAt(issuesOf(`${MINIMAL}workload:\n  ? [a, b]\n  : 1\n`), "workload");
    assert.equal(issue.line, 9);
    assert.match(issue.message, /key/);
  });
});
