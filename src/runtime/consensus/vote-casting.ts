/**
 * How a hosted voter votes on a proposal it sees: its verdict (its rules
 * policy, then its vote handler; approve without either), then its signed
 * vote on the proposal's vote subject. Also what the node keeps of each
 * proposal its voters saw.
 */
import type { HierarchyPlan } from "../../consensus/hierarchy-plan.js";
import type { PbftReplica } from "../../consensus/pbft.js";
import { evaluatePolicy, type PolicyVerdict } from "../../consensus/policy.js";
import type { RuntimeProposal } from "../../consensus/rule.js";
import type { VoteChoice } from "../../consensus/types.js";
import { createVote, isVoteChoice, VOTE_REASON_MAX_LENGTH } from "../../consensus/vote.js";
import { toError } from "../../errors/index.js";
import type { Envelope } from "../../wire/envelope.js";
import { createSignedEnvelope } from "../../wire/signature.js";
import { consensusSubjects } from "../subjects.js";
import { type ConsensusContext, publish } from "./context.js";
import type { LocalVoter } from "./types.js";
import type { VoteContext } from "./voting.js";

/** What this node keeps of a proposal its hosted voters saw. */
export interface SeenProposal {
  readonly proposal: RuntimeProposal;
  readonly hash: string;
  plan?: HierarchyPlan;
  /** Local agents that voted on it, and cluster votes signed (`<cluster>:<agent>`). */
  readonly voted: Set<string>;
  readonly signed: Set<string>;
  /** PBFT: the replicas of hosted voters, by agent id. */
  replicas?: Map<string, PbftReplica>;
  /** PBFT: messages that arrived while the hosted voters were still deciding. */
  early?: Envelope[];
}

/** A voter's verdict: its rules, then its handler; approve without either. */
export async function decideVote(
  node: ConsensusContext,
  voter: LocalVoter,
  proposal: RuntimeProposal,
  hash: string,
  mismatch: string | undefined,
): Promise<PolicyVerdict | null> {
  if (mismatch !== undefined) {
    return { choice: "reject", reasons: [`refused: ${mismatch}`] };
  }
  const reasons: string[] = [];
  let abstained = false;
  try {
    if (voter.rules !== undefined) {
      const verdict = evaluatePolicy(voter.rules, proposal, {
        agent: voter.id,
        role: voter.role,
      });
      if (verdict.choice === "reject" || voter.handler === undefined) return verdict;
      abstained = verdict.choice === "abstain";
      reasons.push(...verdict.reasons);
    }
    if (voter.handler === undefined) {
      return { choice: "approve", reasons: ["no policy: approve"] };
    }
    const ctx: VoteContext = {
      agentId: voter.id,
      role: voter.role,
      proposal,
      sign: (choice: VoteChoice, reason?: string) =>
        createVote(
          {
            proposal,
            proposalHash: hash,
            from: voter.id,
            choice,
            ...(reason === undefined ? {} : { reason }),
            privateKey: voter.privateKey,
          },
          { clock: node.clock },
        ),
      signMessage: (type: string, body: unknown) =>
        createSignedEnvelope(
          { type, from: voter.id, corr: proposal.id, body: body as never },
          voter.privateKey,
          { clock: node.clock },
        ),
      send: (envelope: Envelope) =>
        publish(
          node,
          String(envelope.type).startsWith("consensus.pbft.")
            ? consensusSubjects.pbft(node.swarm, proposal.id)
            : consensusSubjects.vote(node.swarm, proposal.id),
          envelope,
        ),
    };
    const verdict = await voter.handler(proposal, ctx);
    if (verdict === null) return null;
    if (
      typeof verdict !== "object" ||
      !isVoteChoice(verdict.choice) ||
      !Array.isArray(verdict.reasons)
    ) {
      return {
        choice: "abstain",
        reasons: ["the vote handler returned no { choice, reasons } verdict"],
      };
    }
    // As allOf: a rejection anywhere stands, an abstention is not overruled by an approval.
    const choice = verdict.choice === "approve" && abstained ? "abstain" : verdict.choice;
    return { choice, reasons: [...reasons, ...verdict.reasons.map(String)] };
  } catch (error) {
    return { choice: "abstain", reasons: [`the policy failed: ${toError(error).message}`] };
  }
}

/** Signs and publishes a voter's verdict on the vote subject. */
export function castVote(
  node: ConsensusContext,
  seen: SeenProposal,
  voter: LocalVoter,
  verdict: PolicyVerdict,
): void {
  const { proposal, hash } = seen;
  const reason = verdict.reasons.join("; ").slice(0, VOTE_REASON_MAX_LENGTH);
  try {
    const vote = createVote(
      {
        proposal,
        proposalHash: hash,
        from: voter.id,
        choice: verdict.choice,
        ...(reason === "" ? {} : { reason }),
        privateKey: voter.privateKey,
      },
      { clock: node.clock },
    );
    publish(node, consensusSubjects.vote(node.swarm, proposal.id), vote);
    node.events.emit({
      type: "consensus.voted",
      proposal: proposal.id,
      agent: voter.id,
      choice: verdict.choice,
      reason,
    });
  } catch (error) {
    node.events.emit({
      type: "error",
      error: `${voter.id} could not vote on ${proposal.id}: ${toError(error).message}`,
    });
  }
}
