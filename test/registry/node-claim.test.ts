/**
 * Which node an agent is on: a node that has agents in the registry is
 * announced only by one of them (see `nodeClaimConflict`); the registry
 * counts its agents per node for it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AgentCard } from "../../src/registry/agent-card.js";
import { nodeClaimConflict } from "../../src/registry/gossip.js";
import { createRegistryView } from "../../src/registry/registry-view.js";

const card = (id: string, node: string | undefined): AgentCard => ({
  id,
  role: "dev",
  tags: [],
  capabilities: [],
  weight: 1,
  publicKey: "A".repeat(43),
  ...(node === undefined ? {} : { node }),
});

test("the registry counts its agents per node through joins, moves, leaves and timeouts", () => {
  const view = createRegistryView({ suspectAfterMs: 100, leftAfterMs: 200 });
  view.observe(card("b1", "node-b"), 0);
  view.observe(card("b2", "node-b"), 0);
  view.observe(card("a1", "node-a"), 0);
  assert.equal(view.agentsOn("node-b"), 2);
  view.observe(card("b2", "node-c"), 10);
  assert.deepEqual([view.agentsOn("node-b"), view.agentsOn("node-c")], [1, 1]);
  view.leave("b1", 20);
  assert.equal(view.agentsOn("node-b"), 0);
  view.revoke("a1", 30);
  assert.equal(view.agentsOn("node-a"), 0);
  view.tick(1_000);
  assert.equal(view.agentsOn("node-c"), 0);
  assert.equal(view.size, 0);
});

test("only one of a node's agents announces it; anyone may announce a new node", () => {
  const view = createRegistryView({ suspectAfterMs: 100, leftAfterMs: 200 });
  view.observe(card("b1", "node-b"), 0);
  view.observe(card("x", "node-a"), 0);
  assert.match(
    nodeClaimConflict(card("x", "node-b"), view) ?? "",
    /which has agents here, and it is not one of them/,
  );
  assert.equal(nodeClaimConflict(card("b1", "node-b"), view), undefined);
  // A new node id (a process restarted), or a card naming none.
  assert.equal(nodeClaimConflict(card("x", "node-new"), view), undefined);
  assert.equal(nodeClaimConflict(card("x", undefined), view), undefined);
  // Once node-b's agents are gone, its id is free again.
  view.leave("b1", 10);
  assert.equal(nodeClaimConflict(card("x", "node-b"), view), undefined);
});
