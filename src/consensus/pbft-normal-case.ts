/**
 * PBFT's normal case at one replica: the primary orders pending proposals
 * with pre-prepares, backups vote with prepares, everyone commits once
 * prepared, and a sequence number is decided by `q` matching commits (see
 * "Normal case" in the module documentation of `pbft.ts`).
 */
import type { Envelope } from "../wire/envelope.js";
import { type Decided, type Instance, voteKey } from "./pbft-log.js";
import { PBFT_MESSAGE_TYPES, type PbftPrePrepareBody, type PbftVoteBody } from "./pbft-messages.js";
import { PbftValidation } from "./pbft-validation.js";

/** The replica's normal case: ordering, voting, deciding. */
export abstract class PbftNormalCase extends PbftValidation {
  protected onPrePrepare(envelope: Envelope<PbftPrePrepareBody>): void {
    const body = envelope.body;
    if (!this.checkPrePrepare(envelope)) return;
    if (!this.notePrePrepare(envelope)) return;
    if (body.view < this.view) {
      this.reject(envelope, "stale-view", `pre-prepare for view ${body.view}, now in ${this.view}`);
      return;
    }
    if (body.view > this.view || this.mode === "view-change") {
      this.buffer({ kind: "pre-prepare", envelope });
      return;
    }
    if (body.seq <= this.low || body.seq > this.low + this.window) {
      this.reject(
        envelope,
        "out-of-window",
        `seq ${body.seq} is outside (${this.low}, ${this.low + this.window}]`,
      );
      return;
    }
    this.acceptPrePrepare(envelope, false);
  }

  /**
   * Takes a pre-prepare into the log for the current view (a fresh one from
   * the primary, or a re-proposal from a new-view) and votes on it.
   */
  protected acceptPrePrepare(envelope: Envelope<PbftPrePrepareBody>, reproposal: boolean): void {
    const body = envelope.body;
    const instance = this.instance(body.view, body.seq);
    if (instance.prePrepare !== undefined) return; // same digest (notePrePrepare caught others)
    instance.prePrepare = envelope;
    const slot = this.slot(body.seq);
    if (slot.lastPrePrepare === undefined || slot.lastPrePrepare.body.view <= body.view) {
      slot.lastPrePrepare = envelope;
    }
    const proposal = body.proposal;
    this.proposals.set(body.digest, proposal);
    if (proposal === null) {
      instance.accepted = true;
    } else {
      const request = this.requests.get(body.digest) ?? this.learn(proposal, body.digest);
      const earlier = request.orderedInView === body.view && request.orderedAt !== body.seq;
      request.orderedInView = body.view;
      request.orderedAt = body.seq;
      if (this.now >= proposal.deadline) {
        this.reject(envelope, "expired", `proposal ${proposal.id} is past its deadline`);
      } else if (reproposal) {
        instance.accepted = true;
      } else if (earlier || this.committedIds.has(proposal.id)) {
        this.reject(
          envelope,
          "duplicate-proposal",
          `proposal ${proposal.id} is already committed or ordered at another seq`,
        );
      } else if (envelope.from === this.id) {
        instance.accepted = request.accepted;
      } else {
        instance.accepted = this.policy(proposal);
        request.accepted = request.accepted || instance.accepted;
      }
    }
    if (instance.accepted && !this.isPrimary(body.view) && !instance.prepareSent) {
      instance.prepareSent = true;
      const prepare = this.broadcast<PbftVoteBody>(PBFT_MESSAGE_TYPES.prepare, {
        view: body.view,
        seq: body.seq,
        digest: body.digest,
      });
      if (prepare !== undefined) {
        this.voteIndex.set(voteKey("prepare", prepare), prepare);
        instance.prepares.set(this.id, prepare);
      }
    }
    this.progress(instance);
  }

  protected onVote(kind: "prepare" | "commit", envelope: Envelope<PbftVoteBody>): void {
    const body = envelope.body;
    if (!this.noteVote(kind, envelope)) return;
    if (kind === "prepare") {
      if (envelope.from === this.primaryOf(body.view)) {
        this.reject(envelope, "prepare-from-primary", "the primary's pre-prepare is its prepare");
        return;
      }
      if (body.view < this.view) {
        this.reject(envelope, "stale-view", `prepare for view ${body.view}, now in ${this.view}`);
        return;
      }
    }
    // Commits from earlier views still count: q of them fix the value for good.
    if (body.view > this.view || (body.view === this.view && this.mode === "view-change")) {
      this.buffer({ kind, envelope });
      return;
    }
    if (body.seq > this.low + this.window) {
      this.reject(envelope, "out-of-window", `seq ${body.seq} is beyond ${this.low + this.window}`);
      return;
    }
    const instance = this.instance(body.view, body.seq);
    const votes = kind === "prepare" ? instance.prepares : instance.commits;
    if (votes.has(envelope.from)) return;
    votes.set(envelope.from, envelope);
    this.progress(instance);
  }

