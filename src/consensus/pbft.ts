/**
 * PBFT (Castro & Liskov, "Practical Byzantine Fault Tolerance", OSDI '99) as a
 * pure state machine, one instance per replica, in the style of etcd raft:
 * feed it messages (`step`), time (`tick`) and requests (`propose`), then
 * drain what it wants done (`ready`). It keeps no timers, reads no clock, does
 * no IO and draws no randomness; `now` (ms) is only compared with proposal
 * deadlines and passed to `sign`.
 *
 * Message formats: see `pbft-messages.ts` ({@link PBFT_MESSAGE_TYPES}).
 *
 * ## Normal case
 * The primary of view `v` (replica `v mod n`) assigns the next sequence number
 * to a proposal and broadcasts a signed pre-prepare. A backup that accepts it
 * (right view, right primary, digest matches, sequence number inside the
 * window, deadline not passed, `validate(proposal)` true) broadcasts a
 * prepare. A replica is *prepared* for (v, seq, digest) once it holds the
 * pre-prepare and `q - 1` (2f) matching prepares from distinct backups; it
 * then broadcasts a commit. It *commits* seq once it holds `q` (2f + 1)
 * matching commits from distinct replicas and knows the proposal with that
 * digest; the `q` commit envelopes are the commit certificate, checkable
 * offline with `verifyPbftCertificate`.
 *
 * ## Voter policy and outcomes
 * `validate` is the replica's vote. A replica that rejects a proposal sends
 * neither prepare nor commit for it: in an asynchronous Byzantine protocol
 * silence is the only safe "no", because a signed "no" could not be told
 * apart from a primary's lie. Hence:
 * - `approved`: a commit certificate formed. It needs `q` replicas (counting
 *   the primary) to accept the proposal, so at least `q - f` honest ones did.
 * - `no-quorum`: the proposal's `deadline` passed before this replica saw a
 *   certificate (reported in `ready().expired`). That covers "too many
 *   replicas rejected it" (more than `n - q`, i.e. more than f), "the primary
 *   never ordered it", and "the network did not deliver in time".
 * PBFT never yields `rejected` or `vetoed`: use the quorum protocol for
 * weighted, explicit rejections. Replica weights are ignored: one replica, one
 * vote.
 *
 * Honest replicas neither accept a fresh proposal nor sign a prepare or commit
 * for it at or after its deadline, so a certificate only forms from votes
 * signed before the deadline. It may still *complete* at a replica after the
 * deadline (the last commit was in flight); the replica then reports it in
 * `committed` even if it already reported `expired`: the certificate is the
 * authority, `expired` is a local observation.
 *
 * ## View change
 * A backup that knows an accepted, undecided, unexpired proposal counts ticks
 * while no sequence number commits; after `viewChangeTimeoutTicks` it moves to
 * view v + 1 and broadcasts a view-change carrying its prepared certificates.
 * It also does so at once when it sees its primary equivocate (two signed
 * pre-prepares for the same view and seq with different digests). A replica
 * that sees `f + 1` replicas ask for higher views joins (the lowest view at
 * least f + 1 of them ask for). A replica waiting for a new view that does not
 * come moves on to the next view after twice the previous wait (capped at 64
 * times the timeout). View-changes carry commit certificates for what the
 * sender committed and prepared certificates for what it only prepared. The
 * primary of the new view, holding `q` view-changes for it, broadcasts
 * new-view: sequence numbers with a commit certificate are decided (every
 * replica commits them from the certificate, which also brings a replica that
 * missed the commits up to date); the others are re-proposed at the same
 * sequence numbers with the value of the prepared certificate from the
 * highest view (null requests in the gaps); then the primary orders the
 * proposals it knows that are still pending. Replicas prepare re-proposed
 * requests without asking `validate` again: a quorum accepted them already
 * and one may have committed.
 *
 * ## Byzantine evidence (`ready().evidence`)
 * - `bad-signature`: `verify` rejected the envelope. Names the claimed
 *   sender, who may be innocent (someone forged its name).
 * - `unknown-voter`: the sender is not a replica.
 * - `forged-sender`: the network (the `via` argument of `step`) delivered the
 *   envelope from another replica than its `from`: names the relaying
 *   replica. Replicas never relay each other's envelopes.
 * - `replay`: an envelope id this replica already processed arrived again.
 *   Names the claimed sender; anyone holding a signed message can replay it,
 *   and an at-least-once transport redelivers, so put the delivery dedup
 *   layer in front if replay evidence should mean an attack.
 * - `equivocation`: two validly signed messages from one replica for the same
 *   slot with different content (pre-prepares, prepares or commits for one
 *   view and seq, view-changes or new-views for one view). Proof.
 * - `out-of-view`: a validly signed pre-prepare or new-view from a replica
 *   that is not the primary of the view it names. Proof.
 * - `wrong-proposal`: a validly signed message whose content breaks the
 *   protocol: a malformed body, a digest that is not its proposal's, a
 *   certificate that does not check, a new-view whose re-proposals differ
 *   from what its view-changes prove. Proof.
 * Messages that are merely late (an older view), early (buffered until their
 * view starts), undecodable, or refused by policy are reported in
 * `ready().rejected` with a reason instead: honest replicas produce those.
 *
 * ## Limits
 * No checkpoints: logs grow with the sequence numbers an instance orders, and
 * a view-change carries one certificate per sequence number the sender has
 * committed or prepared. Run one instance per bounded batch of proposals
 * (e.g. per epoch). No retransmission: under message loss, progress comes
 * from timeouts and view changes, and a replica that missed the commits of a
 * decision learns it only at the next view change the others take part in (a
 * lone replica asking for a view change waits, with growing timeouts, for
 * f others to join). A replica that refuses a proposal others accept does not
 * slow them down; one that accepts a proposal too few others accept asks for
 * a view change, which happens once f + 1 such replicas do, until the
 * deadline ends the proposal. Decisions are reported as they commit, not in
 * sequence order: proposals are independent approvals, not operations on a
 * shared state.
 */
import { ConfigError } from "../errors/index.js";
import type { Envelope, EnvelopeFields } from "../wire/envelope.js";
import {
  isNewViewBody,
  isPrePrepareBody,
  isProposal,
  isRecord,
  isViewChangeBody,
  isVoteBody,
  PBFT_MESSAGE_TYPES,
  PBFT_NULL_DIGEST,
  type PbftBody,
  type PbftCommitCertificate,
  type PbftNewViewBody,
  type PbftPrePrepareBody,
  type PbftPreparedCertificate,
  type PbftViewChangeBody,
  type PbftVoteBody,
  pbftDigest,
  pbftQuorum,
} from "./pbft-messages.js";
import type { ByzantineEvidence, Proposal, Verifier, Voter } from "./types.js";

