// `admission: credential` admits agents whose credential the operator's key
// signed; with no `operator.publicKey` in the file, nodes accept no
// credential at all (src/cli/admission.ts refuses to issue one), so the mode
// would silently mean `declared`. The file says so when loaded.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseSwarmConfig } from "../../src/config/index.js";
import { issueAt, issuesOf, MINIMAL } from "./helpers.js";

describe("admission: credential", () => {
  it("without operator.publicKey is refused, saying what to add", () => {
    const issue = issueAt(issuesOf(`${MINIMAL}admission: credential\n`), "admission");
    assert.match(issue.message, /operator: \{ publicKey/);
    assert.match(issue.message, /conclave keys gen operator/);
    assert.equal(issue.line, 8);
  });

  it("with an operator key is accepted", () => {
    const config = parseSwarmConfig(
      `${MINIMAL}admission: credential\noperator:\n  publicKey: ${"A".repeat(43)}\n`,
      { env: {} },
    );
    assert.equal(config.admission, "credential");
  });
});
