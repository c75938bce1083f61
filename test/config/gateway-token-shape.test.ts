// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the ${VAR} syntax is written literally.
// A gateway token is matched against the `Authorization: Bearer <token>`
// header, which carries no whitespace (src/interop/http-guard.ts reads one
// run of non-space characters). A token with a space or a trailing newline
// (a secret read from a file) loaded, and no caller could ever present it.
// Two callers given the same token loaded too, and every request was
// recorded as the first caller's. Both are refused, never echoing a token.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseSwarmConfig } from "../../src/config/index.js";
import { issueAt, issuesOf, MINIMAL } from "./helpers.js";

const GATEWAY = `${MINIMAL}gateway:
  as: w-1
  tokens:
    alice: \${ALICE}
    bob: \${BOB}
  expose: [{ role: worker, task: echo }]
`;

describe("gateway tokens", () => {
  it("with whitespace in them are refused, without echoing the token", () => {
    for (const token of ["s3cret-token-0123456789\n", "s3cret token 0123456789"]) {
      const issue = issueAt(
        issuesOf(GATEWAY, { ALICE: token, BOB: "b".repeat(20) }),
        "gateway.tokens.alice",
      );
      assert.match(issue.message, /whitespace/);
      assert.doesNotMatch(issue.message, /s3cret/);
    }
  });

  it("shared by two callers are refused at the second, without echoing it", () => {
    const token = "same-s3cret-0123456789";
    const issue = issueAt(issuesOf(GATEWAY, { ALICE: token, BOB: token }), "gateway.tokens.bob");
    assert.match(issue.message, /alice/);
    assert.doesNotMatch(issue.message, /s3cret/);
  });

  it("distinct tokens without whitespace load", () => {
    const config = parseSwarmConfig(GATEWAY, {
      env: { ALICE: "a".repeat(20), BOB: "b".repeat(20) },
    });
    assert.deepEqual(Object.keys(config.gateway?.tokens ?? {}), ["alice", "bob"]);
  });
});
