// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the ${VAR} syntax is written literally.
// A text that means a literal "${" (a prompt, a description: "costs ${5}")
// is read as a variable reference; the error must say how to write the
// literal ($${), as the one for an unterminated "${" already does.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { interpolate } from "../../src/config/interpolate.js";
import { issueAt, issuesOf, MINIMAL } from "./helpers.js";

describe("a malformed ${…} reference", () => {
  it("says how to write a literal ${", () => {
    const [error] = interpolate("costs ${5}", {}).errors;
    assert.match(error ?? "", /"\$\$\{" for a literal/);
  });

  it("is reported at its path in a swarm file", () => {
    const issue = issueAt(issuesOf(`${MINIMAL}description: "costs \${5}"\n`), "description");
    assert.match(issue.message, /"\$\$\{" for a literal/);
  });
});
