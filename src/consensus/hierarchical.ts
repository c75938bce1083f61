/**
 * The `hierarchical` protocol, for hundreds to thousands of voters (seed
 * 002): voters are partitioned into clusters of k ({@link planHierarchy});
 * each cluster runs a quorum round over its members' signed votes; when it
 * is decided, one of its representatives signs a cluster vote
 * ({@link ClusterVoteBody}: the cluster's outcome, tally and the ids and
 * hashes of every vote it counted) that counts, with the cluster's whole
 * weight, in the round of the cluster one level up; and so on until the
 * root cluster decides the proposal.
 *
 * It is a vote of votes, like an electoral college: a cluster speaks with
 * its whole weight for its outcome (approved → approve, rejected or vetoed
 * → reject, no-quorum → abstain; a vetoed cluster vetoes its parent). When
 * every cluster below the root is unanimous, the outcome is exactly the
 * flat weighted quorum's; when clusters are split it can differ (with
 * simple majorities at two levels, just over a quarter of the weight can
 * carry a proposal, and higher thresholds make approval fragile). Use the
 * flat `quorum` when an exact weighted majority matters more than fan-in.
 *
 * Everything here is pure. {@link createHierarchicalRound} is the state
 * machine of a coordinator that sees every message (votes and cluster
 * votes, as on a shared subject): it runs every cluster's round, tells the
 * driver which representative should sign what ({@link ClusterDecision}),
 * and counts a cluster vote only if it says exactly what the cluster's own
 * signed votes say, so a lying or forged representative vote is caught as it
 * arrives. {@link createClusterRound} is one cluster's round alone, for a
 * representative that collects only its own cluster's votes. Either way the
 * result is verifiable offline (`verifyDecision`): the record holds every
 * signed vote and cluster vote and the tree's parameters.
 */
import { ConfigError } from "../errors/index.js";
import { canonicalize } from "../wire/canonical.js";
import type { Envelope } from "../wire/envelope.js";
import { BallotBox, type BallotSlot } from "./ballot-box.js";
import { type ClusterVoteBody, clusterVoteBody, parseClusterVoteBody } from "./cluster-vote.js";
import { EvidenceLog } from "./evidence-log.js";
import {
  type ClusterNode,
  type HierarchyConfig,
  type HierarchyPlan,
  type HierarchyRecord,
  planHierarchy,
} from "./hierarchy-plan.js";
import {
  createQuorumRound,
  type RoundResult,
  secondVoteEvidence,
  type VoteReceipt,
  type VoteRejection,
} from "./quorum.js";
import { type QuorumStatus, quorumStatus, thresholdUnits } from "./quorum-math.js";
import type { ByzantineEvidence, Outcome, Tally, Verifier, Voter } from "./types.js";
import { CLUSTER_VOTE_TYPE, VOTE_TYPE } from "./vote.js";

/**
 * How the coordinator judges a cluster vote's content before counting it:
 * `"ok"`, `"defer"` (cannot tell yet; offer it again later), or a string
 * saying what it misreports.
 */
export type ClusterVoteCheck = (body: ClusterVoteBody, vote: Envelope) => "ok" | "defer" | string;

/** Options of {@link createClusterRound}. */
export interface ClusterRoundOptions {
  readonly verify: Verifier;
  /** Content check of incoming cluster votes (upper clusters only). Default: trust the signed content; audit later. */
  readonly checkClusterVote?: ClusterVoteCheck;
}

/** One cluster's round: a quorum over member votes (level 0) or child cluster votes (above). */
export interface ClusterRound {
  readonly node: ClusterNode;
  step(envelope: Envelope, now: number): VoteReceipt;
  tick(now: number): RoundResult | undefined;
  status(): QuorumStatus | Outcome;
  tally(): Tally;
  result(): RoundResult | undefined;
}

