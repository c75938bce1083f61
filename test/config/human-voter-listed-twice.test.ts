// A person listed twice among an action's voters: the threshold check added
// both weights, while the vote counts each person once, with the later
// weight (src/runtime/consensus/rounds.ts keys voters by id). A threshold
// only reachable with the double weight loaded and could never be met.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { issueAt, issuesOf, MINIMAL } from "./helpers.js";

const KEY = "A".repeat(43);

describe("a human listed twice among an action's voters", () => {
  it("is refused at the second entry", () => {
    const issue = issueAt(
      issuesOf(`${MINIMAL}humans:
  alice: { publicKey: ${KEY} }
privileged:
  deploy:
    voters: [worker, { human: alice, weight: 2 }, { human: alice, weight: 3 }]
    threshold: { weight: 6 }
`),
      "privileged.deploy.voters.2.human",
    );
    assert.match(issue.message, /alice/);
    assert.match(issue.message, /voters\.1/);
  });
});
