/**
 * PBFT's view change at one replica: asking for a new view with the
 * certificates it holds, joining when f + 1 others ask, the new primary's
 * new-view, and installing the new view (see "View change" in the module
 * documentation of `pbft.ts`).
 */
import type { Envelope } from "../wire/envelope.js";
import type { Buffered, PlanEntry, Slot } from "./pbft-log.js";
import {
  PBFT_MESSAGE_TYPES,
  type PbftCommitCertificate,
  type PbftNewViewBody,
  type PbftPrePrepareBody,
  type PbftPreparedCertificate,
  type PbftViewChangeBody,
} from "./pbft-messages.js";
import { PbftNormalCase } from "./pbft-normal-case.js";

/** The replica's view change: leaving a view, and entering the next. */
export abstract class PbftViewChange extends PbftNormalCase {
  protected startViewChange(view: number): void {
    if (view < this.view || (view === this.view && this.mode === "view-change")) return;
    this.view = view;
    this.mode = "view-change";
    this.idleTicks = 0;
    this.attempts++;
    const committed: PbftCommitCertificate[] = [];
    const prepared: PbftPreparedCertificate[] = [];
    const prePrepared: Envelope<PbftPrePrepareBody>[] = [];
    const seqs = [...this.slots.keys()].sort((a, b) => a - b);
    for (const seq of seqs) {
      const slot = this.slots.get(seq) as Slot;
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
    const viewChange = this.broadcast<PbftViewChangeBody>(PBFT_MESSAGE_TYPES.viewChange, {
      view,
      committed,
      prepared,
      prePrepared,
    });
    if (viewChange !== undefined) this.viewChanges.set(this.id, viewChange);
    this.dropBufferedBefore(view);
    this.maybeNewView();
  }

  protected onViewChange(envelope: Envelope<PbftViewChangeBody>): void {
    const view = envelope.body.view;
    const previous = this.viewChanges.get(envelope.from);
    if (previous !== undefined && previous.body.view === view) {
      this.accuse(
        "equivocation",
        envelope.from,
        `"${envelope.from}" signed two different view-changes for view ${view}`,
        [previous, envelope],
      );
      return;
    }
    if (previous !== undefined && previous.body.view > view) {
      this.reject(envelope, "stale-view", `"${envelope.from}" already asked for a higher view`);
      return;
    }
    if (!this.checkViewChange(envelope)) return;
    this.viewChanges.set(envelope.from, envelope);
    if (view < this.view || (view === this.view && this.mode === "normal")) {
      this.reject(envelope, "stale-view", `view-change for view ${view}, now in ${this.view}`);
      return;
    }
    // Join once f + 1 replicas (so at least one honest one) want a higher view.
    const wanted: number[] = [];
    for (const vc of this.viewChanges.values()) {
      const v = vc.body.view;
      if (v > this.view) wanted.push(v);
    }
    if (wanted.length >= this.f + 1) {
      wanted.sort((a, b) => b - a);
      this.startViewChange(wanted[this.f] as number);
    }
    this.maybeNewView();
  }

  /** New primary: announces the view once it holds q view-changes for it. */
  protected maybeNewView(): void {
    const view = this.view;
    if (this.mode !== "view-change" || !this.isPrimary(view)) return;
    const viewChanges = this.inReplicaOrder(
      [...this.viewChanges.values()].filter((vc) => vc.body.view === view),
    ).slice(0, this.q);
    if (viewChanges.length < this.q) return;
    const plan = this.plan(viewChanges);
    const prePrepares: Envelope<PbftPrePrepareBody>[] = [];
    for (const entry of plan) {
      if (entry.decided !== undefined) continue;
      const { seq, digest, proposal } = entry;
      const prePrepare = this.signed<PbftPrePrepareBody>(PBFT_MESSAGE_TYPES.prePrepare, {
        view,
        seq,
        digest,
        proposal,
      });
      if (prePrepare === undefined) return; // the timer moves on to the next view
      prePrepares.push(prePrepare);
    }
    const newView = this.broadcast<PbftNewViewBody>(PBFT_MESSAGE_TYPES.newView, {
      view,
      viewChanges,
      prePrepares,
    });
    if (newView === undefined) return;
    this.newViews.set(view, newView);
    this.install(view, plan, prePrepares);
  }

  protected onNewView(envelope: Envelope<PbftNewViewBody>): void {
    const { view, viewChanges, prePrepares } = envelope.body;
    const primary = this.primaryOf(view);
    if (envelope.from !== primary) {
      this.accuse(
        "out-of-view",
        envelope.from,
        `"${envelope.from}" signed a new-view for view ${view}, whose primary is "${primary}"`,
        [envelope],
      );
      return;
    }
    const previous = this.newViews.get(view);
    if (previous !== undefined) {
      this.accuse(
        "equivocation",
        envelope.from,
        `"${envelope.from}" signed two new-views for view ${view}`,
        [previous, envelope],
      );
      return;
    }
    if (view < this.view || (view === this.view && this.mode === "normal")) {
      this.reject(envelope, "stale-view", `new-view for view ${view}, now in ${this.view}`);
      return;
    }
    const plan = this.checkNewView(view, viewChanges, prePrepares);
    if (typeof plan === "string") {
      this.accuse(
        "wrong-proposal",
        envelope.from,
        `new-view for view ${view} is invalid: ${plan}`,
        [envelope],
      );
      return;
    }
    this.newViews.set(view, envelope);
    this.install(view, plan, prePrepares);
  }

  /** Enters `view` in normal mode: commits what is decided, then takes the re-proposals. */
  protected install(
    view: number,
    plan: readonly PlanEntry[],
    prePrepares: readonly Envelope<PbftPrePrepareBody>[],
  ): void {
    this.view = view;
    this.mode = "normal";
    this.idleTicks = 0;
    if (this.isPrimary(view)) this.nextSeq = plan.length + 1;
    for (const entry of plan) {
      if (entry.decided !== undefined) this.decide(entry.seq, entry.decided);
    }
    for (const prePrepare of prePrepares) {
      if (!this.notePrePrepare(prePrepare)) continue;
      if (prePrepare.body.seq > this.low + this.window && !this.isPrimary(view)) continue;
      this.acceptPrePrepare(prePrepare, true);
    }
    const buffered = this.future;
    this.future = [];
    this.futureCount.clear();
    for (const item of buffered) {
      const itemView = item.envelope.body.view;
      if (itemView > view) this.buffer(item);
      else if (itemView === view) this.replay(item);
    }
    if (this.isPrimary(view)) this.orderPending();
  }

  protected replay(item: Buffered): void {
    if (item.kind === "pre-prepare") this.onPrePrepare(item.envelope);
    else this.onVote(item.kind, item.envelope);
  }
}