  /** Moves an instance to prepared and committed when its quorums are complete. */
  protected progress(instance: Instance): void {
    const prePrepare = instance.prePrepare;
    if (!instance.prepared && prePrepare !== undefined) {
      const digest = prePrepare.body.digest;
      const primary = this.primaryOf(instance.view);
      const matching: Envelope<PbftVoteBody>[] = [];
      for (const prepare of instance.prepares.values()) {
        if (prepare.body.digest === digest && prepare.from !== primary) matching.push(prepare);
      }
      if (matching.length >= this.q - 1) {
        instance.prepared = true;
        const slot = this.slot(instance.seq);
        if (slot.proof === undefined || slot.proof.prePrepare.body.view < instance.view) {
          slot.proof = {
            prePrepare,
            prepares: this.inReplicaOrder(matching).slice(0, this.q - 1),
          };
        }
        if (instance.accepted && this.mayVote(digest) && !instance.commitSent) {
          instance.commitSent = true;
          const commit = this.broadcast<PbftVoteBody>(PBFT_MESSAGE_TYPES.commit, {
            view: instance.view,
            seq: instance.seq,
            digest,
          });
          if (commit !== undefined) {
            this.voteIndex.set(voteKey("commit", commit), commit);
            instance.commits.set(this.id, commit);
          }
        }
      }
    }
    const slot = this.slot(instance.seq);
    if (slot.committed !== undefined || instance.commits.size < this.q) return;
    const byDigest = new Map<string, Envelope<PbftVoteBody>[]>();
    for (const commit of instance.commits.values()) {
      const list = byDigest.get(commit.body.digest);
      if (list === undefined) byDigest.set(commit.body.digest, [commit]);
      else list.push(commit);
    }
    for (const [digest, commits] of byDigest) {
      if (commits.length < this.q || !this.proposals.has(digest)) continue;
      this.decide(instance.seq, {
        view: instance.view,
        digest,
        proposal: this.proposals.get(digest) ?? null,
        commits: this.inReplicaOrder(commits).slice(0, this.q),
      });
      // The window may have moved: the primary orders what waited for it.
      if (this.mode === "normal" && this.isPrimary(this.view)) this.orderPending();
      return;
    }
  }

  /** Records `seq` as committed (from its own quorum of commits, or a certificate in a view change). */
  protected decide(seq: number, decided: Decided): void {
    const slot = this.slot(seq);
    if (slot.committed !== undefined) return;
    slot.committed = decided;
    const { view, digest, commits: certificate } = decided;
    this.proposals.set(digest, decided.proposal);
    this.committedCount++;
    while (this.slots.get(this.low + 1)?.committed !== undefined) this.low++;
    this.idleTicks = 0;
    this.attempts = 0;
    const proposal = this.proposals.get(digest) ?? null;
    if (proposal !== null) {
      const request = this.requests.get(digest);
      const first = !this.committedIds.has(proposal.id);
      this.committedIds.add(proposal.id);
      if (request !== undefined) {
        request.committed = true;
        this.pending.delete(request);
      }
      if (first) this.committed.push({ seq, view, digest, proposal, certificate });
    }
  }

  /** Primary: gives every pending, accepted, unordered proposal a sequence number. */
  protected orderPending(): void {
    for (const request of this.pending) {
      if (!request.accepted || request.orderedInView === this.view) continue;
      if (this.now >= request.proposal.deadline) continue;
      if (this.committedIds.has(request.proposal.id)) continue;
      while (this.slots.get(this.nextSeq)?.committed !== undefined) this.nextSeq++;
      if (this.nextSeq > this.low + this.window) return; // resumes when the window moves
      const seq = this.nextSeq;
      const prePrepare = this.broadcast<PbftPrePrepareBody>(PBFT_MESSAGE_TYPES.prePrepare, {
        view: this.view,
        seq,
        digest: request.digest,
        proposal: request.proposal,
      });
      if (prePrepare === undefined) {
        request.accepted = false; // cannot be carried in a message: stop trying
        continue;
      }
      this.nextSeq++;
      this.prePrepareIndex.set(`${this.view}:${seq}`, prePrepare);
      this.acceptPrePrepare(prePrepare, false);
    }
  }
}
