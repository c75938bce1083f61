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
 *
 * ## Where the code is
 * One replica is one class written in layers, one file each, every layer
 * calling only those below it: `pbft-log.ts` (state, the message log,
 * signing and what `ready()` returns), `pbft-validation.ts` (admission and
 * certificate checks), `pbft-normal-case.ts`, `pbft-view-change.ts`, and this
 * file (the public `step / tick / propose / ready`). Public shapes are in
 * `pbft-types.ts`, message formats in `pbft-messages.ts`.
 */
import type { Envelope } from "../wire/envelope.js";
import {
  PBFT_MESSAGE_TYPES,
  type PbftNewViewBody,
  type PbftPrePrepareBody,
  type PbftViewChangeBody,
  type PbftVoteBody,
  pbftDigest,
} from "./pbft-messages.js";
import type { PbftReady, PbftReplica, PbftReplicaConfig, PbftStatus } from "./pbft-types.js";
import { PbftViewChange } from "./pbft-view-change.js";
import type { Proposal } from "./types.js";

export * from "./pbft-messages.js";
export * from "./pbft-types.js";

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

class PbftReplicaImpl extends PbftViewChange implements PbftReplica {
  step(envelope: Envelope, now: number, via?: string): void {
    this.now = now;
    const message = this.admit(envelope, via);
    if (message === undefined) return;
    switch (message.type) {
      case PBFT_MESSAGE_TYPES.prePrepare:
        this.onPrePrepare(message as Envelope<PbftPrePrepareBody>);
        break;
      case PBFT_MESSAGE_TYPES.prepare:
        this.onVote("prepare", message as Envelope<PbftVoteBody>);
        break;
      case PBFT_MESSAGE_TYPES.commit:
        this.onVote("commit", message as Envelope<PbftVoteBody>);
        break;
      case PBFT_MESSAGE_TYPES.viewChange:
        this.onViewChange(message as Envelope<PbftViewChangeBody>);
        break;
      case PBFT_MESSAGE_TYPES.newView:
        this.onNewView(message as Envelope<PbftNewViewBody>);
        break;
    }
  }

  tick(now: number): void {
    this.now = now;
    for (const request of this.pending) {
      if (now >= request.proposal.deadline) {
        request.expired = true;
        this.pending.delete(request);
        this.expired.push({
          proposal: request.proposal,
          digest: request.digest,
          outcome: "no-quorum",
        });
      }
    }
    if (this.mode === "normal") {
      if (this.isPrimary(this.view) || !this.waiting()) {
        this.idleTicks = 0;
        return;
      }
      if (++this.idleTicks >= this.timeout) this.startViewChange(this.view + 1);
      return;
    }
    const wait = this.timeout * 2 ** Math.min(this.attempts - 1, MAX_BACKOFF_EXPONENT);
    if (++this.idleTicks >= wait) this.startViewChange(this.view + 1);
  }

  propose(proposal: Proposal, now: number): void {
    this.now = now;
    const digest = pbftDigest(proposal);
    if (this.requests.has(digest)) return;
    const request = this.learn(proposal, digest);
    if (now >= proposal.deadline) {
      this.reject(proposal, "expired", `proposal ${proposal.id} is past its deadline`);
    } else if (this.committedIds.has(proposal.id)) {
      this.reject(proposal, "duplicate-proposal", `proposal ${proposal.id} is already committed`);
    } else {
      request.accepted = this.policy(proposal);
    }
    if (this.mode === "normal" && this.isPrimary(this.view)) this.orderPending();
  }

  ready(): PbftReady {
    const out: PbftReady = {
      send: this.send,
      committed: this.committed,
      evidence: this.evidence,
      expired: this.expired,
      rejected: this.rejected,
    };
    this.send = [];
    this.committed = [];
    this.evidence = [];
    this.expired = [];
    this.rejected = [];
    return out;
  }

  hasReady(): boolean {
    return (
      this.send.length > 0 ||
      this.committed.length > 0 ||
      this.evidence.length > 0 ||
      this.expired.length > 0 ||
      this.rejected.length > 0
    );
  }

  status(): PbftStatus {
    return {
      id: this.id,
      view: this.view,
      mode: this.mode,
      primary: this.primaryOf(this.view),
      lowWatermark: this.low,
      committed: this.committedCount,
    };
  }
}