export * from "./pbft-messages.js";

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

interface Instance {
  readonly view: number;
  readonly seq: number;
  prePrepare: Envelope<PbftPrePrepareBody> | undefined;
  /** Whether this replica votes (prepare, commit) for the pre-prepared proposal. */
  accepted: boolean;
  readonly prepares: Map<string, Envelope<PbftVoteBody>>;
  readonly commits: Map<string, Envelope<PbftVoteBody>>;
  prepareSent: boolean;
  commitSent: boolean;
  prepared: boolean;
}

interface Slot {
  committed: Decided | undefined;
  /** Prepared certificate from the highest view. */
  proof: PbftPreparedCertificate | undefined;
  /** Latest pre-prepare accepted for this seq. */
  lastPrePrepare: Envelope<PbftPrePrepareBody> | undefined;
}

interface Request {
  readonly proposal: Proposal;
  readonly digest: string;
  accepted: boolean;
  committed: boolean;
  expired: boolean;
  /** View in which this replica last saw (or made) a pre-prepare for it; -1 if none. */
  orderedInView: number;
  orderedAt: number;
}

/** A sequence number's value, fixed by a commit certificate. */
interface Decided {
  readonly view: number;
  readonly digest: string;
  readonly proposal: Proposal | null;
  /** `q` matching commits, in replica order. */
  readonly commits: readonly Envelope<PbftVoteBody>[];
}

/** One sequence number of a new view: decided by a certificate, or (re-)proposed. */
type PlanEntry =
  | { readonly seq: number; readonly decided: Decided }
  | {
      readonly seq: number;
      readonly decided?: undefined;
      readonly digest: string;
      readonly proposal: Proposal | null;
    };

type Buffered =
  | { readonly kind: "pre-prepare"; readonly envelope: Envelope<PbftPrePrepareBody> }
  | { readonly kind: "prepare" | "commit"; readonly envelope: Envelope<PbftVoteBody> };

const MAX_BACKOFF_EXPONENT = 6;

/**
 * Creates one PBFT replica. See the module documentation.
 *
 * @throws ConfigError if `id` is not among `replicas`, ids repeat, `f` is not
 *   an integer >= 0, there are fewer than `3f + 1` replicas, or a timeout or
 *   window is not a positive integer.
 *
 * @example
 * ```ts
 * const replica = createPbftReplica({
 *   id: "r1", replicas, f: 1, viewChangeTimeoutTicks: 20, now: 0,
 *   sign: (fields, now) => createSignedEnvelope(fields, keys.privateKey, { clock: fixedAt(now) }),
 *   verify: (env) => registry.verify(env),
 *   validate: (proposal) => policy.allows(proposal),
 * });
 * replica.propose(proposal, now);
 * for (const { to, envelope } of replica.ready().send) transport.send(to, envelope);
 * ```
 */
export function createPbftReplica(config: PbftReplicaConfig): PbftReplica {
  return new PbftReplicaImpl(config);
}

class PbftReplicaImpl implements PbftReplica {
  readonly id: string;
  readonly #ids: readonly string[];
  readonly #position: ReadonlyMap<string, number>;
  readonly #n: number;
  readonly #f: number;
  readonly #q: number;
  readonly #window: number;
  readonly #timeout: number;
  readonly #sign: PbftReplicaConfig["sign"];
  readonly #verify: Verifier;
  readonly #validate: PbftReplicaConfig["validate"];

  #now: number;
  #view = 0;
  #mode: "normal" | "view-change" = "normal";
  #idleTicks = 0;
  #attempts = 0;
  #nextSeq = 1;
  #low = 0;
  #committedCount = 0;

  readonly #instances = new Map<number, Map<number, Instance>>();
  readonly #slots = new Map<number, Slot>();
  readonly #proposals = new Map<string, Proposal | null>([[PBFT_NULL_DIGEST, null]]);
  readonly #requests = new Map<string, Request>();
  /** Requests not yet committed nor expired, in arrival order. */
  readonly #pending = new Set<Request>();
  readonly #committedIds = new Set<string>();
  readonly #seen = new Set<string>();
  readonly #prePrepareIndex = new Map<string, Envelope<PbftPrePrepareBody>>();
  readonly #voteIndex = new Map<string, Envelope<PbftVoteBody>>();
  /** Each replica's highest view-change. */
  readonly #viewChanges = new Map<string, Envelope<PbftViewChangeBody>>();
  readonly #newViews = new Map<number, Envelope<PbftNewViewBody>>();
  #future: Buffered[] = [];
  readonly #futureCount = new Map<string, number>();
  readonly #evidenceKeys = new Set<string>();
  /** Digests of proposals already hashed; received proposals are never mutated. */
  readonly #digests = new WeakMap<object, string>();

  #send: PbftOutbound[] = [];
  #committed: PbftCommitted[] = [];
  #evidence: ByzantineEvidence[] = [];
  #expired: PbftExpired[] = [];
  #rejected: PbftRejected[] = [];

  constructor(config: PbftReplicaConfig) {
    const ids = config.replicas.map((r) => r.id);
    if (new Set(ids).size !== ids.length) throw new ConfigError("replica ids must be unique");
    if (!ids.includes(config.id)) {
      throw new ConfigError(`replica "${config.id}" is not in the replica list`);
    }
    if (!(Number.isInteger(config.f) && config.f >= 0)) {
      throw new ConfigError(`f must be an integer >= 0, got ${config.f}`);
    }
    if (ids.length < 3 * config.f + 1) {
      throw new ConfigError(
        `PBFT with f = ${config.f} needs at least ${3 * config.f + 1} replicas, got ${ids.length}; lower f or add replicas`,
      );
    }
    const timeout = config.viewChangeTimeoutTicks;
    if (!(Number.isInteger(timeout) && timeout > 0)) {
      throw new ConfigError(`viewChangeTimeoutTicks must be a positive integer, got ${timeout}`);
    }
    const window = config.window ?? 256;
    if (!(Number.isInteger(window) && window > 0)) {
      throw new ConfigError(`window must be a positive integer, got ${window}`);
    }
    this.id = config.id;
    this.#ids = ids;
    this.#position = new Map(ids.map((id, i) => [id, i]));
    this.#n = ids.length;
    this.#f = config.f;
    this.#q = pbftQuorum(ids.length, config.f);
    this.#window = window;
    this.#timeout = timeout;
    this.#sign = config.sign;
    this.#verify = config.verify;
    this.#validate = config.validate;
    this.#now = config.now;
  }

