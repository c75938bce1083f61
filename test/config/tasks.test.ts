import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/index.js";
import { issueAt, issuesOf } from "./helpers.js";

const BASE = `swarm: demo
roles:
  lead: {}
  dev:
    tasks: [code.review, code.write]
  qa:
    tasks: [code.write]
agents:
  - { id: lead, role: lead }
  - { id: dev-1, role: dev }
  - { id: qa-1, role: qa }
`;

describe("tasks: allocation by auction in the swarm file", () => {
  test("an auctioned task type gets its role and every default", () => {
    const config = parseSwarmConfig(
      `${BASE}tasks:\n  code.review:\n    allocation: auction\n    auction: { rule: vickrey, reserve: 500 }\n`,
      { source: "swarm.yaml" },
    );
    assert.deepEqual(config.tasks["code.review"], {
      allocation: "auction",
      role: "dev",
      auction: {
        rule: "vickrey",
        side: "procurement",
        reserve: 500,
        roundMs: 200,
        maxRounds: 5,
        criteria: [],
        onUnsold: "queue",
      },
    });
    assert.deepEqual(parseSwarmConfig(BASE, { source: "swarm.yaml" }).tasks, {});
  });

  test("a task several roles list must name its role; a named role must list it", () => {
    const ambiguous = issueAt(
      issuesOf(`${BASE}tasks:\n  code.write:\n    allocation: auction\n    auction: {}\n`),
      "tasks.code.write",
    );
    assert.match(
      ambiguous.message,
      /several roles list "code.write" \("dev", "qa"\); say which one/,
    );
    const wrong = issueAt(
      issuesOf(
        `${BASE}tasks:\n  code.review:\n    role: qa\n    allocation: auction\n    auction: {}\n`,
      ),
      "tasks.code.review.role",
    );
    assert.match(wrong.message, /does not list "code.review"/);
    const nobody = issueAt(
      issuesOf(`${BASE}tasks:\n  deploy:\n    allocation: auction\n    auction: {}\n`),
      "tasks.deploy",
    );
    assert.match(nobody.message, /no role lists "deploy"/);
  });

  test("each rule's required parameters are asked for by name", () => {
    const issues = issuesOf(
      `${BASE}tasks:\n  code.review:\n    allocation: auction\n    auction: { rule: dutch, startPrice: 100 }\n`,
    );
    assert.match(issueAt(issues, "tasks.code.review.auction.step").message, /add step$/);
    assert.match(issueAt(issues, "tasks.code.review.auction.stepMs").message, /add stepMs$/);
    const english = issuesOf(
      `${BASE}tasks:\n  code.review:\n    allocation: auction\n    auction: { rule: english }\n`,
    );
    assert.match(
      issueAt(english, "tasks.code.review.auction.minIncrement").message,
      /minimum raise/,
    );
    const criteria = issuesOf(
      `${BASE}tasks:\n  code.review:\n    allocation: auction\n    auction: { rule: multi-criteria }\n`,
    );
    assert.match(
      issueAt(criteria, "tasks.code.review.auction.criteria").message,
      /at least one criterion/,
    );
    const missing = issuesOf(`${BASE}tasks:\n  code.review:\n    allocation: auction\n`);
    assert.match(issueAt(missing, "tasks.code.review.auction").message, /needs an auction: block/);
  });

  test("bad values get typed, line-numbered messages", () => {
    const issues = issuesOf(
      `${BASE}tasks:\n  code.review:\n    allocation: auction\n    auction:\n      rule: swiss\n      reserve: -1\n`,
    );
    const rule = issueAt(issues, "tasks.code.review.auction.rule");
    assert.equal(rule.line, 16);
    assert.match(
      rule.message,
      /expected one of "multi-criteria", "first-price", "vickrey", "english", "dutch"/,
    );
    assert.match(
      issueAt(issues, "tasks.code.review.auction.reserve").message,
      /expected an integer from 0/,
    );
  });
});
