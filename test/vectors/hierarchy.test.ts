/**
 * test/vectors/hierarchy.json: the tree of a hierarchical vote as
 * docs/PROTOCOL.md ("Counting: the quorum rule", Hierarchical) describes it
 * for a client in another language: the seed from the proposal hash,
 * mulberry32, the Fisher–Yates shuffle, the even cut into clusters, the
 * representatives and the level deadlines. The file was written once with
 * `planHierarchy`; this test keeps the two in step.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { defaultHierarchySeed, planHierarchy } from "../../src/consensus/hierarchy-plan.js";
import type { Proposal, Voter } from "../../src/consensus/types.js";
import { hashProposal } from "../../src/consensus/vote.js";
import { seededRandom } from "../../src/core/random.js";

const v = JSON.parse(readFileSync(new URL("./hierarchy.json", import.meta.url), "utf8")) as {
  proposal: Proposal;
  proposalHash: string;
  voters: Voter[];
  clusterSize: number;
  seed: number;
  mulberry32: number[];
  shuffled: string[];
  levelDeadlines: number[];
  clusters: {
    id: string;
    members: string[];
    representatives: string[];
    weight: number;
    closesAt: number;
  }[];
};

test("hierarchy.json: the seed is the proposal hash's first 8 hex digits, and mulberry32's outputs", () => {
  assert.equal(hashProposal(v.proposal), v.proposalHash);
  assert.equal(defaultHierarchySeed(v.proposalHash), v.seed);
  assert.equal(v.seed, Number.parseInt(v.proposalHash.slice(0, 8), 16));
  const random = seededRandom(v.seed);
  assert.deepEqual(
    v.mulberry32.map(() => random.next()),
    v.mulberry32,
  );
});

test("hierarchy.json: planHierarchy builds exactly the recorded tree", () => {
  const plan = planHierarchy({
    proposal: v.proposal,
    voters: v.voters,
    threshold: { fraction: 0.5 },
    clusterSize: v.clusterSize,
  });
  assert.deepEqual(
    plan.levels[0]?.flatMap((c) => c.members),
    v.shuffled,
  );
  assert.deepEqual(plan.levelDeadlines, v.levelDeadlines);
  assert.deepEqual(
    plan.levels.flat().map((c) => ({
      id: c.id,
      members: c.members,
      representatives: c.representatives,
      weight: c.weight,
      closesAt: c.closesAt,
    })),
    v.clusters,
  );
});
