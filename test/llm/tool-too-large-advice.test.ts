/**
 * A tool result over the limit stops the task (`ToolResultTooLargeError`,
 * permanent). Its message told everyone to "raise maxToolResultBytes",
 * which only `createLlmClient` takes: a swarm's `ctx.llm` (and an `llm:`
 * agent without code) has no such setting, so the advice sent users
 * looking for a key that does not exist. The message now says what a tool
 * can do, and where the limit can be raised.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ToolResultTooLargeError } from "../../src/llm/index.js";

test("the message says to shrink the result, and where the limit is set", () => {
  const { message } = new ToolResultTooLargeError("search.web", 70_000, 65_536);
  assert.match(
    message,
    /tool "search\.web" returned 70000 bytes of JSON, over the 65536-byte limit/,
  );
  assert.match(message, /return a summary or a reference/);
  assert.match(message, /createLlmClient/, "where maxToolResultBytes can be raised");
  assert.match(message, /ctx\.llm/, "that a swarm's ctx.llm cannot raise it");
});