  // ---- public API -------------------------------------------------------

  step(envelope: Envelope, now: number, via?: string): void {
    this.#now = now;
    const message = this.#admit(envelope, via);
    if (message === undefined) return;
    switch (message.type) {
      case PBFT_MESSAGE_TYPES.prePrepare:
        this.#onPrePrepare(message as Envelope<PbftPrePrepareBody>);
        break;
      case PBFT_MESSAGE_TYPES.prepare:
        this.#onVote("prepare", message as Envelope<PbftVoteBody>);
        break;
      case PBFT_MESSAGE_TYPES.commit:
        this.#onVote("commit", message as Envelope<PbftVoteBody>);
        break;
      case PBFT_MESSAGE_TYPES.viewChange:
        this.#onViewChange(message as Envelope<PbftViewChangeBody>);
        break;
      case PBFT_MESSAGE_TYPES.newView:
        this.#onNewView(message as Envelope<PbftNewViewBody>);
        break;
    }
  }

  tick(now: number): void {
    this.#now = now;
    for (const request of this.#pending) {
      if (now >= request.proposal.deadline) {
        request.expired = true;
        this.#pending.delete(request);
        this.#expired.push({
          proposal: request.proposal,
          digest: request.digest,
          outcome: "no-quorum",
        });
      }
    }
    if (this.#mode === "normal") {
      if (this.#isPrimary(this.#view) || !this.#waiting()) {
        this.#idleTicks = 0;
        return;
      }
      if (++this.#idleTicks >= this.#timeout) this.#startViewChange(this.#view + 1);
      return;
    }
    const wait = this.#timeout * 2 ** Math.min(this.#attempts - 1, MAX_BACKOFF_EXPONENT);
    if (++this.#idleTicks >= wait) this.#startViewChange(this.#view + 1);
  }

  propose(proposal: Proposal, now: number): void {
    this.#now = now;
    const digest = pbftDigest(proposal);
    if (this.#requests.has(digest)) return;
    const request = this.#learn(proposal, digest);
    if (now >= proposal.deadline) {
      this.#reject(proposal, "expired", `proposal ${proposal.id} is past its deadline`);
    } else if (this.#committedIds.has(proposal.id)) {
      this.#reject(proposal, "duplicate-proposal", `proposal ${proposal.id} is already committed`);
    } else {
      request.accepted = this.#policy(proposal);
    }
    if (this.#mode === "normal" && this.#isPrimary(this.#view)) this.#orderPending();
  }

  ready(): PbftReady {
    const out: PbftReady = {
      send: this.#send,
      committed: this.#committed,
      evidence: this.#evidence,
      expired: this.#expired,
      rejected: this.#rejected,
    };
    this.#send = [];
    this.#committed = [];
    this.#evidence = [];
    this.#expired = [];
    this.#rejected = [];
    return out;
  }

  hasReady(): boolean {
    return (
      this.#send.length > 0 ||
      this.#committed.length > 0 ||
      this.#evidence.length > 0 ||
      this.#expired.length > 0 ||
      this.#rejected.length > 0
    );
  }

  status(): PbftStatus {
    return {
      id: this.id,
      view: this.#view,
      mode: this.#mode,
      primary: this.#primaryOf(this.#view),
      lowWatermark: this.#low,
      committed: this.#committedCount,
    };
  }

  // ---- admission: shape, sender, signature, replay ------------------------

  #admit(envelope: unknown, via: string | undefined): Envelope | undefined {
    if (
      !isRecord(envelope) ||
      typeof envelope.id !== "string" ||
      typeof envelope.type !== "string" ||
      typeof envelope.from !== "string" ||
      !("body" in envelope)
    ) {
      this.#reject(envelope, "malformed", "not an envelope with id, type, from and body");
      return undefined;
    }
    const message = envelope as unknown as Envelope;
    const from = message.from;
    if (!isPbftType(message.type)) {
      this.#reject(message, "unknown-type", `type "${message.type}" is not a PBFT message`);
      return undefined;
    }
    if (!this.#position.has(from)) {
      this.#accuse("unknown-voter", from, `"${from}" is not a replica`, [message]);
      return undefined;
    }
    if (via !== undefined && via !== from) {
      this.#accuse(
        "forged-sender",
        via,
        `"${via}" sent an envelope claiming to be from "${from}"`,
        [message],
      );
      return undefined;
    }
    if (!this.#verified(message)) {
      this.#accuse(
        "bad-signature",
        from,
        `envelope ${message.id} (${message.type}) is not signed by "${from}"; whoever sent it forged the sender or altered the message`,
        [message],
      );
      return undefined;
    }
    if (this.#seen.has(message.id)) {
      this.#accuse(
        "replay",
        from,
        `envelope ${message.id} (${message.type}) arrived again; "${from}" signed it, but anyone may have replayed it`,
        [message],
      );
      return undefined;
    }
    this.#seen.add(message.id);
    const body = message.body;
    const wellFormed =
      message.type === PBFT_MESSAGE_TYPES.prePrepare
        ? isPrePrepareBody(body)
        : message.type === PBFT_MESSAGE_TYPES.viewChange
          ? isViewChangeBody(body)
          : message.type === PBFT_MESSAGE_TYPES.newView
            ? isNewViewBody(body)
            : isVoteBody(body);
    if (!wellFormed) {
      this.#accuse(
        "wrong-proposal",
        from,
        `"${from}" signed a ${message.type} with a malformed body`,
        [message],
      );
      return undefined;
    }
    return message;
  }

  // ---- normal case ------------------------------------------------------

  #onPrePrepare(envelope: Envelope<PbftPrePrepareBody>): void {
    const body = envelope.body;
    if (!this.#checkPrePrepare(envelope)) return;
    if (!this.#notePrePrepare(envelope)) return;
    if (body.view < this.#view) {
      this.#reject(
        envelope,
        "stale-view",
        `pre-prepare for view ${body.view}, now in ${this.#view}`,
      );
      return;
    }
    if (body.view > this.#view || this.#mode === "view-change") {
      this.#buffer({ kind: "pre-prepare", envelope });
      return;
    }
    if (body.seq <= this.#low || body.seq > this.#low + this.#window) {
      this.#reject(
        envelope,
        "out-of-window",
        `seq ${body.seq} is outside (${this.#low}, ${this.#low + this.#window}]`,
      );
      return;
    }
    this.#acceptPrePrepare(envelope, false);
  }

  /** Primary's signature role and digest; evidence if wrong. */
  #checkPrePrepare(envelope: Envelope<PbftPrePrepareBody>): boolean {
    const body = envelope.body;
    const primary = this.#primaryOf(body.view);
    if (envelope.from !== primary) {
      this.#accuse(
        "out-of-view",
        envelope.from,
        `"${envelope.from}" signed a pre-prepare for view ${body.view}, whose primary is "${primary}"`,
        [envelope],
      );
      return false;
    }
    if (this.#digestOf(body.proposal) !== body.digest) {
      this.#accuse(
        "wrong-proposal",
        envelope.from,
        `pre-prepare for seq ${body.seq} in view ${body.view} carries a digest that is not its proposal's`,
        [envelope],
      );
      return false;
    }
    return true;
  }

  /**
   * Takes a pre-prepare into the log for the current view (a fresh one from
   * the primary, or a re-proposal from a new-view) and votes on it.
   */
  #acceptPrePrepare(envelope: Envelope<PbftPrePrepareBody>, reproposal: boolean): void {
    const body = envelope.body;
    const instance = this.#instance(body.view, body.seq);
    if (instance.prePrepare !== undefined) return; // same digest (#notePrePrepare caught others)
    instance.prePrepare = envelope;
    const slot = this.#slot(body.seq);
    if (slot.lastPrePrepare === undefined || slot.lastPrePrepare.body.view <= body.view) {
      slot.lastPrePrepare = envelope;
    }
    const proposal = body.proposal;
    this.#proposals.set(body.digest, proposal);
    if (proposal === null) {
      instance.accepted = true;
    } else {
      const request = this.#requests.get(body.digest) ?? this.#learn(proposal, body.digest);
      const earlier = request.orderedInView === body.view && request.orderedAt !== body.seq;
      request.orderedInView = body.view;
      request.orderedAt = body.seq;
      if (this.#now >= proposal.deadline) {
        this.#reject(envelope, "expired", `proposal ${proposal.id} is past its deadline`);
      } else if (reproposal) {
        instance.accepted = true;
      } else if (earlier || this.#committedIds.has(proposal.id)) {
        this.#reject(
          envelope,
          "duplicate-proposal",
          `proposal ${proposal.id} is already committed or ordered at another seq`,
        );
      } else if (envelope.from === this.id) {
        instance.accepted = request.accepted;
      } else {
        instance.accepted = this.#policy(proposal);
        request.accepted = request.accepted || instance.accepted;
      }
    }
    if (instance.accepted && !this.#isPrimary(body.view) && !instance.prepareSent) {
      instance.prepareSent = true;
      const prepare = this.#broadcast<PbftVoteBody>(PBFT_MESSAGE_TYPES.prepare, {
        view: body.view,
        seq: body.seq,
        digest: body.digest,
      });
      if (prepare !== undefined) {
        this.#voteIndex.set(voteKey("prepare", prepare), prepare);
        instance.prepares.set(this.id, prepare);
      }
    }
    this.#progress(instance);
  }

  #onVote(kind: "prepare" | "commit", envelope: Envelope<PbftVoteBody>): void {
    const body = envelope.body;
    if (!this.#noteVote(kind, envelope)) return;
    if (kind === "prepare") {
      if (envelope.from === this.#primaryOf(body.view)) {
        this.#reject(envelope, "prepare-from-primary", "the primary's pre-prepare is its prepare");
        return;
      }
      if (body.view < this.#view) {
        this.#reject(envelope, "stale-view", `prepare for view ${body.view}, now in ${this.#view}`);
        return;
      }
    }
    // Commits from earlier views still count: q of them fix the value for good.
    if (body.view > this.#view || (body.view === this.#view && this.#mode === "view-change")) {
      this.#buffer({ kind, envelope });
      return;
    }
    if (body.seq > this.#low + this.#window) {
      this.#reject(
        envelope,
        "out-of-window",
        `seq ${body.seq} is beyond ${this.#low + this.#window}`,
      );
      return;
    }
    const instance = this.#instance(body.view, body.seq);
    const votes = kind === "prepare" ? instance.prepares : instance.commits;
    if (votes.has(envelope.from)) return;
    votes.set(envelope.from, envelope);
    this.#progress(instance);
  }

  /** Moves an instance to prepared and committed when its quorums are complete. */
  #progress(instance: Instance): void {
    const prePrepare = instance.prePrepare;
    if (!instance.prepared && prePrepare !== undefined) {
      const digest = prePrepare.body.digest;
      const primary = this.#primaryOf(instance.view);
      const matching: Envelope<PbftVoteBody>[] = [];
      for (const prepare of instance.prepares.values()) {
        if (prepare.body.digest === digest && prepare.from !== primary) matching.push(prepare);
      }
      if (matching.length >= this.#q - 1) {
        instance.prepared = true;
        const slot = this.#slot(instance.seq);
        if (slot.proof === undefined || slot.proof.prePrepare.body.view < instance.view) {
          slot.proof = {
            prePrepare,
            prepares: this.#inReplicaOrder(matching).slice(0, this.#q - 1),
          };
        }
        if (instance.accepted && this.#mayVote(digest) && !instance.commitSent) {
          instance.commitSent = true;
          const commit = this.#broadcast<PbftVoteBody>(PBFT_MESSAGE_TYPES.commit, {
            view: instance.view,
            seq: instance.seq,
            digest,
          });
          if (commit !== undefined) {
            this.#voteIndex.set(voteKey("commit", commit), commit);
            instance.commits.set(this.id, commit);
          }
        }
      }
    }
    const slot = this.#slot(instance.seq);
    if (slot.committed !== undefined || instance.commits.size < this.#q) return;
    const byDigest = new Map<string, Envelope<PbftVoteBody>[]>();
    for (const commit of instance.commits.values()) {
      const list = byDigest.get(commit.body.digest);
      if (list === undefined) byDigest.set(commit.body.digest, [commit]);
      else list.push(commit);
    }
    for (const [digest, commits] of byDigest) {
      if (commits.length < this.#q || !this.#proposals.has(digest)) continue;
      this.#decide(instance.seq, {
        view: instance.view,
        digest,
        proposal: this.#proposals.get(digest) ?? null,
        commits: this.#inReplicaOrder(commits).slice(0, this.#q),
      });
      // The window may have moved: the primary orders what waited for it.
      if (this.#mode === "normal" && this.#isPrimary(this.#view)) this.#orderPending();
      return;
    }
  }

  /** Records `seq` as committed (from its own quorum of commits, or a certificate in a view change). */
  #decide(seq: number, decided: Decided): void {
    const slot = this.#slot(seq);
    if (slot.committed !== undefined) return;
    slot.committed = decided;
    const { view, digest, commits: certificate } = decided;
    this.#proposals.set(digest, decided.proposal);
    this.#committedCount++;
    while (this.#slots.get(this.#low + 1)?.committed !== undefined) this.#low++;
    this.#idleTicks = 0;
    this.#attempts = 0;
    const proposal = this.#proposals.get(digest) ?? null;
    if (proposal !== null) {
      const request = this.#requests.get(digest);
      const first = !this.#committedIds.has(proposal.id);
      this.#committedIds.add(proposal.id);
      if (request !== undefined) {
        request.committed = true;
        this.#pending.delete(request);
      }
      if (first) this.#committed.push({ seq, view, digest, proposal, certificate });
    }
  }

  /** Primary: gives every pending, accepted, unordered proposal a sequence number. */
  #orderPending(): void {
    for (const request of this.#pending) {
      if (!request.accepted || request.orderedInView === this.#view) continue;
      if (this.#now >= request.proposal.deadline) continue;
      if (this.#committedIds.has(request.proposal.id)) continue;
      while (this.#slots.get(this.#nextSeq)?.committed !== undefined) this.#nextSeq++;
      if (this.#nextSeq > this.#low + this.#window) return; // resumes when the window moves
      const seq = this.#nextSeq;
      const prePrepare = this.#broadcast<PbftPrePrepareBody>(PBFT_MESSAGE_TYPES.prePrepare, {
        view: this.#view,
        seq,
        digest: request.digest,
        proposal: request.proposal,
      });
      if (prePrepare === undefined) {
        request.accepted = false; // cannot be carried in a message: stop trying
        continue;
      }
      this.#nextSeq++;
      this.#prePrepareIndex.set(`${this.#view}:${seq}`, prePrepare);
      this.#acceptPrePrepare(prePrepare, false);
    }
  }

  // ---- view change --------------------------------------------------------

  #startViewChange(view: number): void {
    if (view < this.#view || (view === this.#view && this.#mode === "view-change")) return;
    this.#view = view;
    this.#mode = "view-change";
    this.#idleTicks = 0;
    this.#attempts++;
    const committed: PbftCommitCertificate[] = [];
    const prepared: PbftPreparedCertificate[] = [];
    const prePrepared: Envelope<PbftPrePrepareBody>[] = [];
    const seqs = [...this.#slots.keys()].sort((a, b) => a - b);
    for (const seq of seqs) {
      const slot = this.#slots.get(seq) as Slot;
      if (slot.committed !== undefined) {
        committed.push({ proposal: slot.committed.proposal, commits: slot.committed.commits });
        continue;
      }
      if (slot.proof !== undefined) prepared.push(slot.proof);
      const last = slot.lastPrePrepare;
      if (last !== undefined && last !== slot.proof?.prePrepare) {
        if (slot.proof === undefined || last.body.view > slot.proof.prePrepare.body.view) {
          prePrepared.push(last);
        }
      }
    }
    const viewChange = this.#broadcast<PbftViewChangeBody>(PBFT_MESSAGE_TYPES.viewChange, {
      view,
      committed,
      prepared,
      prePrepared,
    });
    if (viewChange !== undefined) this.#viewChanges.set(this.id, viewChange);
    this.#dropBufferedBefore(view);
    this.#maybeNewView();
  }

  #onViewChange(envelope: Envelope<PbftViewChangeBody>): void {
    const view = envelope.body.view;
    const previous = this.#viewChanges.get(envelope.from);
    if (previous !== undefined && previous.body.view === view) {
      this.#accuse(
        "equivocation",
        envelope.from,
        `"${envelope.from}" signed two different view-changes for view ${view}`,
        [previous, envelope],
      );
      return;
    }
    if (previous !== undefined && previous.body.view > view) {
      this.#reject(envelope, "stale-view", `"${envelope.from}" already asked for a higher view`);
      return;
    }
    if (!this.#checkViewChange(envelope)) return;
    this.#viewChanges.set(envelope.from, envelope);
    if (view < this.#view || (view === this.#view && this.#mode === "normal")) {
      this.#reject(envelope, "stale-view", `view-change for view ${view}, now in ${this.#view}`);
      return;
    }
    // Join once f + 1 replicas (so at least one honest one) want a higher view.
    const wanted: number[] = [];
    for (const vc of this.#viewChanges.values()) {
      const v = vc.body.view;
      if (v > this.#view) wanted.push(v);
    }
    if (wanted.length >= this.#f + 1) {
      wanted.sort((a, b) => b - a);
      this.#startViewChange(wanted[this.#f] as number);
    }
    this.#maybeNewView();
  }

  /**
   * Checks the certificates and pre-prepares a view-change carries; indexes
   * them (exposing an equivocating primary). Evidence against its signer if
   * any is invalid.
   */
  #checkViewChange(envelope: Envelope<PbftViewChangeBody>): boolean {
    const { view, committed, prepared, prePrepared } = envelope.body;
    const seqs = new Set<number>();
    let problem: string | undefined;
    for (const certificate of committed) {
      problem = this.#commitCertificateProblem(certificate, view);
      if (problem !== undefined) break;
      const seq = (certificate.commits[0] as Envelope<PbftVoteBody>).body.seq;
      if (seqs.has(seq)) {
        problem = `two certificates for seq ${seq}`;
        break;
      }
      seqs.add(seq);
    }
    for (const certificate of problem === undefined ? prepared : []) {
      problem = this.#certificateProblem(certificate, view);
      if (problem !== undefined) break;
      const seq = certificate.prePrepare.body.seq;
      if (seqs.has(seq)) {
        problem = `two certificates for seq ${seq}`;
        break;
      }
      seqs.add(seq);
    }
    if (problem === undefined) {
      for (const prePrepare of prePrepared) {
        problem = this.#embeddedPrePrepareProblem(prePrepare, view);
        if (problem !== undefined) break;
      }
    }
    if (problem !== undefined) {
      this.#accuse(
        "wrong-proposal",
        envelope.from,
        `view-change for view ${view} from "${envelope.from}" is invalid: ${problem}`,
        [envelope],
      );
      return false;
    }
    for (const certificate of committed) {
      for (const commit of certificate.commits) this.#noteVote("commit", commit);
    }
    for (const certificate of prepared) {
      this.#notePrePrepare(certificate.prePrepare);
      for (const prepare of certificate.prepares) this.#noteVote("prepare", prepare);
    }
    for (const prePrepare of prePrepared) this.#notePrePrepare(prePrepare);
    return true;
  }

  #certificateProblem(certificate: unknown, beforeView: number): string | undefined {
    if (!isRecord(certificate) || !Array.isArray(certificate.prepares)) {
      return "a malformed certificate";
    }
    const prePrepare = certificate.prePrepare as Envelope<PbftPrePrepareBody>;
    const problem = this.#embeddedPrePrepareProblem(prePrepare, beforeView);
    if (problem !== undefined) return problem;
    const { view, seq, digest } = prePrepare.body;
    const primary = this.#primaryOf(view);
    const signers = new Set<string>();
    for (const prepare of certificate.prepares as unknown[]) {
      if (!this.#embeddedValid(prepare, PBFT_MESSAGE_TYPES.prepare, isVoteBody)) {
        return `an unsigned or malformed prepare for seq ${seq}`;
      }
      const body = prepare.body;
      if (body.view !== view || body.seq !== seq || body.digest !== digest) {
        return `a prepare that does not match its pre-prepare (seq ${seq})`;
      }
      if (prepare.from === primary || signers.has(prepare.from)) {
        return `prepares for seq ${seq} from the primary or twice from one replica`;
      }
      signers.add(prepare.from);
    }
    if (signers.size < this.#q - 1) {
      return `${signers.size} prepares for seq ${seq}, a certificate needs ${this.#q - 1}`;
    }
    return undefined;
  }

  #commitCertificateProblem(certificate: unknown, beforeView: number): string | undefined {
    if (!isRecord(certificate) || !Array.isArray(certificate.commits)) {
      return "a malformed commit certificate";
    }
    const proposal = certificate.proposal;
    if (proposal !== null && !isProposal(proposal))
      return "a commit certificate without a proposal";
    const commits = certificate.commits as unknown[];
    const first = commits[0];
    if (!this.#embeddedValid(first, PBFT_MESSAGE_TYPES.commit, isVoteBody)) {
      return "an unsigned or malformed commit";
    }
    const { view, seq, digest } = first.body;
    if (view >= beforeView) return `commits from view ${view}, not before ${beforeView}`;
    if (this.#digestOf(proposal) !== digest) {
      return `a commit certificate for seq ${seq} whose proposal does not match its digest`;
    }
    const signers = new Set<string>();
    for (const commit of commits) {
      if (!this.#embeddedValid(commit, PBFT_MESSAGE_TYPES.commit, isVoteBody)) {
        return `an unsigned or malformed commit for seq ${seq}`;
      }
      const body = commit.body;
      if (body.view !== view || body.seq !== seq || body.digest !== digest) {
        return `commits for seq ${seq} that disagree`;
      }
      if (signers.has(commit.from)) return `two commits from "${commit.from}" for seq ${seq}`;
      signers.add(commit.from);
    }
    if (signers.size < this.#q) {
      return `${signers.size} commits for seq ${seq}, a certificate needs ${this.#q}`;
    }
    return undefined;
  }

  #embeddedPrePrepareProblem(prePrepare: unknown, beforeView: number): string | undefined {
    if (!this.#embeddedValid(prePrepare, PBFT_MESSAGE_TYPES.prePrepare, isPrePrepareBody)) {
      return "an unsigned or malformed pre-prepare";
    }
    const body = prePrepare.body;
    if (body.view >= beforeView)
      return `a pre-prepare from view ${body.view}, not before ${beforeView}`;
    if (prePrepare.from !== this.#primaryOf(body.view)) {
      return `a pre-prepare for view ${body.view} not signed by its primary`;
    }
    if (this.#digestOf(body.proposal) !== body.digest) {
      return `a pre-prepare for seq ${body.seq} whose digest is not its proposal's`;
    }
    return undefined;
  }

  #embeddedValid<B>(
    value: unknown,
    type: string,
    isBody: (body: unknown) => body is B,
  ): value is Envelope<B> {
    return (
      isRecord(value) &&
      value.type === type &&
      typeof value.from === "string" &&
      this.#position.has(value.from) &&
      isBody(value.body) &&
      this.#verified(value as unknown as Envelope)
    );
  }

  /** New primary: announces the view once it holds q view-changes for it. */
  #maybeNewView(): void {
    const view = this.#view;
    if (this.#mode !== "view-change" || !this.#isPrimary(view)) return;
    const viewChanges = this.#inReplicaOrder(
      [...this.#viewChanges.values()].filter((vc) => vc.body.view === view),
    ).slice(0, this.#q);
    if (viewChanges.length < this.#q) return;
    const plan = this.#plan(viewChanges);
    const prePrepares: Envelope<PbftPrePrepareBody>[] = [];
    for (const entry of plan) {
      if (entry.decided !== undefined) continue;
      const { seq, digest, proposal } = entry;
      const prePrepare = this.#signed<PbftPrePrepareBody>(PBFT_MESSAGE_TYPES.prePrepare, {
        view,
        seq,
        digest,
        proposal,
      });
      if (prePrepare === undefined) return; // the timer moves on to the next view
      prePrepares.push(prePrepare);
    }
    const newView = this.#broadcast<PbftNewViewBody>(PBFT_MESSAGE_TYPES.newView, {
      view,
      viewChanges,
      prePrepares,
    });
    if (newView === undefined) return;
    this.#newViews.set(view, newView);
    this.#install(view, plan, prePrepares);
  }

  /**
   * What a new view holds at seq 1 to max-s: the value of a commit
   * certificate where one exists (decided), else the proposal of the prepared
   * certificate from the highest view, else a null request.
   */
  #plan(viewChanges: readonly Envelope<PbftViewChangeBody>[]): PlanEntry[] {
    const decided = new Map<number, Decided>();
    const best = new Map<number, PbftPrePrepareBody>();
    let maxSeq = 0;
    for (const vc of viewChanges) {
      for (const certificate of vc.body.committed) {
        const commits = certificate.commits;
        const { view, seq, digest } = (commits[0] as Envelope<PbftVoteBody>).body;
        const current = decided.get(seq);
        if (current === undefined || current.view < view) {
          const ordered = this.#inReplicaOrder(commits).slice(0, this.#q);
          decided.set(seq, { view, digest, proposal: certificate.proposal, commits: ordered });
        }
        if (seq > maxSeq) maxSeq = seq;
      }
      for (const certificate of vc.body.prepared) {
        const body = certificate.prePrepare.body;
        const current = best.get(body.seq);
        if (current === undefined || current.view < body.view) best.set(body.seq, body);
        if (body.seq > maxSeq) maxSeq = body.seq;
      }
    }
    const plan: PlanEntry[] = [];
    for (let seq = 1; seq <= maxSeq; seq++) {
      const fixed = decided.get(seq);
      const body = best.get(seq);
      if (fixed !== undefined) plan.push({ seq, decided: fixed });
      else if (body !== undefined) plan.push({ seq, digest: body.digest, proposal: body.proposal });
      else plan.push({ seq, digest: PBFT_NULL_DIGEST, proposal: null });
    }
    return plan;
  }

  #onNewView(envelope: Envelope<PbftNewViewBody>): void {
    const { view, viewChanges, prePrepares } = envelope.body;
    const primary = this.#primaryOf(view);
    if (envelope.from !== primary) {
      this.#accuse(
        "out-of-view",
        envelope.from,
        `"${envelope.from}" signed a new-view for view ${view}, whose primary is "${primary}"`,
        [envelope],
      );
      return;
    }
    const previous = this.#newViews.get(view);
    if (previous !== undefined) {
      this.#accuse(
        "equivocation",
        envelope.from,
        `"${envelope.from}" signed two new-views for view ${view}`,
        [previous, envelope],
      );
      return;
    }
    if (view < this.#view || (view === this.#view && this.#mode === "normal")) {
      this.#reject(envelope, "stale-view", `new-view for view ${view}, now in ${this.#view}`);
      return;
    }
    const plan = this.#checkNewView(view, viewChanges, prePrepares);
    if (typeof plan === "string") {
      this.#accuse(
        "wrong-proposal",
        envelope.from,
        `new-view for view ${view} is invalid: ${plan}`,
        [envelope],
      );
      return;
    }
    this.#newViews.set(view, envelope);
    this.#install(view, plan, prePrepares);
  }

  /** The new view's plan, or what is wrong with the new-view. */
  #checkNewView(
    view: number,
    viewChanges: readonly unknown[],
    prePrepares: readonly unknown[],
  ): PlanEntry[] | string {
    const signers = new Set<string>();
    const valid: Envelope<PbftViewChangeBody>[] = [];
    for (const vc of viewChanges) {
      if (!isRecord(vc) || typeof vc.from !== "string") return "a malformed view-change";
      const known = this.#viewChanges.get(vc.from);
      const already = known !== undefined && known.id === vc.id && known.sig === vc.sig;
      if (!already) {
        if (!this.#embeddedValid(vc, PBFT_MESSAGE_TYPES.viewChange, isViewChangeBody)) {
          return "an unsigned or malformed view-change";
        }
        if (!this.#checkViewChange(vc)) return `an invalid view-change from "${vc.from}"`;
      }
      const checked = vc as unknown as Envelope<PbftViewChangeBody>;
      if (checked.body.view !== view) return `a view-change for view ${checked.body.view}`;
      if (signers.has(checked.from)) return `two view-changes from "${checked.from}"`;
      signers.add(checked.from);
      valid.push(checked);
    }
    if (valid.length < this.#q) return `${valid.length} view-changes, a new view needs ${this.#q}`;
    const plan = this.#plan(valid);
    for (const entry of plan) {
      const committed = this.#slots.get(entry.seq)?.committed;
      const digest = entry.decided !== undefined ? entry.decided.digest : entry.digest;
      if (committed !== undefined && committed.digest !== digest) {
        return `seq ${entry.seq} gets another value than the one committed here`;
      }
    }
    const proposed = plan.filter((entry) => entry.decided === undefined);
    if (prePrepares.length !== proposed.length) {
      return `${prePrepares.length} pre-prepares where the view-changes call for ${proposed.length}`;
    }
    const primary = this.#primaryOf(view);
    for (let i = 0; i < proposed.length; i++) {
      const expected = proposed[i] as { seq: number; digest: string };
      const prePrepare = prePrepares[i];
      if (!this.#embeddedValid(prePrepare, PBFT_MESSAGE_TYPES.prePrepare, isPrePrepareBody)) {
        return "an unsigned or malformed pre-prepare";
      }
      const body = prePrepare.body;
      if (
        prePrepare.from !== primary ||
        body.view !== view ||
        body.seq !== expected.seq ||
        body.digest !== expected.digest ||
        this.#digestOf(body.proposal) !== body.digest
      ) {
        return `the pre-prepare for seq ${expected.seq} is not what the view-changes prove`;
      }
    }
    return plan;
  }

  /** Enters `view` in normal mode: commits what is decided, then takes the re-proposals. */
  #install(
    view: number,
    plan: readonly PlanEntry[],
    prePrepares: readonly Envelope<PbftPrePrepareBody>[],
  ): void {
    this.#view = view;
    this.#mode = "normal";
    this.#idleTicks = 0;
    if (this.#isPrimary(view)) this.#nextSeq = plan.length + 1;
    for (const entry of plan) {
      if (entry.decided !== undefined) this.#decide(entry.seq, entry.decided);
    }
    for (const prePrepare of prePrepares) {
      if (!this.#notePrePrepare(prePrepare)) continue;
      if (prePrepare.body.seq > this.#low + this.#window && !this.#isPrimary(view)) continue;
      this.#acceptPrePrepare(prePrepare, true);
    }
    const buffered = this.#future;
    this.#future = [];
    this.#futureCount.clear();
    for (const item of buffered) {
      const itemView = item.envelope.body.view;
      if (itemView > view) this.#buffer(item);
      else if (itemView === view) this.#replay(item);
    }
    if (this.#isPrimary(view)) this.#orderPending();
  }

  #replay(item: Buffered): void {
    if (item.kind === "pre-prepare") this.#onPrePrepare(item.envelope);
    else this.#onVote(item.kind, item.envelope);
  }

  // ---- bookkeeping --------------------------------------------------------

  /**
   * Indexes a correctly signed pre-prepare by (view, seq); if another with a
   * different digest is known, records the equivocation and, if it is the
   * current primary's, starts a view change. Returns false on conflict.
   */
  #notePrePrepare(envelope: Envelope<PbftPrePrepareBody>): boolean {
    const { view, seq, digest } = envelope.body;
    const key = `${view}:${seq}`;
    const known = this.#prePrepareIndex.get(key);
    if (known === undefined) {
      this.#prePrepareIndex.set(key, envelope);
      return true;
    }
    if (known.body.digest === digest) return true;
    this.#accuse(
      "equivocation",
      envelope.from,
      `primary "${envelope.from}" signed two pre-prepares for view ${view}, seq ${seq} with different proposals`,
      [known, envelope],
    );
    if (view === this.#view && this.#mode === "normal" && !this.#isPrimary(view)) {
      this.#startViewChange(view + 1);
    }
    return false;
  }

  /** Like {@link #notePrePrepare} for prepares and commits. */
  #noteVote(kind: "prepare" | "commit", envelope: Envelope<PbftVoteBody>): boolean {
    const key = voteKey(kind, envelope);
    const known = this.#voteIndex.get(key);
    if (known === undefined) {
      this.#voteIndex.set(key, envelope);
      return true;
    }
    if (known.body.digest === envelope.body.digest) return true;
    const { view, seq } = envelope.body;
    this.#accuse(
      "equivocation",
      envelope.from,
      `"${envelope.from}" signed two ${kind}s for view ${view}, seq ${seq} with different digests`,
      [known, envelope],
    );
    return false;
  }

  #buffer(item: Buffered): void {
    const from = item.envelope.from;
    const count = this.#futureCount.get(from) ?? 0;
    if (count >= 3 * this.#window) {
      this.#reject(item.envelope, "buffer-full", `too many early messages from "${from}"`);
      return;
    }
    this.#futureCount.set(from, count + 1);
    this.#future.push(item);
  }

  #dropBufferedBefore(view: number): void {
    if (this.#future.length === 0) return;
    const kept: Buffered[] = [];
    this.#futureCount.clear();
    for (const item of this.#future) {
      if (item.envelope.body.view < view) continue;
      kept.push(item);
      this.#futureCount.set(
        item.envelope.from,
        (this.#futureCount.get(item.envelope.from) ?? 0) + 1,
      );
    }
    this.#future = kept;
  }

  #learn(proposal: Proposal, digest: string): Request {
    const request: Request = {
      proposal,
      digest,
      accepted: false,
      committed: false,
      expired: false,
      orderedInView: -1,
      orderedAt: 0,
    };
    this.#requests.set(digest, request);
    this.#proposals.set(digest, proposal);
    if (!this.#committedIds.has(proposal.id)) this.#pending.add(request);
    return request;
  }

  /** A backup waits for the primary while it knows an accepted, undecided proposal. */
  #waiting(): boolean {
    for (const request of this.#pending) if (request.accepted) return true;
    return false;
  }

  /** Whether this replica may still sign votes for the proposal with `digest`. */
  #mayVote(digest: string): boolean {
    const proposal = this.#proposals.get(digest);
    return proposal === null || proposal === undefined || this.#now < proposal.deadline;
  }

  #policy(proposal: Proposal): boolean {
    let accepted = false;
    try {
      accepted = this.#validate(proposal) === true;
    } catch {
      accepted = false;
    }
    if (!accepted) {
      this.#reject(proposal, "policy", `the voter policy rejected proposal ${proposal.id}`);
    }
    return accepted;
  }

  #digestOf(proposal: Proposal | null): string | undefined {
    if (proposal === null) return PBFT_NULL_DIGEST;
    let digest = this.#digests.get(proposal);
    if (digest === undefined) {
      digest = safeDigest(proposal);
      if (digest === undefined) return undefined;
      this.#digests.set(proposal, digest);
    }
    return digest;
  }

  #verified(envelope: Envelope): boolean {
    try {
      return this.#verify(envelope) === true;
    } catch {
      return false;
    }
  }

  /**
   * Signs a message as this replica. `sign` may refuse (a message nested
   * deeper or larger than an envelope may be, say a new-view wrapping a
   * proposal already near the limit): that is reported, never thrown, and the
   * message is not sent.
   */
  #signed<B extends PbftBody>(type: string, body: B): Envelope<B> | undefined {
    try {
      return this.#sign({ type, from: this.id, body }, this.#now) as Envelope<B>;
    } catch (err) {
      const reason = (err instanceof Error ? err.message : String(err)).slice(0, 300);
      this.#reject(body, "unsignable", `could not sign a ${type}: ${reason}`);
      return undefined;
    }
  }

  #broadcast<B extends PbftBody>(type: string, body: B): Envelope<B> | undefined {
    const envelope = this.#signed(type, body);
    if (envelope === undefined) return undefined;
    this.#seen.add(envelope.id);
    this.#send.push({ to: "*", envelope: envelope as Envelope<PbftBody> });
    return envelope;
  }

  #accuse(
    kind: ByzantineEvidence["kind"],
    agent: string,
    detail: string,
    messages: readonly Envelope[],
  ): void {
    const key = `${kind}|${agent}|${messages.map((m) => `${m.id}/${m.sig}`).join(",")}`;
    if (this.#evidenceKeys.has(key)) return;
    this.#evidenceKeys.add(key);
    this.#evidence.push({ kind, agent, detail, messages });
  }

  #reject(message: unknown, reason: PbftRejectReason, detail: string): void {
    this.#rejected.push({ message, reason, detail });
  }

  #instance(view: number, seq: number): Instance {
    let byView = this.#instances.get(view);
    if (byView === undefined) {
      byView = new Map();
      this.#instances.set(view, byView);
    }
    let instance = byView.get(seq);
    if (instance === undefined) {
      instance = {
        view,
        seq,
        prePrepare: undefined,
        accepted: false,
        prepares: new Map(),
        commits: new Map(),
        prepareSent: false,
        commitSent: false,
        prepared: false,
      };
      byView.set(seq, instance);
    }
    return instance;
  }

  #slot(seq: number): Slot {
    let slot = this.#slots.get(seq);
    if (slot === undefined) {
      slot = { committed: undefined, proof: undefined, lastPrePrepare: undefined };
      this.#slots.set(seq, slot);
    }
    return slot;
  }

  #primaryOf(view: number): string {
    return this.#ids[view % this.#n] as string;
  }

  #isPrimary(view: number): boolean {
    return this.#primaryOf(view) === this.id;
  }

  #inReplicaOrder<T extends { readonly from: string }>(items: readonly T[]): T[] {
    const position = this.#position;
    return [...items].sort(
      (a, b) => (position.get(a.from) as number) - (position.get(b.from) as number),
    );
  }
}

const PBFT_TYPES = new Set<string>(Object.values(PBFT_MESSAGE_TYPES));

function isPbftType(type: string): boolean {
  return PBFT_TYPES.has(type);
}

function voteKey(kind: string, envelope: Envelope<PbftVoteBody>): string {
  return `${kind}:${envelope.body.view}:${envelope.body.seq}:${envelope.from}`;
}

function safeDigest(proposal: Proposal | null): string | undefined {
  try {
    return pbftDigest(proposal);
  } catch {
    return undefined;
  }
}
