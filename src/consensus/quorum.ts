/**
 * The `quorum` protocol: weighted, signed votes, one per agent, decided when
 * the outcome is certain or when the deadline passes. A pure state machine:
 * {@link QuorumRound.step} takes a received vote and the time it was
 * received, {@link QuorumRound.tick} takes the time; nothing else moves it.
 *
 * This is seed 000's AgentSwarmConsensus done right: every vote is an
 * Ed25519-signed envelope checked by the injected {@link Verifier} (not a
 * hash of a shared key), a second vote from the same agent never replaces the
 * first (it is kept as evidence, within the bounds of `EvidenceLog`), the
 * weights are summed exactly, and the
 * round stays `pending` until the outcome is certain: it is never marked
 * rejected merely because the votes so far fall short.
 */
import { ConfigError } from "../errors/index.js";
import type { Envelope } from "../wire/envelope.js";
import { BallotBox, type BallotSlot } from "./ballot-box.js";
import { EvidenceLog } from "./evidence-log.js";
import {
  fromWeightUnits,
  type QuorumStatus,
  type QuorumThreshold,
  quorumStatus,
  thresholdUnits,
  toWeightUnits,
} from "./quorum-math.js";
import type {
  ByzantineEvidence,
  Outcome,
  Proposal,
  ProtocolName,
  Tally,
  Verifier,
  VoteBody,
  Voter,
} from "./types.js";
import { hashProposal, parseVoteBody, VOTE_TYPE } from "./vote.js";

/** Configuration of one {@link QuorumRound}. */
export interface QuorumRoundConfig {
  readonly proposal: Proposal;
  /** {@link hashProposal}`(proposal)`; computed when omitted. */
  readonly proposalHash?: string;
  /** Every eligible voter with its weight; ids must be unique. */
  readonly voters: readonly Voter[];
  /** Approving weight needed: absolute (`{ weight: 4 }`) or a fraction of the voters' total weight. */
  readonly threshold: QuorumThreshold;
  /** Roles whose `reject` vetoes the proposal outright. */
  readonly vetoRoles?: readonly string[];
  /** Checks a vote's signature against its sender's registered key. */
  readonly verify: Verifier;
  /**
   * When the round stops taking votes (ms since the epoch). Defaults to
   * `proposal.deadline`; a hierarchy closes its lower levels earlier.
   */
  readonly closesAt?: number;
}

/** Why a vote was refused while the round was open; each comes with evidence. */
export type VoteRejection =
  | "malformed"
  | "unknown-voter"
  | "bad-signature"
  | "wrong-proposal"
  | "replay"
  | "duplicate-vote"
  | "equivocation";

/**
 * Why a vote was not counted although nobody misbehaved: the round had
 * closed (`late`), was already decided (`decided`), the vote waits for its
 * cluster's own votes before it can be checked (`deferred`, hierarchical
 * only), or another representative of the same cluster already reported the
 * same result (`superseded`, hierarchical only).
 */
export type VoteDeferral = "late" | "decided" | "deferred" | "superseded";

/**
 * What became of a vote handed to {@link QuorumRound.step}. Refused votes
 * carry a message saying why and, when the sender (or someone posing as it)
 * misbehaved, {@link ByzantineEvidence} that also goes into the decision.
 */
export type VoteReceipt =
  | {
      readonly accepted: true;
      /** Set when this vote decided the round. */
      readonly outcome?: Outcome;
    }
  | {
      readonly accepted: false;
      readonly reason: VoteRejection | VoteDeferral;
      readonly message: string;
      readonly evidence?: ByzantineEvidence;
    };

/**
 * A decided round: everything a {@link Decision} holds except its seals, so
 * `sealDecision(round.result(), prevSeal)` records it.
 */
export interface RoundResult {
  readonly proposal: Proposal;
  readonly protocol: ProtocolName;
  readonly proposalHash: string;
  /** The accepted votes, in the order they were accepted. */
  readonly votes: readonly Envelope[];
  /**
   * Weights of the accepted votes. Voters that did not answer appear in none
   * of approve/reject/abstain: they are `total - approve - reject - abstain`
   * and count as abstaining once the deadline has passed.
   */
  readonly tally: Tally;
  readonly outcome: Outcome;
  /** Misbehaviour seen while the round was open, in the order it was seen. */
  readonly evidence: readonly ByzantineEvidence[];
  /** The `now` of the step or tick that decided the round. */
  readonly decidedAt: number;
  /**
   * Why the round ended without counting, when it did: e.g. a fixed threshold
   * above the weight of the voters that were live, or too few PBFT replicas.
   */
  readonly reason?: string;
}