/**
 * The round of one cluster of a plan: level 0 takes `consensus.vote`
 * envelopes from its members; higher levels take `consensus.cluster-vote`
 * envelopes from the representatives of their child clusters, weighted by
 * the child's weight (a child reported `vetoed` vetoes this cluster too).
 * Closes at the cluster's level deadline.
 *
 * @throws ConfigError if the plan has no such cluster.
 *
 * @example
 * ```ts
 * const round = createClusterRound(plan, plan.leafOf.get(me)!.id, { verify });
 * ```
 */
export function createClusterRound(
  plan: HierarchyPlan,
  clusterId: string,
  options: ClusterRoundOptions,
): ClusterRound {
  const node = plan.nodes.get(clusterId);
  if (node === undefined) {
    throw new ConfigError(
      `no cluster "${clusterId}" in this plan; cluster ids are "<level>.<index>"`,
    );
  }
  if (node.level === 0) {
    const round = createQuorumRound({
      proposal: plan.proposal,
      proposalHash: plan.proposalHash,
      voters: node.members.map((id) => plan.voters.get(id) as Voter),
      threshold: node.threshold,
      vetoRoles: [...plan.vetoRoles],
      verify: options.verify,
      closesAt: node.closesAt,
    });
    return {
      node,
      step: (envelope, now) => round.step(envelope, now),
      tick: (now) => round.tick(now),
      status: () => round.status(),
      tally: () => round.tally(),
      result: () => round.result(),
    };
  }
  return new UpperRound(plan, node, options);
}

/** A decided cluster whose vote one level up must now be signed by one of its representatives. */
export interface ClusterDecision {
  readonly cluster: string;
  readonly level: number;
  /** Ranked: the first should sign; the others step in if it does not. */
  readonly representatives: readonly string[];
  /** Exactly what to sign (see `createClusterVote`). */
  readonly body: ClusterVoteBody;
}

/** What {@link HierarchicalRound.step} returns: the vote's receipt, plus clusters decided meanwhile. */
export type HierarchicalReceipt = VoteReceipt & {
  /** Clusters decided by this step (or by the time that passed before it). */
  readonly decided: readonly ClusterDecision[];
};

/** A decided hierarchical vote; `sealDecision(result, prevSeal)` records it. */
export interface HierarchicalResult extends RoundResult {
  readonly protocol: "hierarchical";
  /** The tree's parameters and representatives, so an auditor rebuilds the same tree. */
  readonly hierarchy: HierarchyRecord;
}

/** The coordinator's state machine of a hierarchical vote. */
export interface HierarchicalRound {
  readonly plan: HierarchyPlan;
  /** Offers a received vote or cluster vote at time `now`. Never throws on bad input. */
  step(envelope: Envelope, now: number): HierarchicalReceipt;
  /** Advances time: closes the levels whose deadline passed. */
  tick(now: number): {
    readonly decided: readonly ClusterDecision[];
    readonly result?: HierarchicalResult;
  };
  /** Decided clusters whose vote has not been counted one level up yet (for re-requesting). */
  pendingClusterVotes(): readonly ClusterDecision[];
  result(): HierarchicalResult | undefined;
}

/** Configuration of {@link createHierarchicalRound}. */
export interface HierarchicalRoundConfig extends HierarchyConfig {
  /** Checks a vote's or cluster vote's signature against its sender's registered key. */
  readonly verify: Verifier;
}

/**
 * Starts the coordinator's state machine of a hierarchical vote.
 *
 * @throws ConfigError as {@link planHierarchy}.
 *
 * @example
 * ```ts
 * const round = createHierarchicalRound({ proposal, voters, threshold: { fraction: 2 / 3 }, verify });
 * for (const vote of votes) {
 *   for (const d of round.step(vote, now).decided) {
 *     round.step(createClusterVote(d.body, d.representatives[0], keyOf(d.representatives[0])), now);
 *   }
 * }
 * round.result(); // { outcome, tally, votes, evidence, hierarchy, … }
 * ```
 */
export function createHierarchicalRound(config: HierarchicalRoundConfig): HierarchicalRound {
  return new HierarchicalRoundImpl(planHierarchy(config), config.verify);
}

