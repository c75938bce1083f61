import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/index.js";
import { ConfigError } from "../../src/errors/index.js";
import { issueAt, issuesOf, MINIMAL } from "./helpers.js";

// Line numbers in these tests count from the first line of each text.

describe("schema errors point at the path and line to fix", () => {
  test("wrong enum value lists the allowed values", () => {
    const issues = issuesOf(`swarm: demo
roles:
  worker:
    tasks: [echo]
    ordering: strict
agents:
  - { id: w-1, role: worker }
`);
    const issue = issueAt(issues, "roles.worker.ordering");
    assert.equal(issue.line, 5);
    assert.equal(issue.message, 'expected one of "none", "conversation", got "strict"');
  });

  test("a near-miss enum value gets a suggestion", () => {
    const issue = issueAt(issuesOf(`${MINIMAL}signing: requird\n`), "signing");
    assert.equal(issue.line, 8);
    assert.match(issue.message, /\(did you mean "required"\?\)$/);
  });

  test("unknown key with did-you-mean", () => {
    const issues = issuesOf(`swarm: demo
defaults:
  concurrencyy: 3
roles: { worker: {} }
agents:
  - id: w-1
    role: worker
    wieght: 2
`);
    const key = issueAt(issues, "defaults.concurrencyy");
    assert.equal(key.line, 3);
    assert.equal(key.message, 'unknown key "concurrencyy" (did you mean "concurrency"?)');
    const agentKey = issueAt(issues, "agents.0.wieght");
    assert.equal(agentKey.line, 8);
    assert.equal(agentKey.message, 'unknown key "wieght" (did you mean "weight"?)');
  });

  test("a whole number beyond 2^53 is refused anywhere, free-form workload included", () => {
    const issues = issuesOf(
      `${MINIMAL}workload:\n  tasks: 99999999999999999999\n  ok: 9007199254740991\n`,
    );
    const issue = issueAt(issues, "workload.tasks");
    assert.equal(issue.line, 9);
    assert.match(
      issue.message,
      /^a whole number beyond the largest exact one \(9007199254740991\), read as 100000000000000000000;/,
    );
    assert.equal(issues.length, 1, "the largest exact one is fine");
  });

  test("snake_case keys are matched to their camelCase form", () => {
    const issue = issueAt(issuesOf(`${MINIMAL}data_dir: state\n`), "data_dir");
    assert.match(issue.message, /did you mean "dataDir"/);
  });

  test("an unknown key with no close match lists the accepted keys", () => {
    const issue = issueAt(issuesOf(`${MINIMAL}limits:\n  zzz: 1\n`), "limits.zzz");
    assert.equal(issue.line, 9);
    assert.equal(issue.message, 'unknown key "zzz"; expected one of "maxEnvelopeBytes"');
  });

  test("missing required keys are reported on the parent's line", () => {
    const issues = issuesOf(`roles:
  worker: {}
agents:
  - role: worker
    tags: [a]
`);
    const swarm = issueAt(issues, "swarm");
    assert.equal(swarm.line, 1);
    assert.equal(swarm.message, 'missing required key "swarm" (expected a string)');
    const id = issueAt(issues, "agents.0.id");
    assert.equal(id.line, 4);
    assert.match(id.message, /^missing required key "id"/);
  });

  test("an empty agent list", () => {
    const issue = issueAt(issuesOf("swarm: demo\nroles: { worker: {} }\nagents: []\n"), "agents");
    assert.equal(issue.line, 3);
    assert.equal(issue.message, "expected at least one agent");
  });

  test("duplicate agent id points at the second occurrence", () => {
    const issues = issuesOf(`${MINIMAL}  - id: w-2
    role: worker
  - id: w-1
    role: worker
`);
    const issue = issueAt(issues, "agents.2.id");
    assert.equal(issue.line, 10);
    assert.match(issue.message, /^duplicate agent id "w-1", already used by agents\.0/);
  });

  test("an agent's role must be defined", () => {
    const issues = issuesOf(`${MINIMAL}  - id: w-2
    role: wroker
`);
    const issue = issueAt(issues, "agents.1.role");
    assert.equal(issue.line, 9);
    assert.equal(
      issue.message,
      'role "wroker" is not defined under roles (did you mean "worker"?); defined roles: "worker"',
    );
  });

  test("suspectAfterMs must exceed heartbeatMs", () => {
    const issues = issuesOf(`${MINIMAL}defaults:
  heartbeatMs: 1000
  suspectAfterMs: 1000
  leftAfterMs: 900
`);
    const suspect = issueAt(issues, "defaults.suspectAfterMs");
    assert.equal(suspect.line, 10);
    assert.match(suspect.message, /^expected more than heartbeatMs \(1000\), got 1000/);
    const left = issueAt(issues, "defaults.leftAfterMs");
    assert.equal(left.line, 11);
    assert.equal(left.message, "expected more than suspectAfterMs (1000), got 900");
  });

  test("leftAfterMs is checked against the derived suspectAfterMs", () => {
    const issue = issueAt(
      issuesOf(`${MINIMAL}defaults:\n  leftAfterMs: 2000\n`),
      "defaults.leftAfterMs",
    );
    assert.match(issue.message, /the default suspectAfterMs \(3000 = 3 × heartbeatMs\), got 2000/);
  });

  test("backoff maxMs may not be below baseMs, including after a role override", () => {
    const issues = issuesOf(`swarm: demo
defaults:
  backoff: { baseMs: 500, maxMs: 100 }
roles:
  worker:
    backoff:
      baseMs: 10
      maxMs: 5
agents: [{ id: w-1, role: worker }]
`);
    assert.equal(issueAt(issues, "defaults.backoff.maxMs").line, 3);
    assert.equal(issueAt(issues, "roles.worker.backoff.maxMs").line, 8);
  });

  test("bad transport URL scheme", () => {
    const issue = issueAt(issuesOf(`${MINIMAL}transport: kafka://broker:9092\n`), "transport");
    assert.equal(issue.line, 8);
    assert.equal(
      issue.message,
      'expected "memory" or a nats://, tls://, amqp:// or amqps:// URL, got "kafka://broker:9092"',
    );
  });

  test("bad store scheme, with the password hidden in the message", () => {
    const issue = issueAt(issuesOf(`${MINIMAL}store: mysql://root:hunter2@db/app\n`), "store");
    assert.match(issue.message, /got "mysql:\/\/root:\*\*\*@db\/app"$/);
    assert.doesNotMatch(issue.message, /hunter2/);
  });

  test("a transport URL without a host", () => {
    const issue = issueAt(issuesOf(`${MINIMAL}transport: "nats://:4222"\n`), "transport");
    assert.match(issue.message, /^expected a well-formed URL with a host/);
  });

  test("integers out of range say the range", () => {
    const issues = issuesOf(`${MINIMAL}defaults:\n  ackWaitMs: 50\n  maxDeliver: "5"\n`);
    assert.equal(
      issueAt(issues, "defaults.ackWaitMs").message,
      "expected an integer from 100 to 3600000, got 50",
    );
    assert.equal(
      issueAt(issues, "defaults.maxDeliver").message,
      'expected an integer from 1 to 1000, got "5"',
    );
  });

  test("names that become subject tokens are checked", () => {
    const issues = issuesOf(`swarm: Review_Swarm
roles:
  Bad.Role: {}
agents:
  - id: "w 1"
    role: Bad.Role
`);
    assert.match(issueAt(issues, "swarm").message, /^expected a name of lowercase letters/);
    assert.equal(issueAt(issues, "roles.Bad.Role").line, 3);
    assert.match(issueAt(issues, "agents.0.id").message, /got "w 1"$/);
  });

  test("wrong types name what was found", () => {
    const issues = issuesOf(`swarm: demo
roles: [worker]
agents:
  id: w-1
`);
    assert.equal(issueAt(issues, "roles").message, "expected a mapping, got a list");
    assert.equal(issueAt(issues, "agents").message, "expected a list, got a mapping");
  });
});

