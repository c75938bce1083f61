// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the ${VAR} syntax is written literally.
// An MCP server's url is interpolated, so it may carry credentials from the
// environment. A url refused for its scheme was echoed whole, password and
// all, as the transport, store and remote-agent URLs never are.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { issueAt, issuesOf, MINIMAL } from "./helpers.js";

describe("a refused mcp.<server>.url", () => {
  it("is shown with its password hidden", () => {
    const issue = issueAt(
      issuesOf(`${MINIMAL}mcp:\n  files:\n    url: \${FILES_URL}\n`, {
        FILES_URL: "ws://robot:hunter2-s3cret@files.internal:9000/mcp",
      }),
      "mcp.files.url",
    );
    assert.doesNotMatch(issue.message, /hunter2/);
    assert.match(issue.message, /ws:\/\/robot:\*\*\*@files\.internal/);
  });
});