/** Most cluster votes held per cluster while its own votes are still being counted. */
const MAX_DEFERRED_PER_CLUSTER = 8;

class HierarchicalRoundImpl implements HierarchicalRound {
  readonly plan: HierarchyPlan;
  readonly #rounds = new Map<string, ClusterRound>();
  /** Canonical body each decided non-root cluster's vote must carry. */
  readonly #expected = new Map<string, { body: ClusterVoteBody; canonical: string }>();
  readonly #reported = new Set<string>();
  readonly #deferred = new Map<string, Envelope[]>();
  readonly #accepted: Envelope[] = [];
  readonly #evidence = new EvidenceLog();
  #closedLevels = 0;
  #result: HierarchicalResult | undefined;

  constructor(plan: HierarchyPlan, verify: Verifier) {
    this.plan = plan;
    const checkClusterVote: ClusterVoteCheck = (body) => {
      const expected = this.#expected.get(body.cluster);
      if (expected === undefined) return "defer";
      if (canonicalize(body) === expected.canonical) return "ok";
      return describeMismatch(body, expected.body);
    };
    for (const level of plan.levels) {
      for (const node of level) {
        this.#rounds.set(node.id, createClusterRound(plan, node.id, { verify, checkClusterVote }));
      }
    }
  }

  step(envelope: Envelope, now: number): HierarchicalReceipt {
    const decided: ClusterDecision[] = [];
    if (this.#result !== undefined) return { ...this.#closed("decided"), decided };
    this.#advance(now, decided);
    if (this.#result !== undefined) return { ...this.#closed("late"), decided };
    const from = String(envelope.from);
    if (envelope.type === VOTE_TYPE) {
      const leaf = this.plan.leafOf.get(from);
      if (leaf === undefined) {
        return {
          ...this.#refuse("unknown-voter", `${from} is not an eligible voter`, {
            kind: "unknown-voter",
            agent: from,
            detail: `vote ${envelope.id} from ${from}, who is not an eligible voter on proposal ${this.plan.proposal.id}`,
            messages: [envelope],
          }),
          decided,
        };
      }
      return { ...this.#offer(leaf, envelope, now, decided), decided };
    }
    if (envelope.type === CLUSTER_VOTE_TYPE) {
      const body = parseClusterVoteBody(envelope.body);
      if (typeof body === "string") {
        return { ...this.#refuse("malformed", `cluster vote ${envelope.id}: ${body}`), decided };
      }
      const child = this.plan.nodes.get(body.cluster);
      const parent = child?.parent === undefined ? undefined : this.plan.nodes.get(child.parent);
      if (parent === undefined) {
        return {
          ...this.#refuse(
            "malformed",
            `cluster vote ${envelope.id} reports on "${body.cluster}", which is not a non-root cluster of this vote`,
          ),
          decided,
        };
      }
      return { ...this.#offer(parent, envelope, now, decided), decided };
    }
    return {
      ...this.#refuse(
        "malformed",
        `expected ${VOTE_TYPE} or ${CLUSTER_VOTE_TYPE}, got ${String(envelope.type)}`,
      ),
      decided,
    };
  }

  tick(now: number): { decided: readonly ClusterDecision[]; result?: HierarchicalResult } {
    const decided: ClusterDecision[] = [];
    if (this.#result === undefined) this.#advance(now, decided);
    return this.#result === undefined ? { decided } : { decided, result: this.#result };
  }

  pendingClusterVotes(): readonly ClusterDecision[] {
    if (this.#result !== undefined) return [];
    const out: ClusterDecision[] = [];
    for (const [id, { body }] of this.#expected) {
      if (this.#reported.has(id)) continue;
      const node = this.plan.nodes.get(id) as ClusterNode;
      const parent = this.#rounds.get(node.parent as string) as ClusterRound;
      if (parent.result() !== undefined) continue;
      out.push(decisionOf(node, body));
    }
    return out;
  }

  result(): HierarchicalResult | undefined {
    return this.#result;
  }

  /** Closes every level whose deadline has passed, bottom-up. */
  #advance(now: number, decided: ClusterDecision[]): void {
    const { levels, levelDeadlines } = this.plan;
    while (
      this.#result === undefined &&
      this.#closedLevels < levels.length &&
      now >= (levelDeadlines[this.#closedLevels] as number)
    ) {
      for (const node of levels[this.#closedLevels] as readonly ClusterNode[]) {
        const round = this.#rounds.get(node.id) as ClusterRound;
        const wasOpen = round.result() === undefined;
        round.tick(now);
        if (wasOpen) this.#onDecided(node, now, decided);
        if (this.#result !== undefined) return;
      }
      this.#closedLevels++;
    }
  }

  #offer(
    node: ClusterNode,
    envelope: Envelope,
    now: number,
    decided: ClusterDecision[],
  ): VoteReceipt {
    const round = this.#rounds.get(node.id) as ClusterRound;
    const receipt = this.#keepEvidence(round.step(envelope, now));
    if (receipt.accepted) {
      this.#accepted.push(envelope);
      if (envelope.type === CLUSTER_VOTE_TYPE) {
        this.#reported.add((envelope.body as ClusterVoteBody).cluster);
      }
      if (receipt.outcome !== undefined) this.#onDecided(node, now, decided);
      return receipt;
    }
    if (receipt.reason === "deferred") {
      const cluster = (envelope.body as ClusterVoteBody).cluster;
      const held = this.#deferred.get(cluster) ?? [];
      if (held.length >= MAX_DEFERRED_PER_CLUSTER) {
        return {
          accepted: false,
          reason: "superseded",
          message: `already holding ${MAX_DEFERRED_PER_CLUSTER} cluster votes for ${cluster} until its own votes are counted; dropped ${envelope.id}`,
        };
      }
      held.push(envelope);
      this.#deferred.set(cluster, held);
    }
    return receipt;
  }

  /**
   * Keeps a cluster round's evidence in the whole round's, within its
   * bounds; evidence not kept (a repeat across clusters, or over the
   * bounds) leaves the receipt, so nobody reports it either.
   */
  #keepEvidence(receipt: VoteReceipt): VoteReceipt {
    if (receipt.accepted || receipt.evidence === undefined) return receipt;
    if (this.#evidence.add(receipt.evidence) !== undefined) return receipt;
    const { evidence: _dropped, ...rest } = receipt;
    return rest;
  }

  #onDecided(node: ClusterNode, now: number, decided: ClusterDecision[]): void {
    const result = (this.#rounds.get(node.id) as ClusterRound).result();
    if (result === undefined) return;
    if (node.parent === undefined) {
      this.#result = {
        proposal: this.plan.proposal,
        protocol: "hierarchical",
        proposalHash: this.plan.proposalHash,
        votes: this.#accepted.slice(),
        tally: result.tally,
        outcome: result.outcome,
        evidence: this.#evidence.list(),
        decidedAt: result.decidedAt,
        hierarchy: this.plan.record,
      };
      return;
    }
    const body = clusterVoteBody(this.plan, node, result);
    this.#expected.set(node.id, { body, canonical: canonicalize(body) });
    decided.push(decisionOf(node, body));
    const held = this.#deferred.get(node.id);
    if (held === undefined) return;
    this.#deferred.delete(node.id);
    const parent = this.plan.nodes.get(node.parent) as ClusterNode;
    for (const envelope of held) {
      if (this.#result !== undefined) return;
      this.#offer(parent, envelope, now, decided);
    }
  }

  #closed(reason: "late" | "decided"): VoteReceipt {
    return {
      accepted: false,
      reason,
      message:
        reason === "late"
          ? `the vote on ${this.plan.proposal.id} has closed`
          : `the vote on ${this.plan.proposal.id} is already decided (${this.#result?.outcome})`,
    };
  }

  #refuse(reason: VoteRejection, message: string, evidence?: ByzantineEvidence): VoteReceipt {
    // Evidence the round does not keep (a repeat, or over its bounds) is not reported either.
    const kept = evidence === undefined ? undefined : this.#evidence.add(evidence);
    if (kept === undefined) return { accepted: false, reason, message };
    return { accepted: false, reason, message, evidence: kept };
  }
}

function decisionOf(node: ClusterNode, body: ClusterVoteBody): ClusterDecision {
  return { cluster: node.id, level: node.level, representatives: node.representatives, body };
}

function describeMismatch(got: ClusterVoteBody, want: ClusterVoteBody): string {
  if (got.outcome !== want.outcome) {
    return `it reports ${got.outcome} but the cluster's signed votes give ${want.outcome}`;
  }
  if (canonicalize(got.tally) !== canonicalize(want.tally)) {
    return `its tally ${canonicalize(got.tally)} differs from the signed votes' ${canonicalize(want.tally)}`;
  }
  if (canonicalize(got.votes) !== canonicalize(want.votes)) {
    return "the votes it lists differ from the votes the cluster counted";
  }
  return "its body differs from what the cluster's signed votes give";
}

/** Round of a cluster above level 0: counts its child clusters' votes. */
class UpperRound implements ClusterRound {
  readonly node: ClusterNode;
  readonly #plan: HierarchyPlan;
  readonly #verify: Verifier;
  readonly #check: ClusterVoteCheck | undefined;
  readonly #box: BallotBox;
  readonly #byChild = new Map<string, { envelope: Envelope; body: ClusterVoteBody }>();
  readonly #accepted: Envelope[] = [];
  readonly #evidence = new EvidenceLog();
  #result: RoundResult | undefined;

  constructor(plan: HierarchyPlan, node: ClusterNode, options: ClusterRoundOptions) {
    this.node = node;
    this.#plan = plan;
    this.#verify = options.verify;
    this.#check = options.checkClusterVote;
    const slots = new Map<string, BallotSlot>();
    for (const childId of node.members) {
      const child = plan.nodes.get(childId) as ClusterNode;
      slots.set(childId, { units: child.units, canVeto: child.canVeto });
    }
    this.#box = new BallotBox(slots, thresholdUnits(node.threshold, node.units), node.units);
  }

  step(vote: Envelope, now: number): VoteReceipt {
    if (this.#result !== undefined) {
      return {
        accepted: false,
        reason: "decided",
        message: `cluster ${this.node.id} is already decided`,
      };
    }
    if (now >= this.node.closesAt) {
      this.tick(now);
      return {
        accepted: false,
        reason: "late",
        message: `cluster ${this.node.id} closed at ${this.node.closesAt}`,
      };
    }
    const from = String(vote.from);
    if (vote.type !== CLUSTER_VOTE_TYPE) {
      return this.#refuse(
        "malformed",
        `cluster ${this.node.id} counts only ${CLUSTER_VOTE_TYPE} envelopes`,
      );
    }
    const body = parseClusterVoteBody(vote.body);
    if (typeof body === "string")
      return this.#refuse("malformed", `cluster vote ${vote.id}: ${body}`);
    const child = this.#plan.nodes.get(body.cluster);
    if (child === undefined || child.parent !== this.node.id) {
      return this.#refuse(
        "malformed",
        `cluster vote ${vote.id} reports on "${body.cluster}", which is not a child of cluster ${this.node.id}`,
      );
    }
    if (!child.representatives.includes(from)) {
      return this.#refuse("unknown-voter", `${from} does not represent cluster ${child.id}`, {
        kind: "unknown-voter",
        agent: from,
        detail: `cluster vote ${vote.id} for cluster ${child.id} from ${from}, who is not one of its representatives (${child.representatives.join(", ")})`,
        messages: [vote],
      });
    }
    if (!this.#verify(vote)) {
      return this.#refuse(
        "bad-signature",
        `cluster vote ${vote.id} claims to be from ${from} but its signature does not verify`,
        {
          kind: "bad-signature",
          agent: from,
          detail: `cluster vote ${vote.id} for cluster ${child.id}: missing, malformed or forged signature, or ${from}'s key is unknown or revoked`,
          messages: [vote],
        },
      );
    }
    if (body.proposal !== this.#plan.proposal.id) {
      // Signed for another round and put on this one's subject: no proof its signer did wrong.
      return this.#refuse(
        "wrong-proposal",
        `cluster vote ${vote.id} is for proposal ${body.proposal}`,
      );
    }
    if (body.proposalHash !== this.#plan.proposalHash) {
      return this.#refuse("wrong-proposal", `cluster vote ${vote.id} is for another proposal`, {
        kind: "wrong-proposal",
        agent: from,
        detail: `cluster vote ${vote.id} is for proposal ${body.proposal} (hash ${body.proposalHash.slice(0, 12)}…), not ${this.#plan.proposal.id}`,
        messages: [vote],
      });
    }
    const prior = this.#byChild.get(child.id);
    if (prior !== undefined) {
      if (prior.envelope.from === from) {
        const same = canonicalize(prior.body) === canonicalize(body);
        const { reason, evidence } = secondVoteEvidence(
          from,
          prior.envelope,
          vote,
          same,
          "cluster vote",
        );
        return this.#refuse(reason, evidence.detail, evidence);
      }
      return {
        accepted: false,
        reason: "superseded",
        message: `cluster ${child.id} was already reported by ${prior.envelope.from}; the first report counts`,
      };
    }
    if (body.level !== child.level || body.weight !== child.weight) {
      return this.#misreport(
        vote,
        from,
        child,
        `it gives level ${body.level} and weight ${body.weight}, the plan says ${child.level} and ${child.weight}`,
      );
    }
    const verdict = this.#check?.(body, vote) ?? "ok";
    if (verdict === "defer") {
      return {
        accepted: false,
        reason: "deferred",
        message: `cluster ${child.id} is not decided here yet; its cluster vote ${vote.id} is held until it is`,
      };
    }
    if (verdict !== "ok") return this.#misreport(vote, from, child, verdict);
    this.#byChild.set(child.id, { envelope: vote, body });
    this.#accepted.push(vote);
    this.#box.cast(child.id, body.choice, body.outcome === "vetoed");
    const outcome = this.#box.outcome(false);
    if (outcome === undefined) return { accepted: true };
    this.#decide(outcome, now);
    return { accepted: true, outcome };
  }

  tick(now: number): RoundResult | undefined {
    if (this.#result === undefined && now >= this.node.closesAt) {
      this.#decide(this.#box.outcome(true) ?? "no-quorum", now);
    }
    return this.#result;
  }

  status(): QuorumStatus | Outcome {
    return this.#result?.outcome ?? quorumStatus(this.#box.counts());
  }

  tally(): Tally {
    return this.#box.tally();
  }

  result(): RoundResult | undefined {
    return this.#result;
  }

  #decide(outcome: Outcome, now: number): void {
    this.#result = {
      proposal: this.#plan.proposal,
      protocol: "hierarchical",
      proposalHash: this.#plan.proposalHash,
      votes: this.#accepted.slice(),
      tally: this.#box.tally(),
      outcome,
      evidence: this.#evidence.list(),
      decidedAt: now,
    };
  }

  #misreport(vote: Envelope, from: string, child: ClusterNode, what: string): VoteReceipt {
    // A signed report that contradicts the signed votes it summarises: the
    // representative said one thing to its cluster and another upwards.
    return this.#refuse(
      "equivocation",
      `cluster vote ${vote.id} from ${from} misreports cluster ${child.id}: ${what}`,
      {
        kind: "equivocation",
        agent: from,
        detail: `cluster vote ${vote.id} for cluster ${child.id} misreports it: ${what}`,
        messages: [vote],
      },
    );
  }

  #refuse(reason: VoteRejection, message: string, evidence?: ByzantineEvidence): VoteReceipt {
    // Evidence the round does not keep (a repeat, or over its bounds) is not reported either.
    const kept = evidence === undefined ? undefined : this.#evidence.add(evidence);
    if (kept === undefined) return { accepted: false, reason, message };
    return { accepted: false, reason, message, evidence: kept };
  }
}
