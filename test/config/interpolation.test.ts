// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests are about literal ${VAR} references.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/index.js";
import { interpolate } from "../../src/config/interpolate.js";
import { issueAt, issuesOf, MINIMAL } from "./helpers.js";

describe("interpolate", () => {
  test("substitutes set variables and defaults", () => {
    const env = { USER: "ann", EMPTY: "" };
    assert.deepEqual(interpolate("a-${USER}-b", env), {
      value: "a-ann-b",
      errors: [],
      missing: [],
    });
    assert.equal(interpolate("${MISSING:-x}", env).value, "x");
    // As in the shell, ":-" also replaces an empty value, and a plain reference keeps it.
    assert.equal(interpolate("${EMPTY:-x}", env).value, "x");
    assert.equal(interpolate("[${EMPTY}]", env).value, "[]");
    assert.equal(interpolate("${MISSING:-}", env).value, "");
    assert.equal(interpolate("${MISSING:-a:b/c}", env).value, "a:b/c");
  });

  test("leaves other dollars alone and unescapes $${", () => {
    assert.equal(interpolate("cost: $5 $ {x}", {}).value, "cost: $5 $ {x}");
    assert.equal(interpolate("$${HOME} is literal", { HOME: "/root" }).value, "${HOME} is literal");
  });

  test("reports unset, malformed and unterminated references", () => {
    assert.match(
      interpolate("${NOPE}", {}).errors[0] ?? "",
      /^environment variable NOPE is not set/,
    );
    assert.match(interpolate("${1BAD}", {}).errors[0] ?? "", /^malformed variable reference/);
    assert.match(interpolate("abc ${OPEN", {}).errors[0] ?? "", /^unterminated/);
  });
});

describe("interpolation in swarm files", () => {
  test("credentials come from the environment", () => {
    const config = parseSwarmConfig(
      `${MINIMAL}transport: "amqp://\${AMQP_USER}:\${AMQP_PASS}@rabbit:5672/"\n`,
      { env: { AMQP_USER: "worker", AMQP_PASS: "p@ss:w0rd" } },
    );
    assert.equal(config.transport, "amqp://worker:p@ss:w0rd@rabbit:5672/");
    assert.equal(new URL(config.transport).hostname, "rabbit");
  });

  test("an unset variable is an issue naming it, on its line, with no follow-on errors", () => {
    const issues = issuesOf(`${MINIMAL}transport: "nats://\${NATS_TOKEN}@nats:4222"\n`, {});
    const issue = issueAt(issues, "transport");
    assert.equal(issue.line, 8);
    assert.equal(
      issue.message,
      "environment variable NATS_TOKEN is not set; set it or give a default with ${NATS_TOKEN:-default}",
    );
    assert.equal(issues.length, 1);
  });

  test("unset variables are reported together with schema errors", () => {
    const issues = issuesOf(`${MINIMAL}module: \${MODULE}\nsigning: maybe\n`, {});
    assert.equal(issueAt(issues, "module").line, 8);
    assert.equal(issueAt(issues, "signing").line, 9);
  });

  test("an unquoted reference takes the type of its value; a quoted one stays a string", () => {
    const config = parseSwarmConfig(
      `${MINIMAL}defaults:
  concurrency: \${WORKERS:-16}
workload:
  tasks: \${TASKS}
  dryRun: \${DRY_RUN:-false}
  label: "\${TASKS}"
  name: \${NAME:-plain text}
`,
      { env: { TASKS: "200" } },
    );
    assert.equal(config.defaults.concurrency, 16);
    assert.deepEqual(config.workload, {
      tasks: 200,
      dryRun: false,
      label: "200",
      name: "plain text",
    });
  });

  test("a value cannot inject YAML structure", () => {
    const config = parseSwarmConfig(`${MINIMAL}description: \${DESC}\n`, {
      env: { DESC: "x\nagents: []\nevil: {a: 1}" },
    });
    assert.equal(config.description, "x\nagents: []\nevil: {a: 1}");
    assert.equal(config.agents.length, 1);
  });

  test("mapping keys are not interpolated", () => {
    const config = parseSwarmConfig(`${MINIMAL}workload:\n  \${KEY}: 1\n`, { env: { KEY: "k" } });
    assert.deepEqual(Object.keys(config.workload), ["${KEY}"]);
  });
});
