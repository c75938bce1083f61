/**
 * The messages of transient failures (a model, an MCP tool, a remote A2A
 * agent not answering) end up in dead-letter reasons once the task's
 * deliveries ran out ("delivered 4 times (maxDeliver 4); last failure: …").
 * They used to say "the task will be retried" there too; they now say the
 * failure is transient, which stays true wherever the message is read.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RemoteAgentUnavailableError } from "../../src/errors/interop.js";
import { ModelUnavailableError } from "../../src/errors/llm.js";
import { McpCallFailedError } from "../../src/errors/mcp.js";

test("transient failures do not promise a retry in their message", () => {
  const messages = [
    new ModelUnavailableError("fast", [{ model: "fast", reason: "circuit-open" }]).message,
    new McpCallFailedError("files", "read", { cause: new Error("timed out") }).message,
    new RemoteAgentUnavailableError("http://127.0.0.1:9/", "connection refused").message,
  ];
  for (const message of messages) {
    assert.doesNotMatch(message, /will be retried/, message);
    assert.match(message, /transient/, message);
  }
});
