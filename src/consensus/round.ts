/**
 * One interface for a coordinator's round, whatever its protocol:
 * {@link ConsensusRound}, in the style of etcd raft's `step / tick / ready`.
 * A driver (the runtime's engine, or the simulator in tests) feeds it the
 * envelopes it receives and the passing time, sends the messages the round
 * asks for, wakes it at its deadlines, and seals its result once ready,
 * without knowing which protocol counts the votes.
 *
 * The protocols' own rounds keep their richer interfaces
 * ({@link QuorumRound}, {@link HierarchicalRound}, {@link PbftRound}); the
 * adapters here put each behind this one, and {@link fixedRound} is the
 * round decided before any vote (an unreachable threshold). Pure, like the
 * rounds they wrap: no timers, no IO, time only from `now`.
 */
import type { Envelope } from "../wire/envelope.js";
import type { ClusterDecision, HierarchicalRound } from "./hierarchical.js";
import type { PbftRound } from "./pbft-round.js";
import type { QuorumRound, RoundResult, VoteDeferral } from "./quorum.js";
import type { ByzantineEvidence, Outcome, Proposal, ProtocolName } from "./types.js";
import { envelopeHash } from "./vote.js";

/**
 * A message the round needs sent, which the driver signs as the proposer
 * and publishes: a decided cluster's representatives asked to sign its
 * vote one level up (hierarchical rounds), with the signed votes the
 * cluster counted, so they can recompute its outcome before signing.
 */
export interface ClusterVoteRequest {
  readonly kind: "cluster-vote-request";
  readonly cluster: ClusterDecision;
  /** The signed votes (or cluster votes) the cluster counted, as received. */
  readonly votes: readonly Envelope[];
}

/** Everything a round may ask its driver to send. */
export type RoundOutgoing = ClusterVoteRequest;

/**
 * Why an envelope was not counted: the kind of misbehaviour it shows (then
 * with evidence), `malformed` (not a message this round takes), or a
 * {@link VoteDeferral} (late, decided, deferred, superseded: nobody
 * misbehaved).
 */
export type RoundRefusal = ByzantineEvidence["kind"] | "malformed" | VoteDeferral;

/**
 * What became of an envelope handed to {@link ConsensusRound.step}, and
 * what the round wants sent now (also when the envelope was refused: time
 * may have closed a level before it arrived).
 */
export type RoundReceipt =
  | {
      readonly accepted: true;
      /** Set when this step decided the round. */
      readonly outcome?: Outcome;
      readonly outgoing: readonly RoundOutgoing[];
    }
  | {
      readonly accepted: false;
      readonly reason: RoundRefusal;
      /** What was wrong, for logs. */
      readonly message: string;
      /** Set when the sender (or someone posing as it) misbehaved; it also goes into the decision. */
      readonly evidence?: ByzantineEvidence;
      readonly outgoing: readonly RoundOutgoing[];
    };

/** What {@link ConsensusRound.tick} returns: messages to send, and the result once decided. */
export interface RoundProgress {
  readonly outgoing: readonly RoundOutgoing[];
  readonly result?: RoundResult;
}

/**
 * A coordinator's round on one proposal, whatever its protocol. Never
 * throws on bad input; every method is pure in `now`.
 *
 * @example
 * ```ts
 * const round = fromQuorumRound(createQuorumRound({ proposal, voters, threshold, verify }));
 * const receipt = round.step(vote, now); // { accepted, outgoing, … }
 * for (const message of receipt.outgoing) send(message);
 * const wakeAt = round.nextDeadline(now) ?? now + 1;
 * if (round.ready()) seal(round.result()!);
 * ```
 */
export interface ConsensusRound {
  readonly protocol: ProtocolName;
  readonly proposal: Proposal;
  /** Offers a received envelope (a vote, a cluster vote, a PBFT message) at time `now` (ms). */
  step(envelope: Envelope, now: number): RoundReceipt;
  /** Advances time: closes what the clock closes, asks again for what went unanswered. */
  tick(now: number): RoundProgress;
  /** Whether the round is decided: {@link result} is defined. */
  ready(): boolean;
  /** The outcome and its evidence once decided, else undefined. */
  result(): RoundResult | undefined;
  /**
   * The first time after `now` at which time alone changes the round (a
   * level or the round closes): the driver ticks it then at the latest.
   * Undefined when no such time is left (an undecided round should then be
   * ticked at once).
   */
  nextDeadline(now: number): number | undefined;
}

/** Options of {@link fromHierarchicalRound}. */
export interface HierarchicalAdapterOptions {
  /** A cluster vote not counted this long after it was asked for is asked for again. Default 500. */
  readonly resendMs?: number;
}

