/**
 * Shared vocabulary of the consensus protocols. Protocols are pure state
 * machines: they take messages and ticks (virtual time in ms) and return
 * messages to send and decisions; no timers, no IO, randomness injected.
 *
 * Votes and protocol messages are envelopes (src/wire) signed by their
 * sender. A protocol never trusts a message it has not verified through the
 * injected `Verifier`.
 */
import type { Envelope } from "../wire/envelope.js";

/** The consensus protocols a privileged action can be decided by. */
export type ProtocolName = "quorum" | "hierarchical" | "pbft";

/** A privileged action waiting for approval. */
export interface Proposal {
  /** ULID. */
  readonly id: string;
  /** The privileged action, e.g. `funds.transfer`. */
  readonly action: string;
  /** What the action would do; what voter policies judge. */
  readonly data: unknown;
  /** Agent id of the proposer. */
  readonly proposer: string;
  /** Created, ms since the epoch. */
  readonly ts: number;
  /** After this time (ms) an undecided proposal ends as `no-quorum`. */
  readonly deadline: number;
  readonly protocol: ProtocolName;
}

/** A vote: what a policy, a vote handler and a human ballot return as `choice`. */
export type VoteChoice = "approve" | "reject" | "abstain";

/** The body of a `consensus.vote` envelope. */
export interface VoteBody {
  readonly proposal: string;
  /** SHA-256 (hex) of the canonical JSON of the proposal voted on. */
  readonly proposalHash: string;
  readonly choice: VoteChoice;
  readonly reason?: string;
}

/** A participant as the protocol sees it: id, weight, role, and whether it may veto. */
export interface Voter {
  readonly id: string;
  readonly weight: number;
  readonly role: string;
}

/** How a consensus round ended. */
export type Outcome = "approved" | "rejected" | "vetoed" | "no-quorum";

/** Proof that a participant misbehaved, kept in the decision. */
export interface ByzantineEvidence {
  readonly kind:
    | "bad-signature"
    | "unknown-voter"
    | "duplicate-vote"
    | "equivocation"
    | "replay"
    | "wrong-proposal"
    | "out-of-view"
    | "forged-sender";
  /** The agent id the evidence is against (the claimed sender). */
  readonly agent: string;
  readonly detail: string;
  /** The offending signed message(s), as received. */
  readonly messages: readonly Envelope[];
}

/** Checks an envelope's signature against its sender's registered key. Pure from the protocol's view. */
export type Verifier = (envelope: Envelope) => boolean;

/** The weights counted so far in a round, and what it takes to decide. */
export interface Tally {
  readonly approve: number;
  readonly reject: number;
  readonly abstain: number;
  /** Weight needed to approve. */
  readonly threshold: number;
  /** Weight of every eligible voter. */
  readonly total: number;
}
