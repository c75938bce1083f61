// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the ${VAR} syntax is written literally.
// YAML's explicit tags (`!!binary`, `!!set`, `!!omap`, `!!timestamp`), and
// plain dates under a `%YAML 1.1` directive, read as a Uint8Array, a Set, a
// Map or a Date. A Uint8Array crashed the loader with a bare TypeError (it
// cannot be frozen); the others reached free-form sections as values that no
// handler expects and JSON cannot carry (a Set prints as {}). A swarm file
// holds plain data only: each such value is a ConfigError at its line.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { validateSwarmConfig } from "../../src/config/index.js";
import { ConfigError } from "../../src/errors/index.js";
import { issueAt, issuesOf, MINIMAL } from "./helpers.js";

describe("values YAML tags make that are not plain data", () => {
  it("!!binary is a ConfigError at its line, not a TypeError", () => {
    const issue = issueAt(
      issuesOf(`${MINIMAL}workload:\n  blob: !!binary aGVsbG8=\n`),
      "workload.blob",
    );
    assert.equal(issue.line, 9);
    assert.match(issue.message, /!!binary/);
  });

  it("!!set and !!omap are refused rather than handed on as a Set or a Map", () => {
    const issues = issuesOf(`${MINIMAL}workload:\n  s: !!set { a, b }\n  o: !!omap [{ a: 1 }]\n`);
    assert.match(issueAt(issues, "workload.s").message, /!!set/);
    assert.match(issueAt(issues, "workload.o").message, /!!omap/);
  });

  it("a date read by YAML 1.1 says to quote it", () => {
    const issue = issueAt(
      issuesOf(`%YAML 1.1\n---\n${MINIMAL}workload:\n  since: 2001-12-14\n`),
      "workload.since",
    );
    assert.match(issue.message, /"2001-12-14"/);
  });

  it("a config built in code with such a value is a ConfigError too", () => {
    assert.throws(
      () =>
        validateSwarmConfig({
          swarm: "demo",
          roles: { worker: { tasks: ["echo"] } },
          agents: [{ id: "w-1", role: "worker" }],
          workload: { blob: new Uint8Array([1, 2, 3]) },
        }),
      (error: unknown) => error instanceof ConfigError && /workload\.blob/.test(error.message),
    );
  });

  it("is reported when the file also retypes a ${VAR}", () => {
    const issues = issuesOf(
      `${MINIMAL.replace("tasks: [echo]", "tasks: [echo]\n    concurrency: ${C:-4}")}workload:\n  blob: !!binary aGVsbG8=\n`,
    );
    assert.match(issueAt(issues, "workload.blob").message, /!!binary/);
  });

  it("an alias inside its own anchor (a value that contains itself) is a ConfigError, not a stack overflow", () => {
    const issue = issueAt(
      issuesOf(`${MINIMAL}workload:\n  tree: &t\n    child: *t\n`),
      "workload.tree.child",
    );
    assert.match(issue.message, /contains itself/);
    const cyclic: Record<string, unknown> = {};
    cyclic["self"] = cyclic;
    assert.throws(
      () =>
        validateSwarmConfig({
          swarm: "demo",
          roles: { worker: { tasks: ["echo"] } },
          agents: [{ id: "w-1", role: "worker" }],
          workload: cyclic,
        }),
      (error: unknown) => error instanceof ConfigError && /workload\.self/.test(error.message),
    );
  });
});
