// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the ${VAR} syntax is written literally.
// `{ concurrency: ${C:-4} }`: in a flow mapping or list, an unquoted `${`
// opens a YAML mapping, and the parser reports a cascade of "Unexpected
// flow-map-start" errors over several lines that never mention the variable.
// The loader says what happened on that line and what to write instead.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { issuesOf } from "./helpers.js";

const FLOW = `swarm: demo
roles:
  worker: { tasks: [echo], concurrency: \${C:-4} }
agents:
  - { id: w-1, role: worker }
`;

describe("an unquoted ${VAR} inside { } or [ ]", () => {
  it("is reported once, on its line, with what to write", () => {
    const issues = issuesOf(FLOW, { C: "8" });
    assert.equal(issues.length, 1, JSON.stringify(issues, null, 2));
    const [issue] = issues;
    assert.equal(issue?.line, 3);
    assert.match(issue?.message ?? "", /\$\{C:-4\}/);
    assert.match(issue?.message ?? "", /quote it/);
    assert.match(issue?.message ?? "", /concurrency: \$\{C:-4\}/);
  });
});
