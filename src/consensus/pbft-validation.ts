/**
 * Message validation for a PBFT replica: admission of a received envelope
 * (shape, sender, signature, replay, body), the checks of what a pre-prepare,
 * view-change or new-view carries (embedded messages, prepared and commit
 * certificates), and the new view's plan that a new-view must match. A
 * message that fails is evidence against its signer or a rejection with a
 * reason (see the module documentation of `pbft.ts`).
 */
import type { Envelope } from "../wire/envelope.js";
import { type Decided, PbftLog, type PlanEntry } from "./pbft-log.js";
import {
  isNewViewBody,
  isPrePrepareBody,
  isProposal,
  isRecord,
  isViewChangeBody,
  isVoteBody,
  PBFT_MESSAGE_TYPES,
  PBFT_NULL_DIGEST,
  type PbftPrePrepareBody,
  type PbftViewChangeBody,
  type PbftVoteBody,
} from "./pbft-messages.js";

/** The replica's checks of received messages and of the certificates they carry. */
export abstract class PbftValidation extends PbftLog {
  protected admit(envelope: unknown, via: string | undefined): Envelope | undefined {
    if (
      !isRecord(envelope) ||
      typeof envelope.id !== "string" ||
      typeof envelope.type !== "string" ||
      typeof envelope.from !== "string" ||
      !("body" in envelope)
    ) {
      this.reject(envelope, "malformed", "not an envelope with id, type, from and body");
      return undefined;
    }
    const message = envelope as unknown as Envelope;
    const from = message.from;
    if (!isPbftType(message.type)) {
      this.reject(message, "unknown-type", `type "${message.type}" is not a PBFT message`);
      return undefined;
    }
    if (!this.position.has(from)) {
      this.accuse("unknown-voter", from, `"${from}" is not a replica`, [message]);
      return undefined;
    }
    if (via !== undefined && via !== from) {
      this.accuse("forged-sender", via, `"${via}" sent an envelope claiming to be from "${from}"`, [
        message,
      ]);
      return undefined;
    }
    if (!this.verified(message)) {
      this.accuse(
        "bad-signature",
        from,
        `envelope ${message.id} (${message.type}) is not signed by "${from}"; whoever sent it forged the sender or altered the message`,
        [message],
      );
      return undefined;
    }
    if (this.seen.has(message.id)) {
      this.accuse(
        "replay",
        from,
        `envelope ${message.id} (${message.type}) arrived again; "${from}" signed it, but anyone may have replayed it`,
        [message],
      );
      return undefined;
    }
    this.seen.add(message.id);
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
      this.accuse(
        "wrong-proposal",
        from,
        `"${from}" signed a ${message.type} with a malformed body`,
        [message],
      );
      return undefined;
    }
    return message;
  }

  /** Primary's signature role and digest; evidence if wrong. */
  protected checkPrePrepare(envelope: Envelope<PbftPrePrepareBody>): boolean {
    const body = envelope.body;
    const primary = this.primaryOf(body.view);
    if (envelope.from !== primary) {
      this.accuse(
        "out-of-view",
        envelope.from,
        `"${envelope.from}" signed a pre-prepare for view ${body.view}, whose primary is "${primary}"`,
        [envelope],
      );
      return false;
    }
    if (this.digestOf(body.proposal) !== body.digest) {
      this.accuse(
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
   * Checks the certificates and pre-prepares a view-change carries; indexes
   * them (exposing an equivocating primary). Evidence against its signer if
   * any is invalid.
   */
  protected checkViewChange(envelope: Envelope<PbftViewChangeBody>): boolean {
    const { view, committed, prepared, prePrepared } = envelope.body;
    const seqs = new Set<number>();
    let problem: string | undefined;
    for (const certificate of committed) {
      problem = this.commitCertificateProblem(certificate, view);
      if (problem !== undefined) break;
      const seq = (certificate.commits[0] as Envelope<PbftVoteBody>).body.seq;
      if (seqs.has(seq)) {
        problem = `two certificates for seq ${seq}`;
        break;
      }
      seqs.add(seq);
    }
    for (const certificate of problem === undefined ? prepared : []) {
      problem = this.certificateProblem(certificate, view);
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
        problem = this.embeddedPrePrepareProblem(prePrepare, view);
        if (problem !== undefined) break;
      }
    }
    if (problem !== undefined) {
      this.accuse(
        "wrong-proposal",
        envelope.from,
        `view-change for view ${view} from "${envelope.from}" is invalid: ${problem}`,
        [envelope],
      );
      return false;
    }
    for (const certificate of committed) {
      for (const commit of certificate.commits) this.noteVote("commit", commit);
    }
    for (const certificate of prepared) {
      this.notePrePrepare(certificate.prePrepare);
      for (const prepare of certificate.prepares) this.noteVote("prepare", prepare);
    }
    for (const prePrepare of prePrepared) this.notePrePrepare(prePrepare);
    return true;
  }

  protected certificateProblem(certificate: unknown, beforeView: number): string | undefined {
    if (!isRecord(certificate) || !Array.isArray(certificate.prepares)) {
      return "a malformed certificate";
    }
    const prePrepare = certificate.prePrepare as Envelope<PbftPrePrepareBody>;
    const problem = this.embeddedPrePrepareProblem(prePrepare, beforeView);
    if (problem !== undefined) return problem;
    const { view, seq, digest } = prePrepare.body;
    const primary = this.primaryOf(view);
    const signers = new Set<string>();
    for (const prepare of certificate.prepares as unknown[]) {
      if (!this.embeddedValid(prepare, PBFT_MESSAGE_TYPES.prepare, isVoteBody)) {
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
    if (signers.size < this.q - 1) {
      return `${signers.size} prepares for seq ${seq}, a certificate needs ${this.q - 1}`;
    }
    return undefined;
  }

  protected commitCertificateProblem(certificate: unknown, beforeView: number): string | undefined {
    if (!isRecord(certificate) || !Array.isArray(certificate.commits)) {
      return "a malformed commit certificate";
    }
    const proposal = certificate.proposal;
    if (proposal !== null && !isProposal(proposal))
      return "a commit certificate without a proposal";
    const commits = certificate.commits as unknown[];
    const first = commits[0];
    if (!this.embeddedValid(first, PBFT_MESSAGE_TYPES.commit, isVoteBody)) {
      return "an unsigned or malformed commit";
    }
    const { view, seq, digest } = first.body;
    if (view >= beforeView) return `commits from view ${view}, not before ${beforeView}`;
    if (this.digestOf(proposal) !== digest) {
      return `a commit certificate for seq ${seq} whose proposal does not match its digest`;
    }
    const signers = new Set<string>();
    for (const commit of commits) {
      if (!this.embeddedValid(commit, PBFT_MESSAGE_TYPES.commit, isVoteBody)) {
        return `an unsigned or malformed commit for seq ${seq}`;
      }
      const body = commit.body;
      if (body.view !== view || body.seq !== seq || body.digest !== digest) {
        return `commits for seq ${seq} that disagree`;
      }
      if (signers.has(commit.from)) return `two commits from "${commit.from}" for seq ${seq}`;
      signers.add(commit.from);
    }
    if (signers.size < this.q) {
      return `${signers.size} commits for seq ${seq}, a certificate needs ${this.q}`;
    }
    return undefined;
  }

  protected embeddedPrePrepareProblem(prePrepare: unknown, beforeView: number): string | undefined {
    if (!this.embeddedValid(prePrepare, PBFT_MESSAGE_TYPES.prePrepare, isPrePrepareBody)) {
      return "an unsigned or malformed pre-prepare";
    }
    const body = prePrepare.body;
    if (body.view >= beforeView)
      return `a pre-prepare from view ${body.view}, not before ${beforeView}`;
    if (prePrepare.from !== this.primaryOf(body.view)) {
      return `a pre-prepare for view ${body.view} not signed by its primary`;
    }
    if (this.digestOf(body.proposal) !== body.digest) {
      return `a pre-prepare for seq ${body.seq} whose digest is not its proposal's`;
    }
    return undefined;
  }

  protected embeddedValid<B>(
    value: unknown,
    type: string,
    isBody: (body: unknown) => body is B,
  ): value is Envelope<B> {
    return (
      isRecord(value) &&
      value.type === type &&
      typeof value.from === "string" &&
      this.position.has(value.from) &&
      isBody(value.body) &&
      this.verified(value as unknown as Envelope)
    );
  }

  /**
   * What a new view holds at seq 1 to max-s: the value of a commit
   * certificate where one exists (decided), else the proposal of the prepared
   * certificate from the highest view, else a null request.
   */
  protected plan(viewChanges: readonly Envelope<PbftViewChangeBody>[]): PlanEntry[] {
    const decided = new Map<number, Decided>();
    const best = new Map<number, PbftPrePrepareBody>();
    let maxSeq = 0;
    for (const vc of viewChanges) {
      for (const certificate of vc.body.committed) {
        const commits = certificate.commits;
        const { view, seq, digest } = (commits[0] as Envelope<PbftVoteBody>).body;
        const current = decided.get(seq);
        if (current === undefined || current.view < view) {
          const ordered = this.inReplicaOrder(commits).slice(0, this.q);
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

  /** The new view's plan, or what is wrong with the new-view. */
  protected checkNewView(
    view: number,
    viewChanges: readonly unknown[],
    prePrepares: readonly unknown[],
  ): PlanEntry[] | string {
    const signers = new Set<string>();
    const valid: Envelope<PbftViewChangeBody>[] = [];
    for (const vc of viewChanges) {
      if (!isRecord(vc) || typeof vc.from !== "string") return "a malformed view-change";
      const known = this.viewChanges.get(vc.from);
      const already = known !== undefined && known.id === vc.id && known.sig === vc.sig;
      if (!already) {
        if (!this.embeddedValid(vc, PBFT_MESSAGE_TYPES.viewChange, isViewChangeBody)) {
          return "an unsigned or malformed view-change";
        }
        if (!this.checkViewChange(vc)) return `an invalid view-change from "${vc.from}"`;
      }
      const checked = vc as unknown as Envelope<PbftViewChangeBody>;
      if (checked.body.view !== view) return `a view-change for view ${checked.body.view}`;
      if (signers.has(checked.from)) return `two view-changes from "${checked.from}"`;
      signers.add(checked.from);
      valid.push(checked);
    }
    if (valid.length < this.q) return `${valid.length} view-changes, a new view needs ${this.q}`;
    const plan = this.plan(valid);
    for (const entry of plan) {
      const committed = this.slots.get(entry.seq)?.committed;
      const digest = entry.decided !== undefined ? entry.decided.digest : entry.digest;
      if (committed !== undefined && committed.digest !== digest) {
        return `seq ${entry.seq} gets another value than the one committed here`;
      }
    }
    const proposed = plan.filter((entry) => entry.decided === undefined);
    if (prePrepares.length !== proposed.length) {
      return `${prePrepares.length} pre-prepares where the view-changes call for ${proposed.length}`;
    }
    const primary = this.primaryOf(view);
    for (let i = 0; i < proposed.length; i++) {
      const expected = proposed[i] as { seq: number; digest: string };
      const prePrepare = prePrepares[i];
      if (!this.embeddedValid(prePrepare, PBFT_MESSAGE_TYPES.prePrepare, isPrePrepareBody)) {
        return "an unsigned or malformed pre-prepare";
      }
      const body = prePrepare.body;
      if (
        prePrepare.from !== primary ||
        body.view !== view ||
        body.seq !== expected.seq ||
        body.digest !== expected.digest ||
        this.digestOf(body.proposal) !== body.digest
      ) {
        return `the pre-prepare for seq ${expected.seq} is not what the view-changes prove`;
      }
    }
    return plan;
  }
}

const PBFT_TYPES = new Set<string>(Object.values(PBFT_MESSAGE_TYPES));

function isPbftType(type: string): boolean {
  return PBFT_TYPES.has(type);
}
