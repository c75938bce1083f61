/**
 * A representative of an upper cluster signs its cluster's vote only from
 * child cluster votes on this very proposal. `checkClusterReport` checked
 * the proposal id and hash of every member vote of a leaf cluster, but not
 * of the child cluster votes of an upper one: a coordinator could hand it
 * cluster votes its children's representatives signed on another proposal
 * (where they approved) and have it sign, for this proposal, an approval
 * its children never gave.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type ClusterVoteBody,
  clusterVoteBody,
  createClusterVote,
} from "../../src/consensus/cluster-vote.js";
import { clusterBallotBox, planHierarchy } from "../../src/consensus/hierarchy-plan.js";
import type { Proposal, Voter } from "../../src/consensus/types.js";
import { hashProposal, verifierFromKeys } from "../../src/consensus/vote.js";
import { type AgentKeyPair, generateAgentKeyPair } from "../../src/identity/keys.js";
import { checkClusterReport } from "../../src/runtime/consensus/cluster-report.js";
import type { Envelope } from "../../src/wire/envelope.js";

const T0 = 1_700_000_000_000;
const keys = new Map<string, AgentKeyPair>();
const keyOf = (id: string) => {
  const pair = keys.get(id) ?? generateAgentKeyPair();
  keys.set(id, pair);
  return pair;
};
const verify = verifierFromKeys((id: string) => keys.get(id)?.publicKey);

const voters: Voter[] = Array.from({ length: 8 }, (_, i) => ({
  id: `agent-${i}`,
  weight: 1,
  role: "worker",
}));
const proposal = (id: string, data: unknown): Proposal => ({
  id,
  action: "backup.delete",
  data,
  proposer: "agent-0",
  ts: T0,
  deadline: T0 + 60_000,
  protocol: "hierarchical",
});

test("an upper cluster's representative refuses child cluster votes signed on another proposal", () => {
  const here = proposal("01JD00000000000000000000H1", { backup: "nightly" });
  const elsewhere = proposal("01JD00000000000000000000H2", { backup: "weekly" });
  const plan = planHierarchy({
    proposal: here,
    voters,
    threshold: { fraction: 0.5 },
    clusterSize: 2,
  });
  const upper = plan.levels[1]?.[0];
  assert.ok(upper?.parent !== undefined, "a non-root cluster above the leaves");
  const now = T0 + 10_000;
  /** What child `childId`'s representative signs for `about`, approved. */
  const childVote = (childId: string, about: Proposal): Envelope => {
    const child = plan.nodes.get(childId);
    assert.ok(child);
    const body: ClusterVoteBody = {
      ...clusterVoteBody(plan, child, {
        outcome: "approved",
        tally: { approve: 2, reject: 0, abstain: 0, threshold: 2, total: 2 },
        votes: [],
        decidedAt: now - 1000,
      }),
      proposal: about.id,
      proposalHash: hashProposal(about),
    };
    const rep = child.representatives[0] as string;
    return createClusterVote(body, rep, keyOf(rep).privateKey);
  };
  const report = (children: readonly Envelope[]): ClusterVoteBody => {
    const box = clusterBallotBox(plan, upper);
    for (const child of upper.members) box.cast(child, "approve", false);
    return clusterVoteBody(plan, upper, {
      outcome: "approved",
      tally: box.tally(),
      votes: children,
      decidedAt: now,
    });
  };
  for (const voter of voters) keyOf(voter.id);

  const honest = upper.members.map((child) => childVote(child, here));
  assert.equal(
    checkClusterReport(plan, upper, report(honest), honest, verify, now),
    undefined,
    "this proposal's child votes are signed for",
  );
  const foreign = upper.members.map((child) => childVote(child, elsewhere));
  const problem = checkClusterReport(plan, upper, report(foreign), foreign, verify, now);
  assert.match(problem ?? "", /another proposal/);
});