/** One proposal's vote under the `quorum` protocol. Create with {@link createQuorumRound}. */
export interface QuorumRound {
  readonly proposal: Proposal;
  readonly proposalHash: string;
  /** When the round stops taking votes. */
  readonly closesAt: number;
  /**
   * Offers a received `consensus.vote` envelope at time `now` (ms). Counted
   * only if it is well formed, from an eligible voter, correctly signed, for
   * this exact proposal (id and hash), the sender's first vote, and received
   * before `closesAt`. Never throws on bad input.
   */
  step(vote: Envelope, now: number): VoteReceipt;
  /**
   * Advances time. At or after `closesAt` an undecided round ends
   * (`no-quorum`, or `approved` if only a silent veto holder was outstanding).
   * Returns the result once decided.
   */
  tick(now: number): RoundResult | undefined;
  /** Where the round stands now. */
  status(): QuorumStatus | Outcome;
  /** The running tally of accepted votes. */
  tally(): Tally;
  /** The outcome and its evidence once decided, else undefined. */
  result(): RoundResult | undefined;
}

/**
 * Starts a quorum round.
 *
 * @throws ConfigError if there are no voters, ids repeat, a weight or the
 *   threshold is invalid, or the threshold exceeds the total weight (it
 *   could never be approved).
 *
 * @example
 * ```ts
 * const round = createQuorumRound({
 *   proposal,
 *   voters: [
 *     { id: "architect", weight: 2.5, role: "lead" },
 *     { id: "developer", weight: 1.0, role: "dev" },
 *     { id: "sentinel", weight: 2.0, role: "security" },
 *     { id: "auditor", weight: 1.5, role: "finance" },
 *   ],
 *   threshold: { weight: 4 },
 *   verify: verifierFromKeys(publicKeys),
 * });
 * round.step(vote, now); // { accepted: true, outcome?: "approved" }
 * ```
 */
export function createQuorumRound(config: QuorumRoundConfig): QuorumRound {
  return new QuorumRoundImpl(config);
}

/** Shared by the rounds: classifies a second message from a slot that already answered. */
export function secondVoteEvidence(
  agent: string,
  first: Envelope,
  second: Envelope,
  sameChoice: boolean,
  what: string,
): { reason: "replay" | "duplicate-vote" | "equivocation"; evidence: ByzantineEvidence } {
  if (first.id === second.id && first.sig === second.sig) {
    return {
      reason: "replay",
      evidence: {
        kind: "replay",
        agent,
        detail: `${what} ${second.id} was received again; the first copy counts (a redelivery also looks like this, so it is not proof against the signer)`,
        messages: [second],
      },
    };
  }
  if (sameChoice) {
    return {
      reason: "duplicate-vote",
      evidence: {
        kind: "duplicate-vote",
        agent,
        detail: `${agent} sent a second ${what} (${second.id}) with the same choice; the first (${first.id}) counts`,
        messages: [first, second],
      },
    };
  }
  return {
    reason: "equivocation",
    evidence: {
      kind: "equivocation",
      agent,
      detail: `${agent} sent a second, conflicting ${what} (${second.id}); the first (${first.id}) counts`,
      messages: [first, second],
    },
  };
}

class QuorumRoundImpl implements QuorumRound {
  readonly proposal: Proposal;
  readonly proposalHash: string;
  readonly closesAt: number;
  readonly #verify: Verifier;
  readonly #voters: ReadonlyMap<string, Voter>;
  readonly #vetoRoles: ReadonlySet<string>;
  readonly #box: BallotBox;
  readonly #byAgent = new Map<string, { envelope: Envelope; body: VoteBody }>();
  readonly #accepted: Envelope[] = [];
  readonly #evidence = new EvidenceLog();
  #result: RoundResult | undefined;