/** Puts a {@link QuorumRound} behind {@link ConsensusRound}. */
export function fromQuorumRound(round: QuorumRound): ConsensusRound {
  return {
    protocol: "quorum",
    proposal: round.proposal,
    step(envelope, now) {
      return { ...round.step(envelope, now), outgoing: [] };
    },
    tick: (now) => progress([], round.tick(now)),
    ready: () => round.result() !== undefined,
    result: () => round.result(),
    nextDeadline: (now) => (round.closesAt > now ? round.closesAt : undefined),
  };
}

/**
 * Puts a {@link PbftRound} (the coordinator's watch over the replicas'
 * messages) behind {@link ConsensusRound}. It sends nothing: the replicas
 * run PBFT among themselves.
 */
export function fromPbftRound(round: PbftRound): ConsensusRound {
  return {
    protocol: "pbft",
    proposal: round.proposal,
    step(envelope, now) {
      const wasOpen = round.result() === undefined;
      const receipt = round.step(envelope, now);
      if (receipt.accepted) return { ...receipt, outgoing: [] };
      // PBFT's refusals are sentences; the evidence, or the round's state, gives their kind.
      const closed = round.result() === undefined ? "malformed" : "late";
      return {
        accepted: false,
        reason: receipt.evidence?.kind ?? (wasOpen ? closed : "decided"),
        message: receipt.reason,
        ...(receipt.evidence === undefined ? {} : { evidence: receipt.evidence }),
        outgoing: [],
      };
    },
    tick: (now) => progress([], round.tick(now)),
    ready: () => round.result() !== undefined,
    result: () => round.result(),
    nextDeadline: (now) => (round.closesAt > now ? round.closesAt : undefined),
  };
}

/**
 * Puts a {@link HierarchicalRound} behind {@link ConsensusRound}: keeps the
 * envelopes it accepted, so that each decided cluster becomes a
 * {@link ClusterVoteRequest} carrying the signed votes it counted, and asks
 * again for cluster votes still uncounted `resendMs` after the last request
 * (a representative down, a request lost).
 */
export function fromHierarchicalRound(
  round: HierarchicalRound,
  options: HierarchicalAdapterOptions = {},
): ConsensusRound {
  const resendMs = options.resendMs ?? 500;
  const accepted = new Map<string, Envelope>();
  const requested = new Map<string, number>();
  const requests = (decided: readonly ClusterDecision[], now: number): ClusterVoteRequest[] =>
    decided.map((cluster) => {
      requested.set(cluster.cluster, now);
      const votes: Envelope[] = [];
      for (const ref of cluster.body.votes) {
        const envelope = accepted.get(ref.hash);
        if (envelope !== undefined) votes.push(envelope);
      }
      return { kind: "cluster-vote-request", cluster, votes };
    });
  return {
    protocol: "hierarchical",
    proposal: round.plan.proposal,
    step(envelope, now) {
      const wasOpen = round.result() === undefined;
      const { decided, ...receipt } = round.step(envelope, now);
      if (receipt.accepted) accepted.set(envelopeHash(envelope), envelope);
      const outgoing = requests(decided, now);
      if (!receipt.accepted) return { ...receipt, outgoing };
      // The inner receipt's outcome is its cluster's; the round's is the root's.
      const outcome = wasOpen ? round.result()?.outcome : undefined;
      return outcome === undefined
        ? { accepted: true, outgoing }
        : { accepted: true, outcome, outgoing };
    },
    tick(now) {
      const { decided, result } = round.tick(now);
      const outgoing = requests(decided, now);
      const stale = round
        .pendingClusterVotes()
        .filter((c) => now - (requested.get(c.cluster) ?? 0) >= resendMs);
      outgoing.push(...requests(stale, now));
      return progress(outgoing, result);
    },
    ready: () => round.result() !== undefined,
    result: () => round.result(),
    nextDeadline: (now) => round.plan.levelDeadlines.find((d) => d > now),
  };
}

/**
 * A round decided before any vote, e.g. `no-quorum` because the threshold
 * exceeds the live voters' weight. It refuses every envelope as `decided`.
 */
export function fixedRound(result: RoundResult): ConsensusRound {
  return {
    protocol: result.protocol,
    proposal: result.proposal,
    step: () => ({
      accepted: false,
      reason: "decided",
      message: `the vote on ${result.proposal.id} was decided before any vote (${result.outcome})`,
      outgoing: [],
    }),
    tick: () => ({ outgoing: [], result }),
    ready: () => true,
    result: () => result,
    nextDeadline: () => undefined,
  };
}

function progress(outgoing: readonly RoundOutgoing[], result: RoundResult | undefined) {
  return result === undefined ? { outgoing } : { outgoing, result };
}
