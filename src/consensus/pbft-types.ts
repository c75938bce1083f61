/**
 * The public shapes of a PBFT replica ({@link createPbftReplica}): its
 * configuration, what it asks to have done (`ready()`), and its status. The
 * protocol itself is documented in `pbft.ts`.
 */
import type { Envelope, EnvelopeFields } from "../wire/envelope.js";
import type { PbftBody, PbftVoteBody } from "./pbft-messages.js";
import type { ByzantineEvidence, Proposal, Verifier, Voter } from "./types.js";

/** Construction-time settings of {@link createPbftReplica}. */
export interface PbftReplicaConfig {
  /** This replica's agent id; one of `replicas`. */
  readonly id: string;
  /** All replicas, in the order that picks primaries (view `v` → `replicas[v mod n]`). */
  readonly replicas: readonly Voter[];
  /** Byzantine replicas tolerated; `replicas.length` must be at least `3f + 1`. */
  readonly f: number;
  /**
   * Creates and signs an envelope as this replica (`fields.from` is its id),
   * with `ts` = `now`. Called once per message this replica sends. It may
   * throw (e.g. `createEnvelope` refusing a body nested too deep); the replica
   * then reports the message as `unsignable` and does not send it.
   */
  readonly sign: (fields: EnvelopeFields<PbftBody>, now: number) => Envelope<PbftBody>;
  /** Checks an envelope's signature against its `from`'s registered key. */
  readonly verify: Verifier;
  /** The voter policy: true to vote for the proposal. Must not throw (a throw counts as false). */
  readonly validate: (proposal: Proposal) => boolean;
  /** Ticks without progress before a backup gives up on the primary. */
  readonly viewChangeTimeoutTicks: number;
  /** Virtual time at creation, in ms. */
  readonly now: number;
  /**
   * How far past its lowest uncommitted sequence number a replica accepts
   * pre-prepares (PBFT's high watermark). Default 256.
   */
  readonly window?: number;
}

/** A message to send: to one replica, or to every other replica (`"*"`). */
export interface PbftOutbound {
  readonly to: string;
  readonly envelope: Envelope<PbftBody>;
}

/** A proposal this replica saw committed, with its proof. */
export interface PbftCommitted {
  readonly seq: number;
  /** View the certificate's commits are from. */
  readonly view: number;
  readonly digest: string;
  readonly proposal: Proposal;
  /** `q` (2f + 1) signed commit envelopes from distinct replicas, in replica order. */
  readonly certificate: readonly Envelope<PbftVoteBody>[];
}

/** A proposal whose deadline passed before this replica saw it committed. */
export interface PbftExpired {
  readonly proposal: Proposal;
  readonly digest: string;
  readonly outcome: "no-quorum";
}

/** Why a message was not acted upon without being evidence of misbehaviour. */
export type PbftRejectReason =
  /** Not an envelope this protocol can read (no type, no sender, not an object). */
  | "malformed"
  /** Not a PBFT message type. */
  | "unknown-type"
  /** For a view this replica has left. */
  | "stale-view"
  /** Sequence number outside the watermark window. */
  | "out-of-window"
  /** Too many messages for future views buffered from this sender. */
  | "buffer-full"
  /** The proposal's deadline has passed. */
  | "expired"
  /** The proposal is already committed, or ordered at another seq in this view. */
  | "duplicate-proposal"
  /** `validate` said no (or threw): this replica does not vote for it. */
  | "policy"
  /** A prepare from the primary of its view (its pre-prepare already counts). */
  | "prepare-from-primary"
  /** `sign` refused a message this replica wanted to send (e.g. nested too deep); not sent. */
  | "unsignable";

/** A message this replica did not act on, and why. */
export interface PbftRejected {
  readonly message: unknown;
  readonly reason: PbftRejectReason;
  readonly detail: string;
}

/** Everything the replica wants done since the last {@link PbftReplica.ready}. */
export interface PbftReady {
  /** Envelopes to send, in order. */
  readonly send: readonly PbftOutbound[];
  readonly committed: readonly PbftCommitted[];
  readonly evidence: readonly ByzantineEvidence[];
  readonly expired: readonly PbftExpired[];
  readonly rejected: readonly PbftRejected[];
}

/** A snapshot of a replica's protocol state, for tests and dashboards. */
export interface PbftStatus {
  readonly id: string;
  /** The view the replica is in, or is trying to enter when `mode` is `view-change`. */
  readonly view: number;
  readonly mode: "normal" | "view-change";
  /** Primary of `view`. */
  readonly primary: string;
  /** Every sequence number up to this one is committed here. */
  readonly lowWatermark: number;
  /** Sequence numbers committed here. */
  readonly committed: number;
}

/** One PBFT replica. See the module documentation for the protocol. */
export interface PbftReplica {
  readonly id: string;
  /**
   * Handles one received envelope. `via` is the replica the network says it
   * came from, when the transport knows (an authenticated connection);
   * without it, sender checks rest on signatures alone. Never throws on bad
   * input: it is reported in `ready()`.
   */
  step(envelope: Envelope, now: number, via?: string): void;
  /** One unit of time passed. */
  tick(now: number): void;
  /**
   * Submits a proposal. Call it at every replica (the runtime multicasts a
   * proposal, as a PBFT client does): the primary validates it and, if it
   * accepts, orders it; a backup remembers it, validates it, and if it
   * accepts starts its view-change timer, so that a primary that ignores the
   * proposal is replaced; a backup that later becomes primary orders it. Calling
   * it twice with the same proposal is a no-op.
   *
   * @throws InvalidEnvelopeError if the proposal holds a value JSON cannot carry.
   */
  propose(proposal: Proposal, now: number): void;
  /** Drains what the replica wants done. */
  ready(): PbftReady;
  /** True if `ready()` would return anything. */
  hasReady(): boolean;
  status(): PbftStatus;
}
