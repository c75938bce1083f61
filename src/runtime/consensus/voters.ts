/**
 * The voters' side of consensus on one node: a signed proposal reaches the
 * hosted voters it lists, who vote by their policy (see `vote-casting.ts`),
 * or for a `pbft` proposal take part through their replicas (see
 * `pbft-replicas.ts`); as representatives of a decided cluster they sign the
 * cluster's vote when the coordinator asks.
 */
import {
  type ClusterVoteBody,
  createClusterVote,
  parseClusterVoteBody,
} from "../../consensus/cluster-vote.js";
import { planHierarchy } from "../../consensus/hierarchy-plan.js";
import { parseRuntimeProposal, type RuntimeProposal, ruleMismatch } from "../../consensus/rule.js";
import type { Verifier } from "../../consensus/types.js";
import { hashProposal } from "../../consensus/vote.js";
import { InvalidEnvelopeError, SignatureError } from "../../errors/index.js";
import type { Message } from "../../transport/port.js";
import { decodeEnvelope } from "../../wire/codec.js";
import { type Envelope, parseEnvelope } from "../../wire/envelope.js";
import { CLUSTER_REQUEST_TYPE, consensusSubjects, PROPOSAL_TYPE } from "../subjects.js";
import { startProcessSpan } from "../tracing.js";
import { CLOCK_SKEW_MS, checkClusterReport } from "./cluster-report.js";
import { type ConsensusContext, localVoter, publish } from "./context.js";
import type { HostedReplicas } from "./pbft-replicas.js";
import { ROUND_DEADLINE_RANGE_MS } from "./rounds.js";
import type { LocalVoter } from "./types.js";
import { castVote, decideVote, type SeenProposal } from "./vote-casting.js";

/** How long a seen proposal is remembered after its deadline (late cluster requests). */
const SEEN_GRACE_MS = 60_000;

/**
 * Why a proposal stays open longer than any node proposes one (its window
 * or its deadline more than {@link ROUND_DEADLINE_RANGE_MS} `.max` away),
 * or undefined. Kept until its deadline, with PBFT replicas ticking, such a
 * proposal would hold this node's memory and timers for as long as its
 * signer liked.
 */
function openTooLong(proposal: RuntimeProposal, now: number): string | undefined {
  const { max } = ROUND_DEADLINE_RANGE_MS;
  if (proposal.deadline - proposal.ts > max || proposal.deadline > now + max + CLOCK_SKEW_MS) {
    return `proposal ${proposal.id} would stay open until ${proposal.deadline} (proposed at ${proposal.ts}, now ${now}); a round is open for at most ${max} ms: propose it with a deadlineMs of at most that`;
  }
  return undefined;
}

/** The hosted voters' side of consensus rounds on one node. */
export class VoterSide {
  readonly #node: ConsensusContext;
  readonly #verify: Verifier;
  readonly #replicas: HostedReplicas;
  readonly #seen = new Map<string, SeenProposal>();
  #closed = false;

  constructor(node: ConsensusContext, verify: Verifier, replicas: HostedReplicas) {
    this.#node = node;
    this.#verify = verify;
    this.#replicas = replicas;
  }

  /** What this node keeps of proposal `id`, if its voters saw it. */
  seen(id: string): SeenProposal | undefined {
    return this.#seen.get(id);
  }

