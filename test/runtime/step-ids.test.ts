/**
 * The ids an LLM agent's steps derive, checked against the test vectors
 * published in docs/PROTOCOL.md ("LLM agents"), read from the document
 * itself so the two cannot drift apart.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { callHoldKey } from "../../src/runtime/agent-llm.js";
import { childTaskId } from "../../src/runtime/step-journal.js";

const protocol = readFileSync(join(import.meta.dirname, "..", "..", "docs", "PROTOCOL.md"), "utf8");

test("child task ids match PROTOCOL.md's vectors", () => {
  const rows = [...protocol.matchAll(/^\| `(\w{26})` \| `([^`]+)` \| `(\w{26})` \|$/gm)];
  assert.ok(rows.length >= 2, "the vectors are in the document");
  for (const [, parent, step, child] of rows) {
    assert.equal(childTaskId(parent as string, step as string), child, `${parent} / ${step}`);
  }
});

test("a call's hold key matches PROTOCOL.md's example", () => {
  const example = /task (\w{26}), agent ([\w-]+), step (\S+)\n\s+→ (\S+)/.exec(protocol);
  assert.ok(example, "the example is in the document");
  const [, task, agent, step, key] = example;
  assert.equal(callHoldKey(task as string, agent as string, step as string), key);
});

test("child ids differ by step and keep the parent's time", () => {
  const parent = "01JD7X3V9Q2M8K4N6P0R5S7T9W";
  const a = childTaskId(parent, "s1");
  const b = childTaskId(parent, "s2");
  assert.notEqual(a, b);
  assert.equal(a.slice(0, 10), parent.slice(0, 10));
  assert.match(a, /^[0-9A-HJKMNP-TV-Z]{26}$/);
});
