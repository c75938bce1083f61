/**
 * Offline verification of one sealed decision. Pure: given the voters'
 * public keys and the consensus configuration, anyone can recompute every
 * signature, tally, outcome, seal and link of a decision. The chain of
 * decisions is verified in `audit-verify.ts`, the guard of a privileged
 * action is in `approval.ts`.
 */
import type { KeyObject } from "node:crypto";
import { ConclaveError } from "../errors/index.js";
import type { Envelope } from "../wire/envelope.js";
import { verifyEnvelope } from "../wire/signature.js";
import { auditRecord, type SignatureCheck } from "./audit.js";
import {
  DEFAULT_CLUSTER_SIZE,
  defaultHierarchySeed,
  type HierarchyPlan,
  planFlat,
  planHierarchy,
} from "./hierarchy-plan.js";
import { auditPbftRecord } from "./pbft-round.js";
import {
  fromWeightUnits,
  type QuorumThreshold,
  thresholdUnits,
  toWeightUnits,
} from "./quorum-math.js";
import { computeSeal, type Decision } from "./seal.js";
import type { ProtocolName, Voter } from "./types.js";
import { hashProposal } from "./vote.js";

/**
 * Checks a decision's record under one protocol's rule. Returns undefined
 * when it holds, else what is wrong. The seal and link are checked before.
 */
export type DecisionRule = (
  decision: Decision,
  options: VerifyDecisionOptions,
) => string | undefined;

/** What a decision is verified against: keys and configuration the auditor trusts. */
export interface VerifyDecisionOptions {
  /** Each voter's Ed25519 public key, by agent id. A missing key fails its votes. */
  readonly publicKeys: ReadonlyMap<string, KeyObject>;
  /** The eligible voters with their weights and roles. */
  readonly voters: readonly Voter[];
  /** The configured threshold; for `hierarchical`, one per level (the last repeats). */
  readonly threshold: QuorumThreshold | readonly QuorumThreshold[];
  readonly vetoRoles?: readonly string[];
  /** The expected `prevSeal` (the previous decision's seal, null for the first); unchecked when omitted. */
  readonly prevSeal?: string | null;
  /**
   * Expected parameters of a hierarchical vote. Defaults: cluster size 5,
   * the seed derived from the proposal hash, level deadlines splitting the
   * proposal's window evenly. The record must match them.
   */
  readonly hierarchy?: {
    readonly clusterSize?: number;
    readonly seed?: number;
    readonly levelDeadlines?: readonly number[];
  };
  /** Replacements for the built-in rules of `quorum`, `hierarchical` and `pbft`. */
  readonly rules?: Partial<Record<ProtocolName, DecisionRule>>;
}

/** The verdict of {@link verifyDecision}. */
export type VerifyDecisionResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: string };

/**
 * Verifies one sealed decision offline: the seal over its contents, the
 * link to the expected previous seal, and under its protocol's rule every
 * vote's signature, sender, proposal id and hash, one vote per sender, and
 * the tally and outcome recomputed from the votes (each cluster's too, for
 * `hierarchical`). Evidence is sealed but not re-verified: it holds what was
 * received, forged messages included.
 *
 * @example
 * ```ts
 * const verdict = verifyDecision(decision, { publicKeys, voters, threshold: { weight: 4 } });
 * if (!verdict.ok) console.error(verdict.reason);
 * ```
 */
export function verifyDecision(
  decision: Decision,
  options: VerifyDecisionOptions,
): VerifyDecisionResult {
  try {
    const reason = check(decision, options);
    return reason === undefined ? { ok: true } : { ok: false, reason };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, reason: `the decision cannot be verified: ${message}` };
  }
}

function check(decision: Decision, options: VerifyDecisionOptions): string | undefined {
  if (typeof decision !== "object" || decision === null) return "not a decision object";
  if (typeof decision.seal !== "string") return "the decision has no seal";
  if (computeSeal(decision) !== decision.seal) {
    return "the seal does not match the decision's contents: it was altered after sealing";
  }
  if (options.prevSeal !== undefined && decision.prevSeal !== options.prevSeal) {
    return `prevSeal is ${String(decision.prevSeal)}, expected ${String(options.prevSeal)}: the decision is not the next entry of this log`;
  }
  if (decision.proposal.protocol !== decision.protocol) {
    return `the proposal asks for ${decision.proposal.protocol}, the decision was made by ${decision.protocol}`;
  }
  const rule = options.rules?.[decision.protocol] ?? BUILT_IN_RULES[decision.protocol];
  if (rule === undefined) {
    return `no rule to verify ${decision.protocol} decisions; pass one in options.rules.${decision.protocol}`;
  }
  return rule(decision, options);
}