describe("YAML syntax errors", () => {
  test("carry the line and column", () => {
    const issues = issuesOf("swarm: demo\nroles:\n  worker: [echo\nagents: []\n");
    assert.ok(issues.length >= 1);
    assert.equal(issues[0]?.path, "");
    assert.equal(issues[0]?.line, 4);
    assert.match(issues[0]?.message ?? "", /^invalid YAML: .*\(column \d+\)$/);
  });

  test("duplicate keys are syntax errors", () => {
    const issues = issuesOf(`${MINIMAL}swarm: again\n`);
    assert.equal(issues[0]?.line, 8);
    assert.match(issues[0]?.message ?? "", /unique/);
  });

  test("an empty file says what it needs", () => {
    const issue = issueAt(issuesOf(""), "");
    assert.match(issue.message, /empty/);
  });
});

describe("ConfigError message", () => {
  test("one `<source>:<line>: <path>: <message>` line per issue, in file order", () => {
    try {
      parseSwarmConfig(
        `swarm: demo
transport: kafka://x
roles: { worker: { ordering: strict } }
agents: [{ id: w-1, role: worker }]
`,
        { source: "examples/demo/swarm.yaml", env: {} },
      );
      assert.fail("expected a ConfigError");
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.code, "E_CONFIG");
      assert.deepEqual(error.message.split("\n"), [
        "invalid swarm file examples/demo/swarm.yaml (2 problems):",
        'examples/demo/swarm.yaml:2: transport: expected "memory" or a nats://, tls://, amqp:// or amqps:// URL, got "kafka://x"',
        'examples/demo/swarm.yaml:3: roles.worker.ordering: expected one of "none", "conversation", got "strict"',
      ]);
    }
  });
});
