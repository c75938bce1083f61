/**
 * The round a proposer's node coordinates for one proposal: who may vote
 * (the electorate), the pure round that counts the votes behind the one
 * {@link ConsensusRound} interface (quorum, hierarchical or PBFT, or the
 * outcome fixed before any vote when the threshold cannot be reached), and
 * the promise `propose()` waits on.
 */
import { createHierarchicalRound } from "../../consensus/hierarchical.js";
import { createPbftRound } from "../../consensus/pbft-round.js";
import { createQuorumRound, type RoundResult } from "../../consensus/quorum.js";
import { fromWeightUnits, thresholdUnits, toWeightUnits } from "../../consensus/quorum-math.js";
import {
  type ConsensusRound,
  fixedRound,
  fromHierarchicalRound,
  fromPbftRound,
  fromQuorumRound,
} from "../../consensus/round.js";
import {
  HUMAN_ROLE,
  type PrivilegedAction,
  type RuleVoter,
  type RuntimeProposal,
} from "../../consensus/rule.js";
import type { Decision } from "../../consensus/seal.js";
import type { Tally, Verifier } from "../../consensus/types.js";
import { hashProposal } from "../../consensus/vote.js";
import { ConfigError, InvalidEnvelopeError, toError } from "../../errors/index.js";
import { refusedVoter } from "./approval.js";
import { type ConsensusContext, localVoters, remoteVoters } from "./context.js";
import type { LocalVoter } from "./types.js";

/** The coordinator still takes commits this long after the deadline (commits in flight). */
export const PBFT_CLOSE_GRACE_MS = 200;
/** A cluster vote not counted after this long is asked for again. */
const CLUSTER_VOTE_RESEND_MS = 500;

