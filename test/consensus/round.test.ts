/**
 * The one round interface the engine drives (`ConsensusRound`): what each
 * adapter's receipts, ticks and deadlines promise, beyond what the
 * protocols' own tests and the simulator runs cover.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createHierarchicalRound } from "../../src/consensus/hierarchical.js";
import { createPbftRound } from "../../src/consensus/pbft-round.js";
import { createQuorumRound } from "../../src/consensus/quorum.js";
import {
  fixedRound,
  fromHierarchicalRound,
  fromPbftRound,
  fromQuorumRound,
} from "../../src/consensus/round.js";
import type { Proposal, Voter } from "../../src/consensus/types.js";
import { createVote, hashProposal, verifierFromKeys } from "../../src/consensus/vote.js";
import { keysOf } from "../sim/pbft-harness.js";

const T0 = 1_700_000_000_000;
const ids = Array.from({ length: 10 }, (_, i) => `a${i}`);
const voters: Voter[] = ids.map((id) => ({ id, weight: 1, role: "member" }));
const verify = verifierFromKeys(new Map(ids.map((id) => [id, keysOf(id).publicKey])));

function proposalOf(protocol: Proposal["protocol"]): Proposal {
  return {
    id: `p-${protocol}`,
    action: "funds.transfer",
    data: { amount: 1 },
    proposer: "a0",
    ts: T0,
    deadline: T0 + 3_000,
    protocol,
  };
}

function voteOf(proposal: Proposal, from: string, at = T0 + 1) {
  return createVote(
    { proposal, from, privateKey: keysOf(from).privateKey, choice: "approve" },
    { clock: { now: () => at, setTimer: () => () => undefined } },
  );
}

describe("ConsensusRound adapters", () => {
  it("quorum: the receipt's outcome is set by the step that decides; the deadline is the close", () => {
    const proposal = proposalOf("quorum");
    const round = fromQuorumRound(
      createQuorumRound({ proposal, voters, threshold: { fraction: 0.5, strict: true }, verify }),
    );
    assert.equal(round.nextDeadline(T0), proposal.deadline);
    assert.equal(round.nextDeadline(proposal.deadline), undefined);
    for (const id of ids.slice(0, 5)) {
      const receipt = round.step(voteOf(proposal, id), T0 + 1);
      assert.deepEqual(receipt, { accepted: true, outgoing: [] });
    }
    assert.equal(round.ready(), false);
    assert.deepEqual(round.step(voteOf(proposal, "a5"), T0 + 2), {
      accepted: true,
      outcome: "approved",
      outgoing: [],
    });
    assert.equal(round.ready(), true);
    const late = round.step(voteOf(proposal, "a6"), T0 + 3);
    assert.equal(late.accepted ? "accepted" : late.reason, "decided");
  });

  it("hierarchical: a decided cluster becomes a request carrying its signed votes; the outcome is the root's", () => {
    const proposal = proposalOf("hierarchical");
    const inner = createHierarchicalRound({
      proposal,
      voters,
      threshold: { fraction: 0.5, strict: true },
      clusterSize: 5,
      verify,
    });
    const round = fromHierarchicalRound(inner, { resendMs: 100 });
    assert.deepEqual(
      [T0, ...inner.plan.levelDeadlines.slice(0, -1)].map((t) => round.nextDeadline(t)),
      inner.plan.levelDeadlines,
    );
    const leaf = inner.plan.levels[0]?.[0];
    assert.ok(leaf);
    const requests = [];
    for (const id of leaf.members) {
      const receipt = round.step(voteOf(proposal, id), T0 + 1);
      assert.equal(receipt.accepted, true);
      assert.equal(receipt.accepted && receipt.outcome, undefined, "a cluster is not the round");
      requests.push(...receipt.outgoing);
      if (requests.length > 0) break; // the cluster is decided: later votes are not counted
    }
    assert.equal(requests.length, 1);
    const request = requests[0];
    assert.equal(request?.cluster.cluster, leaf.id);
    assert.deepEqual(
      request?.votes.map((v) => v.id),
      request?.cluster.body.votes.map((ref) => ref.id),
    );
    assert.ok((request?.votes.length ?? 0) >= 3, "the majority that decided the cluster");
    // Unanswered: asked again once resendMs has passed, not before.
    assert.equal(round.tick(T0 + 50).outgoing.length, 0);
    assert.equal(round.tick(T0 + 101).outgoing[0]?.cluster.cluster, leaf.id);
  });

  it("pbft: fewer than 4 replicas is ready at once; refusals say late, decided or malformed", () => {
    const proposal = proposalOf("pbft");
    const few = fromPbftRound(createPbftRound({ proposal, replicas: voters.slice(0, 3), verify }));
    assert.equal(few.ready(), true);
    assert.equal(few.result()?.outcome, "no-quorum");
    const round = fromPbftRound(createPbftRound({ proposal, replicas: voters, verify }));
    const odd = round.step({ ...voteOf(proposal, "a1"), type: "task.other" }, T0 + 1);
    assert.equal(odd.accepted ? "accepted" : odd.reason, "malformed");
    const late = round.step(voteOf(proposal, "a1"), proposal.deadline);
    assert.equal(late.accepted ? "accepted" : late.reason, "late");
    assert.equal(round.result()?.outcome, "no-quorum");
    const after = round.step(voteOf(proposal, "a2"), proposal.deadline + 1);
    assert.equal(after.accepted ? "accepted" : after.reason, "decided");
  });

  it("fixed: decided before any vote, refuses every envelope, never needs waking", () => {
    const proposal = proposalOf("quorum");
    const result = {
      proposal,
      protocol: "quorum" as const,
      proposalHash: hashProposal(proposal),
      votes: [],
      tally: { approve: 0, reject: 0, abstain: 0, threshold: 5, total: 4 },
      outcome: "no-quorum" as const,
      evidence: [],
      decidedAt: T0,
      reason: "unreachable",
    };
    const round = fixedRound(result);
    assert.equal(round.ready(), true);
    assert.equal(round.result(), result);
    assert.equal(round.nextDeadline(T0), undefined);
    assert.deepEqual(round.tick(T0 + 1), { outgoing: [], result });
    const receipt = round.step(voteOf(proposal, "a1"), T0 + 1);
    assert.equal(receipt.accepted ? "accepted" : receipt.reason, "decided");
  });
});
