// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the ${VAR} syntax is written literally.
// `${A:-${B}}` reads as the shell's nested default, but a reference ends at
// its first `}`: with A set the value was A's followed by a stray "}", and
// with A unset it was the text "${B}". Either way a wrong value (a password,
// a URL) was used without a word. Such a reference is now refused.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { interpolate } from "../../src/config/index.js";
import { issueAt, issuesOf, MINIMAL } from "./helpers.js";

describe("a ${…} inside a variable reference", () => {
  it("is an error, whether the outer variable is set or not", () => {
    for (const env of [{ A: "x" }, { B: "y" }, {}]) {
      const result = interpolate("${A:-${B}}", env);
      assert.equal(result.errors.length, 1, JSON.stringify(result));
      assert.match(result.errors[0] ?? "", /nested/);
    }
  });

  it("is reported at its path in a swarm file, the value not used", () => {
    const issue = issueAt(
      issuesOf(`${MINIMAL}description: "\${A:-\${B}}"\n`, { A: "x" }),
      "description",
    );
    assert.match(issue.message, /\$\{A:-\$\{B\}\}/);
  });

  it("a default holding other text is still fine", () => {
    assert.deepEqual(interpolate("${A:-a b-c}", {}).value, "a b-c");
  });
});