  constructor(config: QuorumRoundConfig) {
    this.proposal = config.proposal;
    this.proposalHash = config.proposalHash ?? hashProposal(config.proposal);
    this.closesAt = config.closesAt ?? config.proposal.deadline;
    this.#verify = config.verify;
    this.#vetoRoles = new Set(config.vetoRoles ?? []);
    const voters = new Map<string, Voter>();
    const slots = new Map<string, BallotSlot>();
    let total = 0;
    for (const voter of config.voters) {
      if (voters.has(voter.id)) {
        throw new ConfigError(
          `voter "${voter.id}" is listed twice; each agent votes once, so list it once`,
        );
      }
      const units = toWeightUnits(voter.weight);
      voters.set(voter.id, voter);
      slots.set(voter.id, { units, canVeto: this.#vetoRoles.has(voter.role) });
      total += units;
    }
    if (voters.size === 0) {
      throw new ConfigError("a quorum round needs at least one voter; list the eligible agents");
    }
    if (!Number.isSafeInteger(total)) {
      throw new ConfigError(
        "the voters' total weight is too large to count exactly; scale the weights down",
      );
    }
    const threshold = thresholdUnits(config.threshold, total);
    if (threshold > total) {
      throw new ConfigError(
        `the quorum threshold (${fromWeightUnits(threshold)}) exceeds the voters' total weight (${fromWeightUnits(total)}), so nothing could ever be approved; lower the threshold or add voters`,
      );
    }
    this.#voters = voters;
    this.#box = new BallotBox(slots, threshold, total);
  }

  step(vote: Envelope, now: number): VoteReceipt {
    if (this.#result !== undefined) return this.#closed("decided");
    if (now >= this.closesAt) {
      this.tick(now);
      return this.#closed("late");
    }
    const from = String(vote.from);
    if (vote.type !== VOTE_TYPE) {
      return this.#refuse(
        "malformed",
        `expected a ${VOTE_TYPE} envelope, got ${String(vote.type)}`,
      );
    }
    const body = parseVoteBody(vote.body);
    if (typeof body === "string") return this.#refuse("malformed", `vote ${vote.id}: ${body}`);
    // Eligibility before the signature: a stranger has no registered key, so
    // checking its signature first would mislabel it as a forgery (and cost a verify).
    if (!this.#voters.has(from)) {
      return this.#refuse(
        "unknown-voter",
        `${from} is not an eligible voter on ${this.proposal.id}`,
        {
          kind: "unknown-voter",
          agent: from,
          detail: `vote ${vote.id} from ${from}, who is not an eligible voter on proposal ${this.proposal.id}`,
          messages: [vote],
        },
      );
    }
    if (!this.#verify(vote)) {
      return this.#refuse(
        "bad-signature",
        `vote ${vote.id} claims to be from ${from} but its signature does not verify against ${from}'s registered key`,
        {
          kind: "bad-signature",
          agent: from,
          detail: `vote ${vote.id}: missing, malformed or forged signature, or ${from}'s key is unknown or revoked`,
          messages: [vote],
        },
      );
    }
    if (body.proposal !== this.proposal.id) {
      // Signed for another round and put on this one's subject, by anyone
      // who saw it: refused, but no proof its signer did wrong.
      return this.#refuse(
        "wrong-proposal",
        `vote ${vote.id} from ${from} is for proposal ${body.proposal}`,
      );
    }
    if (body.proposalHash !== this.proposalHash) {
      const what = `a different version of proposal ${body.proposal} (hash ${body.proposalHash.slice(0, 12)}…)`;
      return this.#refuse("wrong-proposal", `vote ${vote.id} from ${from} is for ${what}`, {
        kind: "wrong-proposal",
        agent: from,
        detail: `vote ${vote.id} is for ${what}, not ${this.proposal.id} (hash ${this.proposalHash.slice(0, 12)}…)`,
        messages: [vote],
      });
    }
    const prior = this.#byAgent.get(from);
    if (prior !== undefined) {
      const { reason, evidence } = secondVoteEvidence(
        from,
        prior.envelope,
        vote,
        prior.body.choice === body.choice,
        "vote",
      );
      return this.#refuse(reason, evidence.detail, evidence);
    }
    this.#byAgent.set(from, { envelope: vote, body });
    this.#accepted.push(vote);
    const voter = this.#voters.get(from) as Voter;
    this.#box.cast(from, body.choice, this.#vetoRoles.has(voter.role));
    const outcome = this.#box.outcome(false);
    if (outcome === undefined) return { accepted: true };
    this.#decide(outcome, now);
    return { accepted: true, outcome };
  }

  tick(now: number): RoundResult | undefined {
    if (this.#result === undefined && now >= this.closesAt) {
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
      proposal: this.proposal,
      protocol: "quorum",
      proposalHash: this.proposalHash,
      votes: this.#accepted.slice(),
      tally: this.#box.tally(),
      outcome,
      evidence: this.#evidence.list(),
      decidedAt: now,
    };
  }

  #closed(reason: "late" | "decided"): VoteReceipt {
    return {
      accepted: false,
      reason,
      message:
        reason === "late"
          ? `the vote on ${this.proposal.id} closed at ${this.closesAt}; the vote arrived too late`
          : `the vote on ${this.proposal.id} is already decided (${this.#result?.outcome})`,
    };
  }

  #refuse(reason: VoteRejection, message: string, evidence?: ByzantineEvidence): VoteReceipt {
    // Evidence the round does not keep (a repeat, or over its bounds) is not reported either.
    const kept = evidence === undefined ? undefined : this.#evidence.add(evidence);
    if (kept === undefined) return { accepted: false, reason, message };
    return { accepted: false, reason, message, evidence: kept };
  }
}
