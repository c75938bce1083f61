/**
 * Decisions and their seals. A decision is the full record of a proposal's
 * outcome (the proposal, the signed votes, the tally, the outcome, the
 * evidence of misbehaviour) sealed with SHA-256 over its canonical JSON and
 * chained to the previous decision's seal, so an audit log of decisions is
 * tamper-evident: changing, removing, inserting or reordering any entry
 * breaks a seal or a link (see `verifyChain`).
 */
import { sha256Canonical } from "../wire/canonical.js";
import type { Envelope } from "../wire/envelope.js";
import type { SealSignature } from "./audit-anchor.js";
import type { HierarchyRecord } from "./hierarchy-plan.js";
import type { RoundResult } from "./quorum.js";
import type { ByzantineEvidence, Outcome, Proposal, ProtocolName, Tally } from "./types.js";

/** A sealed outcome of one proposal; verifiable offline with the voters' public keys. */
export interface Decision {
  readonly proposal: Proposal;
  readonly protocol: ProtocolName;
  /**
   * `quorum`: the accepted signed votes. `hierarchical`: the accepted signed
   * votes and cluster votes. `pbft`: the commits seen for the proposal (2f + 1
   * of them, the commit certificate, when approved), then the signed refusals
   * (`consensus.vote` with `reject` or `abstain`) of replicas whose policy
   * said no; see `pbft-round.ts`.
   */
  readonly votes: readonly Envelope[];
  readonly tally: Tally;
  readonly outcome: Outcome;
  /** Misbehaviour seen during the vote, as received (not re-verified: forged messages are evidence too). */
  readonly evidence: readonly ByzantineEvidence[];
  /** When the outcome was decided, ms since the epoch (the `now` of the deciding step or tick). */
  readonly decidedAt: number;
  /** `hierarchical` only: the tree's parameters and representatives. */
  readonly hierarchy?: HierarchyRecord;
  /**
   * Why the round ended without a vote, when it did (a `no-quorum` decided
   * at once: a fixed threshold above the live voters' weight, fewer than 4
   * PBFT replicas). Sealed like every other field; absent otherwise.
   */
  readonly reason?: string;
  /** The seal of the previous decision in the audit log; null for the first. */
  readonly prevSeal: string | null;
  /** SHA-256 hex over the canonical JSON of every other field. */
  readonly seal: string;
  /**
   * The appender's signature of `seal`, as stored in the audit log (not
   * covered by the seal; absent on decisions logged before seals were signed).
   */
  readonly signature?: SealSignature;
}

/** A decision before sealing: what a round's result holds. */
export type DecisionParts = Omit<Decision, "seal" | "prevSeal" | "signature">;

/** Only the fields a seal covers, in a fresh object (extra fields of the input are left out). */
function sealedFields(decision: DecisionParts & { readonly prevSeal: string | null }): object {
  return {
    proposal: decision.proposal,
    protocol: decision.protocol,
    votes: decision.votes,
    tally: decision.tally,
    outcome: decision.outcome,
    evidence: decision.evidence,
    decidedAt: decision.decidedAt,
    ...(decision.hierarchy === undefined ? {} : { hierarchy: decision.hierarchy }),
    ...(decision.reason === undefined ? {} : { reason: decision.reason }),
    prevSeal: decision.prevSeal,
  };
}

/**
 * The seal a decision must carry: SHA-256 (hex) over the RFC 8785 canonical
 * JSON of `{ proposal, protocol, votes, tally, outcome, evidence, decidedAt,
 * hierarchy?, reason?, prevSeal }`.
 *
 * @throws InvalidEnvelopeError if a field holds a value JSON cannot carry.
 */
export function computeSeal(
  decision: DecisionParts & { readonly prevSeal: string | null },
): string {
  return sha256Canonical(sealedFields(decision));
}

/**
 * Seals a decided round's result, chaining it to the previous seal of the
 * audit log (null for the first decision).
 *
 * @throws InvalidEnvelopeError if a field holds a value JSON cannot carry.
 *
 * @example
 * ```ts
 * const result = round.result();
 * if (result) log.append(sealDecision(result, log.lastSeal() ?? null));
 * ```
 */
export function sealDecision(parts: DecisionParts, prevSeal: string | null): Decision {
  const fields = sealedFields({ ...parts, prevSeal }) as Omit<Decision, "seal">;
  return { ...fields, seal: sha256Canonical(fields) };
}

/**
 * The fields of a decided round's result that its decision seals, as plain
 * JSON (a copy: what the audit log stores is exactly what was sealed).
 */
export function decisionParts(
  result: RoundResult & { readonly hierarchy?: HierarchyRecord },
): DecisionParts {
  return JSON.parse(
    JSON.stringify({
      proposal: result.proposal,
      protocol: result.protocol,
      votes: result.votes,
      tally: result.tally,
      outcome: result.outcome,
      evidence: result.evidence,
      decidedAt: result.decidedAt,
      ...(result.hierarchy === undefined ? {} : { hierarchy: result.hierarchy }),
      ...(result.reason === undefined ? {} : { reason: result.reason }),
    }),
  ) as DecisionParts;
}