  /** The proposals seen here (not yet forgotten). */
  proposals(): RuntimeProposal[] {
    return [...this.#seen.values()].map((seen) => seen.proposal);
  }

  /** Stops: verdicts still being decided cast no vote. */
  close(): void {
    this.#closed = true;
  }

  /** Forgets proposals seen long ago. */
  forgetOld(now: number): void {
    for (const [id, seen] of this.#seen) {
      if (now > seen.proposal.deadline + SEEN_GRACE_MS) this.#seen.delete(id);
    }
  }

  /** A proposal arrived on `<swarm>.consensus.proposal`: the hosted voters it lists vote. */
  async onProposal(message: Message): Promise<void> {
    const node = this.#node;
    let envelope: Envelope;
    let proposal: RuntimeProposal;
    try {
      envelope = decodeEnvelope(message.data, { maxBytes: node.limits.maxEnvelopeBytes });
      node.keys.verify(envelope);
      if (envelope.type !== PROPOSAL_TYPE) {
        throw new InvalidEnvelopeError(`expected a ${PROPOSAL_TYPE}, got ${envelope.type}`);
      }
      const parsed = parseRuntimeProposal(envelope.body);
      if (typeof parsed === "string") throw new InvalidEnvelopeError(`proposal: ${parsed}`);
      if (parsed.proposer !== envelope.from) {
        throw new SignatureError(
          `proposal ${parsed.id} names ${parsed.proposer} as proposer but is signed by ${envelope.from}`,
        );
      }
      const open = openTooLong(parsed, node.clock.now());
      if (open !== undefined) throw new InvalidEnvelopeError(open);
      proposal = parsed;
    } catch (error) {
      node.deadLetters.park(message, error);
      return;
    }
    const now = node.clock.now();
    if (now >= proposal.deadline || this.#seen.has(proposal.id)) return;
    if (this.#seen.size > 1000) this.forgetOld(now);
    const hash = hashProposal(proposal);
    const seen: SeenProposal = { proposal, hash, voted: new Set(), signed: new Set() };
    this.#seen.set(proposal.id, seen);
    const voters: LocalVoter[] = [];
    let mismatch = ruleMismatch(proposal, node.privileged[proposal.action], node.roles.names);
    for (const listed of proposal.rule.voters) {
      const local = localVoter(node, listed.id);
      if (local === undefined || seen.voted.has(listed.id)) continue;
      seen.voted.add(listed.id);
      voters.push(local);
      if (
        local.role !== listed.role ||
        local.weight !== listed.weight ||
        local.publicKey !== listed.publicKey
      ) {
        mismatch ??= `the proposal lists ${listed.id} with another role, weight or key than it has`;
      }
    }
    const early = this.#replicas.takeEarly(proposal.id);
    if (voters.length === 0) return;
    const pbft = proposal.protocol === "pbft";
    if (pbft) seen.early = early ?? [];
    // This node's part of the round: a child of the proposer's span.
    const span = startProcessSpan(envelope, {
      transportKind: node.transport.kind,
      subject: message.subject,
    });
    try {
      // Every verdict first, then the votes in electorate order: what a
      // handler sends on its own goes out before the honest votes.
      const verdicts = await span.run(() =>
        Promise.all(voters.map((voter) => decideVote(node, voter, proposal, hash, mismatch))),
      );
      if (this.#closed) return;
      if (pbft) {
        this.#replicas.start(seen, voters, verdicts);
        return;
      }
      voters.forEach((voter, i) => {
        const verdict = verdicts[i];
        if (verdict === null || verdict === undefined) return;
        castVote(node, seen, voter, verdict);
      });
    } catch (error) {
      span.fail(error);
      throw error;
    } finally {
      span.end();
    }
  }

  /**
   * A coordinator asks the representatives of a decided cluster (on
   * `<swarm>.consensus.cluster.<proposal>`) to sign the cluster's vote: those
   * hosted here recompute its outcome from the votes it hands them and sign
   * only what they give.
   */
  onClusterRequest(message: Message): void {
    const node = this.#node;
    const proposalId = message.subject.slice(message.subject.lastIndexOf(".") + 1);
    const seen = this.#seen.get(proposalId);
    if (seen === undefined) return;
    let request: { cluster: string; body: ClusterVoteBody; votes: Envelope[] };
    try {
      const envelope = decodeEnvelope(message.data, { maxBytes: node.limits.maxEnvelopeBytes });
      node.keys.verify(envelope);
      if (envelope.type !== CLUSTER_REQUEST_TYPE || envelope.from !== seen.proposal.proposer) {
        throw new SignatureError(
          `a cluster request for ${proposalId} must come from its proposer ${seen.proposal.proposer}`,
        );
      }
      const raw = envelope.body as { cluster?: unknown; body?: unknown; votes?: unknown };
      const body = parseClusterVoteBody(raw.body);
      if (
        typeof body === "string" ||
        typeof raw.cluster !== "string" ||
        !Array.isArray(raw.votes)
      ) {
        throw new InvalidEnvelopeError(
          `cluster request: ${typeof body === "string" ? body : "expected { cluster, body, votes }"}`,
        );
      }
      request = { cluster: raw.cluster, body, votes: raw.votes.map((v) => parseEnvelope(v)) };
    } catch (error) {
      node.deadLetters.park(message, error);
      return;
    }
    const rule = seen.proposal.rule;
    seen.plan ??= planHierarchy({
      proposal: seen.proposal,
      proposalHash: seen.hash,
      voters: rule.voters,
      threshold: rule.threshold,
      vetoRoles: rule.vetoRoles,
      ...(rule.clusterSize === undefined ? {} : { clusterSize: rule.clusterSize }),
    });
    const clusterNode = seen.plan.nodes.get(request.cluster);
    if (clusterNode === undefined) return;
    const representatives = clusterNode.representatives
      .map((id) => localVoter(node, id))
      .filter(
        (v): v is LocalVoter => v !== undefined && !seen.signed.has(`${request.cluster}:${v.id}`),
      );
    if (representatives.length === 0) return;
    const problem = checkClusterReport(
      seen.plan,
      clusterNode,
      request.body,
      request.votes,
      this.#verify,
      node.clock.now(),
    );
    if (problem !== undefined) {
      node.events.emit({
        type: "error",
        error: `refused to sign cluster ${request.cluster} of proposal ${proposalId}: ${problem}`,
      });
      return;
    }
    for (const rep of representatives) {
      seen.signed.add(`${request.cluster}:${rep.id}`);
      const vote = createClusterVote(request.body, rep.id, rep.privateKey, { clock: node.clock });
      publish(node, consensusSubjects.vote(node.swarm, proposalId), vote);
    }
  }
}
