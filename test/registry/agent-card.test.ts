import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type AgentCard,
  hasAll,
  isAcceptingWork,
  sameCard,
  statusOf,
} from "../../src/registry/index.js";

const base: AgentCard = {
  id: "a1",
  role: "reviewer",
  tags: ["ts", "security"],
  capabilities: ["code_review"],
  weight: 1,
  publicKey: "key-a1",
};

describe("agent card", () => {
  it("treats a missing status as active", () => {
    assert.equal(statusOf(base), "active");
    assert.equal(isAcceptingWork(base), true);
    assert.equal(isAcceptingWork({ ...base, status: "draining" }), false);
    assert.equal(isAcceptingWork({ ...base, status: "halted" }), false);
  });

  it("compares cards by content", () => {
    assert.equal(sameCard(base, { ...base, tags: ["ts", "security"] }), true);
    assert.equal(sameCard(base, { ...base, status: "active" }), true);
    assert.equal(sameCard(base, { ...base, status: "draining" }), false);
    assert.equal(sameCard(base, { ...base, tags: ["ts"] }), false);
    assert.equal(sameCard(base, { ...base, publicKey: "key-rotated" }), false);
    assert.equal(sameCard(base, { ...base, node: "n1" }), false);
    assert.equal(sameCard(base, { ...base, weight: 2 }), false);
  });

  it("matches all wanted items", () => {
    assert.equal(hasAll(["a", "b"], []), true);
    assert.equal(hasAll(["a", "b"], ["b", "a"]), true);
    assert.equal(hasAll(["a"], ["a", "b"]), false);
  });
});
