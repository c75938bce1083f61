/**
 * Offline recomputation of a quorum or hierarchical outcome from its signed
 * votes: the function behind `verifyDecision`. It trusts nothing in the
 * record but the public keys and the configuration: every signature is
 * checked, every vote must be for this exact proposal and from an eligible
 * sender, at most once, and every tally and outcome (each cluster's, then
 * the root's) is recomputed with the same rule the live rounds use.
 */
import type { Envelope } from "../wire/envelope.js";
import type { BallotBox } from "./ballot-box.js";
import { type ClusterVoteBody, parseClusterVoteBody, voteRefs } from "./cluster-vote.js";
import { type ClusterNode, clusterBallotBox, type HierarchyPlan } from "./hierarchy-plan.js";
import type { Outcome, Tally, VoteBody, Voter } from "./types.js";
import { CLUSTER_VOTE_TYPE, parseVoteBody, VOTE_TYPE } from "./vote.js";

/** What the audit checks a record against. */
export interface AuditedRecord {
  readonly votes: readonly Envelope[];
  readonly tally: Tally;
  readonly outcome: Outcome;
  readonly decidedAt: number;
}

/** Returns why `envelope`'s signature is not acceptable, or undefined if it is. */
export type SignatureCheck = (envelope: Envelope) => string | undefined;

interface Counted<TBody> {
  readonly envelope: Envelope;
  readonly body: TBody;
}

/**
 * Recomputes a record under a plan. Returns undefined when every vote,
 * tally and outcome checks out, else the first problem found.
 */
export function auditRecord(
  plan: HierarchyPlan,
  record: AuditedRecord,
  checkSignature: SignatureCheck,
): string | undefined {
  const votes = new Map<string, Counted<VoteBody>>();
  const clusterVotes = new Map<string, Counted<ClusterVoteBody>>();
  const ids = new Set<string>();
  for (let i = 0; i < record.votes.length; i++) {
    const envelope = record.votes[i] as Envelope;
    const what = `vote #${i} (${String(envelope.id)} from ${String(envelope.from)})`;
    if (ids.has(envelope.id)) return `${what} appears twice in the record`;
    ids.add(envelope.id);
    const bad = checkSignature(envelope);
    if (bad !== undefined) return `${what}: ${bad}`;
    if (envelope.type === VOTE_TYPE) {
      const body = parseVoteBody(envelope.body);
      if (typeof body === "string") return `${what}: ${body}`;
      if (!plan.voters.has(envelope.from))
        return `${what}: ${envelope.from} is not an eligible voter`;
      if (body.proposal !== plan.proposal.id || body.proposalHash !== plan.proposalHash) {
        return `${what} is for another proposal (or another version of it)`;
      }
      if (votes.has(envelope.from)) return `${what} is a second vote from ${envelope.from}`;
      votes.set(envelope.from, { envelope, body });
    } else if (envelope.type === CLUSTER_VOTE_TYPE) {
      const body = parseClusterVoteBody(envelope.body);
      if (typeof body === "string") return `${what}: ${body}`;
      const node = plan.nodes.get(body.cluster);
      if (node === undefined || node.parent === undefined) {
        return `${what} reports on "${body.cluster}", which is not a non-root cluster of the plan`;
      }
      if (!node.representatives.includes(envelope.from)) {
        return `${what}: ${envelope.from} does not represent cluster ${node.id}`;
      }
      if (body.proposal !== plan.proposal.id || body.proposalHash !== plan.proposalHash) {
        return `${what} is for another proposal (or another version of it)`;
      }
      if (body.level !== node.level || body.weight !== node.weight) {
        return `${what} gives cluster ${node.id} the wrong level or weight`;
      }
      if (clusterVotes.has(node.id)) return `${what} is a second report on cluster ${node.id}`;
      clusterVotes.set(node.id, { envelope, body });
    } else {
      return `${what} is a ${String(envelope.type)}, not a vote`;
    }
  }

  for (const level of plan.levels) {
    for (const node of level) {
      const { box, counted } = countCluster(plan, node, votes, clusterVotes);
      if (node.parent === undefined) {
        const outcome = box.outcome(record.decidedAt >= node.closesAt);
        if (outcome === undefined) {
          return `the decision was sealed at ${record.decidedAt}, while the outcome was still open (votes close at ${node.closesAt})`;
        }
        if (outcome !== record.outcome) {
          return `the votes give ${outcome}, the decision says ${record.outcome}`;
        }
        const tally = box.tally();
        if (!sameTally(tally, record.tally)) {
          return `the votes give the tally ${JSON.stringify(tally)}, the decision says ${JSON.stringify(record.tally)}`;
        }
        continue;
      }
      const report = clusterVotes.get(node.id);
      if (report === undefined) continue;
      const what = `the cluster vote for ${node.id} (${report.envelope.id} from ${report.envelope.from})`;
      const refs = voteRefs(counted);
      if (JSON.stringify(refs) !== JSON.stringify(report.body.votes)) {
        return `${what} lists other votes than the record holds for that cluster`;
      }
      const outcome = box.outcome(report.body.decidedAt >= node.closesAt);
      if (outcome === undefined) {
        return `${what} was cast at ${report.body.decidedAt}, while the cluster was still open`;
      }
      if (outcome !== report.body.outcome) {
        return `${what} reports ${report.body.outcome}; its votes give ${outcome}`;
      }
      if (!sameTally(box.tally(), report.body.tally)) {
        return `${what} reports a tally its votes do not give`;
      }
    }
  }
  return undefined;
}

function countCluster(
  plan: HierarchyPlan,
  node: ClusterNode,
  votes: ReadonlyMap<string, Counted<VoteBody>>,
  clusterVotes: ReadonlyMap<string, Counted<ClusterVoteBody>>,
): { box: BallotBox; counted: Envelope[] } {
  const counted: Envelope[] = [];
  const box = clusterBallotBox(plan, node);
  for (const id of node.members) {
    if (node.level === 0) {
      const vote = votes.get(id);
      if (vote === undefined) continue;
      counted.push(vote.envelope);
      const voter = plan.voters.get(id) as Voter;
      box.cast(id, vote.body.choice, plan.vetoRoles.has(voter.role));
    } else {
      const report = clusterVotes.get(id);
      if (report === undefined) continue;
      counted.push(report.envelope);
      box.cast(id, report.body.choice, report.body.outcome === "vetoed");
    }
  }
  return { box, counted };
}

function sameTally(a: Tally, b: Tally): boolean {
  return (
    a.approve === b.approve &&
    a.reject === b.reject &&
    a.abstain === b.abstain &&
    a.threshold === b.threshold &&
    a.total === b.total
  );
}
