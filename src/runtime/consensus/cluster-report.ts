/**
 * What a representative checks before it signs its cluster's vote in a
 * hierarchical round: the coordinator asks it to sign a body and hands it
 * the signed votes the body counts; the representative recomputes the
 * cluster's tally and outcome from those votes alone and signs only if the
 * body says exactly that. A coordinator cannot make an honest
 * representative report what its members did not vote.
 */
import {
  type ClusterVoteBody,
  parseClusterVoteBody,
  voteRefs,
} from "../../consensus/cluster-vote.js";
import {
  type ClusterNode,
  clusterBallotBox,
  type HierarchyPlan,
} from "../../consensus/hierarchy-plan.js";
import type { Verifier, Voter } from "../../consensus/types.js";
import { CLUSTER_VOTE_TYPE, parseVoteBody, VOTE_TYPE } from "../../consensus/vote.js";
import { canonicalize } from "../../wire/canonical.js";
import type { Envelope } from "../../wire/envelope.js";

/** Clock difference between nodes tolerated when judging a report's `decidedAt`. */
export const CLOCK_SKEW_MS = 2000;

/**
 * Returns why the representative must not sign `body` for `node`, or
 * undefined when the signed `envelopes` give exactly that body.
 */
export function checkClusterReport(
  plan: HierarchyPlan,
  node: ClusterNode,
  body: ClusterVoteBody,
  envelopes: readonly Envelope[],
  verify: Verifier,
  now: number,
): string | undefined {
  if (node.parent === undefined) return "the root cluster casts no cluster vote";
  if (body.proposal !== plan.proposal.id || body.proposalHash !== plan.proposalHash) {
    return "the report is for another proposal (or another version of it)";
  }
  if (body.cluster !== node.id || body.level !== node.level || body.weight !== node.weight) {
    return `the report's cluster, level or weight is not cluster ${node.id}'s`;
  }
  if (body.decidedAt > now + CLOCK_SKEW_MS) {
    return `the report is dated ${body.decidedAt}, in the future`;
  }
  const box = clusterBallotBox(plan, node);
  for (const envelope of envelopes) {
    const what = `${String(envelope.type)} ${String(envelope.id)} from ${String(envelope.from)}`;
    if (!verify(envelope)) return `${what} is not signed by its sender`;
    if (node.level === 0) {
      if (envelope.type !== VOTE_TYPE) return `${what} is not a vote`;
      const vote = parseVoteBody(envelope.body);
      if (typeof vote === "string") return `${what}: ${vote}`;
      if (!box.hasSlot(envelope.from)) return `${what}: not a member of cluster ${node.id}`;
      if (vote.proposal !== plan.proposal.id || vote.proposalHash !== plan.proposalHash) {
        return `${what} is for another proposal`;
      }
      if (box.has(envelope.from)) return `${what} is a second vote from its sender`;
      const voter = plan.voters.get(envelope.from) as Voter;
      box.cast(envelope.from, vote.choice, plan.vetoRoles.has(voter.role));
    } else {
      if (envelope.type !== CLUSTER_VOTE_TYPE) return `${what} is not a cluster vote`;
      const report = parseClusterVoteBody(envelope.body);
      if (typeof report === "string") return `${what}: ${report}`;
      const child = plan.nodes.get(report.cluster);
      if (child === undefined || child.parent !== node.id) {
        return `${what} reports on ${report.cluster}, not a child of ${node.id}`;
      }
      if (!child.representatives.includes(envelope.from)) {
        return `${what}: ${envelope.from} does not represent ${child.id}`;
      }
      if (report.proposal !== plan.proposal.id || report.proposalHash !== plan.proposalHash) {
        return `${what} is for another proposal`;
      }
      if (report.level !== child.level || report.weight !== child.weight) {
        return `${what} gives ${child.id} another level or weight than the plan`;
      }
      if (box.has(child.id)) return `${what} is a second report on ${child.id}`;
      box.cast(child.id, report.choice, report.outcome === "vetoed");
    }
  }
  const deadlinePassed = body.decidedAt >= node.closesAt;
  if (deadlinePassed && now + CLOCK_SKEW_MS < node.closesAt) {
    return `the report says cluster ${node.id} closed, but it closes at ${node.closesAt}`;
  }
  const outcome = box.outcome(deadlinePassed);
  if (outcome === undefined) return `the votes leave cluster ${node.id} undecided`;
  if (outcome !== body.outcome) return `the votes give ${outcome}, the report says ${body.outcome}`;
  if (canonicalize(box.tally()) !== canonicalize(body.tally)) {
    return "the report's tally is not what the votes give";
  }
  if (canonicalize(voteRefs(envelopes)) !== canonicalize(body.votes)) {
    return "the report lists other votes than those handed over";
  }
  return undefined;
}