/** A round this node coordinates, from its proposal to its sealed decision. */
export interface CoordinatedRound {
  readonly proposal: RuntimeProposal;
  readonly proposer: LocalVoter;
  /** Counts the votes, whatever the protocol. */
  readonly counting: ConsensusRound;
  readonly resolve: (decision: Decision) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Who votes on `action`: the live agents of its voter roles, hosted here
 * or trusted elsewhere (not refused here: revoked, or under any admission
 * but open a credential run out), and the people its settings list.
 *
 * @throws ConfigError if nobody can vote.
 */
export function electorate(
  node: ConsensusContext,
  action: string,
  settings: PrivilegedAction,
): RuleVoter[] {
  const roles = new Set(settings.voters ?? node.roles.names);
  const voters = new Map<string, RuleVoter>();
  for (const voter of localVoters(node)) {
    if (roles.has(voter.role)) voters.set(voter.id, voter);
  }
  for (const voter of remoteVoters(node)) {
    // Not an agent refused here (revoked, a credential run out): this
    // node's guard would refuse an approval that lists it.
    if (
      roles.has(voter.role) &&
      !voters.has(voter.id) &&
      refusedVoter(node, voter.id) === undefined
    ) {
      voters.set(voter.id, voter);
    }
  }
  for (const human of settings.humans ?? []) {
    voters.set(human.id, {
      id: human.id,
      role: HUMAN_ROLE,
      weight: human.weight,
      publicKey: human.publicKey,
    });
  }
  if (voters.size === 0) {
    throw new ConfigError(
      `no live agent of the voter roles (${[...roles].join(", ")}) can vote on "${action}"; start some, or change privileged.${action}.voters`,
    );
  }
  return [...voters.values()];
}

/** The pure round that counts the votes on `proposal`, by its protocol; or its outcome fixed at once. */
export function protocolRound(proposal: RuntimeProposal, verify: Verifier): ConsensusRound {
  const { protocol, rule } = proposal;
  const proposalHash = hashProposal(proposal);
  if (protocol === "pbft") {
    return fromPbftRound(
      createPbftRound({
        proposal,
        proposalHash,
        replicas: rule.voters,
        verify,
        closesAt: proposal.deadline + PBFT_CLOSE_GRACE_MS,
      }),
    );
  }
  const unreachable = unreachableThreshold(proposal);
  if (unreachable !== undefined) return fixedRound(unreachable);
  const common = {
    proposal,
    proposalHash,
    voters: rule.voters,
    threshold: rule.threshold,
    vetoRoles: rule.vetoRoles,
    verify,
  };
  if (protocol === "hierarchical") {
    return fromHierarchicalRound(
      createHierarchicalRound({
        ...common,
        ...(rule.clusterSize === undefined ? {} : { clusterSize: rule.clusterSize }),
      }),
      { resendMs: CLUSTER_VOTE_RESEND_MS },
    );
  }
  return fromQuorumRound(createQuorumRound(common));
}

/**
 * A fixed threshold above the total weight of the voters the rule lists
 * (those live when it was proposed) can never be reached: the round ends at
 * once as `no-quorum`, with the reason. Undefined when it can be reached.
 */
export function unreachableThreshold(proposal: RuntimeProposal): RoundResult | undefined {
  const { rule } = proposal;
  let total = 0;
  for (const voter of rule.voters) total += toWeightUnits(voter.weight);
  const threshold = thresholdUnits(rule.threshold, total);
  if (threshold <= total) return undefined;
  const tally: Tally = {
    approve: 0,
    reject: 0,
    abstain: 0,
    threshold: fromWeightUnits(threshold),
    total: fromWeightUnits(total),
  };
  return {
    proposal,
    protocol: proposal.protocol,
    proposalHash: hashProposal(proposal),
    votes: [],
    tally,
    outcome: "no-quorum",
    evidence: [],
    decidedAt: proposal.ts,
    reason: `the threshold (${tally.threshold}) exceeds the total weight (${tally.total}) of the ${rule.voters.length} live voter${rule.voters.length === 1 ? "" : "s"} (${rule.voters.map((v) => v.id).join(", ")}); start the missing voters or lower the threshold`,
  };
}

/** Shortest and longest a round may stay open, in ms: as the swarm file's `deadlineMs`. */
export const ROUND_DEADLINE_RANGE_MS = { min: 10, max: 86_400_000 } as const;

/**
 * `deadlineMs` checked as a round's duration: a whole number of ms within
 * {@link ROUND_DEADLINE_RANGE_MS}. A round that closes before it opens
 * would seal a `no-quorum` decision nobody could vote on.
 * @throws ConfigError saying which values are allowed.
 */
export function roundDeadlineMs(deadlineMs: number): number {
  const { min, max } = ROUND_DEADLINE_RANGE_MS;
  if (!Number.isSafeInteger(deadlineMs) || deadlineMs < min || deadlineMs > max) {
    throw new ConfigError(
      `deadlineMs must be a whole number of ms from ${min} to ${max}, got ${String(deadlineMs)}; pass a duration such as 5000`,
    );
  }
  return deadlineMs;
}

/**
 * A proposal's `data` as the voters see it: plain JSON (`undefined` is
 * `null`; what JSON drops, such as a nested function, is dropped).
 * @throws InvalidEnvelopeError when JSON cannot represent it (a bigint, a
 *   cycle, a function or symbol in its place).
 */
export function plainData(data: unknown): unknown {
  let text: string | undefined;
  try {
    text = JSON.stringify(data ?? null);
  } catch (error) {
    throw new InvalidEnvelopeError(
      `the proposal's data is not representable as JSON (${toError(error).message}); pass plain JSON data (numbers, strings, booleans, null, arrays, objects; a bigint as a string)`,
      { cause: error },
    );
  }
  if (text === undefined) {
    throw new InvalidEnvelopeError(
      `the proposal's data is a ${typeof data}, not JSON; pass plain JSON data (numbers, strings, booleans, null, arrays, objects)`,
    );
  }
  return JSON.parse(text) as unknown;
}