const BUILT_IN_RULES: Partial<Record<ProtocolName, DecisionRule>> = {
  quorum: (decision, options) => {
    if (Array.isArray(options.threshold)) {
      return "a quorum decision has one threshold; pass { weight } or { fraction }";
    }
    const votes = voteList(decision);
    if (typeof votes === "string") return votes;
    const unreachable = unreachableThreshold(decision, votes, options);
    if (unreachable !== null) return unreachable;
    const plan = planFlat({
      proposal: decision.proposal,
      voters: options.voters,
      threshold: options.threshold as QuorumThreshold,
      vetoRoles: options.vetoRoles ?? [],
    });
    return auditRecord(plan, { ...decision, votes }, signatureCheck(options.publicKeys));
  },
  hierarchical: (decision, options) => {
    const votes = voteList(decision);
    if (typeof votes === "string") return votes;
    const unreachable = unreachableThreshold(decision, votes, options);
    if (unreachable !== null) return unreachable;
    const record = decision.hierarchy;
    if (record === undefined) return "a hierarchical decision must carry its hierarchy record";
    const expected = options.hierarchy ?? {};
    const clusterSize = expected.clusterSize ?? DEFAULT_CLUSTER_SIZE;
    const proposalHash = hashProposal(decision.proposal);
    const seed = expected.seed ?? defaultHierarchySeed(proposalHash);
    if (record.clusterSize !== clusterSize || record.seed !== seed) {
      return `the hierarchy used cluster size ${record.clusterSize} and seed ${record.seed}; the configuration gives ${clusterSize} and ${seed}`;
    }
    let plan: HierarchyPlan;
    try {
      plan = planHierarchy({
        proposal: decision.proposal,
        proposalHash,
        voters: options.voters,
        threshold: options.threshold,
        vetoRoles: options.vetoRoles ?? [],
        clusterSize,
        seed,
        ...(expected.levelDeadlines === undefined
          ? {}
          : { levelDeadlines: expected.levelDeadlines }),
        representatives: record.representatives,
      });
    } catch (err) {
      return `the hierarchy record does not fit the voters: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (JSON.stringify(plan.levelDeadlines) !== JSON.stringify(record.levelDeadlines)) {
      return `the hierarchy used level deadlines [${record.levelDeadlines.join(", ")}]; the configuration gives [${plan.levelDeadlines.join(", ")}]`;
    }
    return auditRecord(plan, { ...decision, votes }, signatureCheck(options.publicKeys));
  },
  pbft: (decision, options) => {
    const votes = voteList(decision);
    if (typeof votes === "string") return votes;
    return auditPbftRecord(
      { ...decision, votes },
      { replicas: options.voters, checkSignature: signatureCheck(options.publicKeys) },
    );
  },
};

/**
 * A threshold above the voters' total weight (a fixed weight, when some
 * voters were not live) cannot be reached: the round ends `no-quorum` at
 * once, without votes. Returns null when the threshold is reachable (the
 * protocol's rule applies), else undefined when the record is that
 * immediate `no-quorum`, or what is wrong with it.
 */
function unreachableThreshold(
  decision: Decision,
  votes: readonly Envelope[],
  options: VerifyDecisionOptions,
): string | undefined | null {
  const rootThreshold = Array.isArray(options.threshold)
    ? options.threshold.at(-1)
    : options.threshold;
  if (rootThreshold === undefined) return null;
  let total = 0;
  for (const voter of options.voters) total += toWeightUnits(voter.weight);
  const threshold = thresholdUnits(rootThreshold as QuorumThreshold, total);
  if (threshold <= total) return null;
  if (decision.outcome !== "no-quorum") {
    return `the threshold (${fromWeightUnits(threshold)}) exceeds the voters' total weight (${fromWeightUnits(total)}), so the outcome can only be no-quorum, not ${decision.outcome}`;
  }
  if (votes.length > 0) return "a round whose threshold cannot be reached counts no votes";
  const tally = decision.tally;
  if (
    tally?.approve !== 0 ||
    tally.reject !== 0 ||
    tally.abstain !== 0 ||
    tally.threshold !== fromWeightUnits(threshold) ||
    tally.total !== fromWeightUnits(total)
  ) {
    return `the tally of a round whose threshold cannot be reached must be 0/0/0 with threshold ${fromWeightUnits(threshold)} and total ${fromWeightUnits(total)}`;
  }
  return undefined;
}

function voteList(decision: Decision): readonly Envelope[] | string {
  // Read from JSON, the record may not be the shape its type promises.
  const votes: unknown = decision.votes;
  return Array.isArray(votes)
    ? (votes as readonly Envelope[])
    : `a ${decision.protocol} decision must list its signed votes`;
}

function signatureCheck(publicKeys: ReadonlyMap<string, KeyObject>): SignatureCheck {
  return (envelope) => {
    const key = publicKeys.get(envelope.from);
    if (key === undefined)
      return `no public key for ${String(envelope.from)} (unknown agent or revoked key)`;
    try {
      verifyEnvelope(envelope, key);
      return undefined;
    } catch (err) {
      return err instanceof ConclaveError ? err.message : String(err);
    }
  };
}
