/**
 * A PBFT replica's state and message log: the replica's settings, its view
 * and watermarks, the per-(view, seq) instances with their votes, the
 * per-seq slots with their certificates, the requests it knows, the
 * equivocation indexes, the buffer of messages for future views, and what it
 * has queued for `ready()`.
 *
 * The replica is one class written in layers, one file per concern, each
 * layer calling only the ones below it:
 * `pbft-log.ts` (state, bookkeeping, signing) → `pbft-validation.ts`
 * (admission, certificates, the new-view plan) → `pbft-normal-case.ts`
 * (pre-prepare, prepare, commit) → `pbft-view-change.ts` (view-change,
 * new-view) → `pbft.ts` (the public `step / tick / propose / ready`). The
 * one call upwards, starting a view change when the primary equivocates, goes
 * through the abstract {@link PbftLog.startViewChange}.
 */
import { ConfigError } from "../errors/index.js";
import type { Envelope } from "../wire/envelope.js";
import {
  PBFT_NULL_DIGEST,
  type PbftBody,
  type PbftNewViewBody,
  type PbftPrePrepareBody,
  type PbftPreparedCertificate,
  type PbftViewChangeBody,
  type PbftVoteBody,
  pbftDigest,
  pbftQuorum,
} from "./pbft-messages.js";
import type {
  PbftCommitted,
  PbftExpired,
  PbftOutbound,
  PbftRejected,
  PbftRejectReason,
  PbftReplicaConfig,
} from "./pbft-types.js";
import type { ByzantineEvidence, Proposal, Verifier } from "./types.js";

/** One (view, seq) of the three-phase protocol: its pre-prepare and the votes for it. */
export interface Instance {
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

/** One sequence number across views: its decision, and what a view change must carry for it. */
export interface Slot {
  committed: Decided | undefined;
  /** Prepared certificate from the highest view. */
  proof: PbftPreparedCertificate | undefined;
  /** Latest pre-prepare accepted for this seq. */
  lastPrePrepare: Envelope<PbftPrePrepareBody> | undefined;
}

/** A proposal this replica knows, and where it stands here. */
export interface Request {
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
export interface Decided {
  readonly view: number;
  readonly digest: string;
  readonly proposal: Proposal | null;
  /** `q` matching commits, in replica order. */
  readonly commits: readonly Envelope<PbftVoteBody>[];
}

/** One sequence number of a new view: decided by a certificate, or (re-)proposed. */
export type PlanEntry =
  | { readonly seq: number; readonly decided: Decided }
  | {
      readonly seq: number;
      readonly decided?: undefined;
      readonly digest: string;
      readonly proposal: Proposal | null;
    };

/** A message for a view this replica has not entered yet, kept until it does. */
export type Buffered =
  | { readonly kind: "pre-prepare"; readonly envelope: Envelope<PbftPrePrepareBody> }
  | { readonly kind: "prepare" | "commit"; readonly envelope: Envelope<PbftVoteBody> };

/** The replica's state and the bookkeeping every layer above shares. */
export abstract class PbftLog {
  readonly id: string;
  protected readonly ids: readonly string[];
  protected readonly position: ReadonlyMap<string, number>;
  protected readonly n: number;
  protected readonly f: number;
  protected readonly q: number;
  protected readonly window: number;
  protected readonly timeout: number;
  protected readonly sign: PbftReplicaConfig["sign"];
  protected readonly verify: Verifier;
  protected readonly validate: PbftReplicaConfig["validate"];

  protected now: number;
  protected view = 0;
  protected mode: "normal" | "view-change" = "normal";
  protected idleTicks = 0;
  protected attempts = 0;
  protected nextSeq = 1;
  protected low = 0;
  protected committedCount = 0;

  protected readonly instances = new Map<number, Map<number, Instance>>();
  protected readonly slots = new Map<number, Slot>();
  protected readonly proposals = new Map<string, Proposal | null>([[PBFT_NULL_DIGEST, null]]);
  protected readonly requests = new Map<string, Request>();
  /** Requests not yet committed nor expired, in arrival order. */
  protected readonly pending = new Set<Request>();
  protected readonly committedIds = new Set<string>();
  protected readonly seen = new Set<string>();
  protected readonly prePrepareIndex = new Map<string, Envelope<PbftPrePrepareBody>>();
  protected readonly voteIndex = new Map<string, Envelope<PbftVoteBody>>();
  /** Each replica's highest view-change. */
  protected readonly viewChanges = new Map<string, Envelope<PbftViewChangeBody>>();
  protected readonly newViews = new Map<number, Envelope<PbftNewViewBody>>();
  protected future: Buffered[] = [];
  protected readonly futureCount = new Map<string, number>();
  protected readonly evidenceKeys = new Set<string>();
  /** Digests of proposals already hashed; received proposals are never mutated. */
  protected readonly digests = new WeakMap<object, string>();

  protected send: PbftOutbound[] = [];
  protected committed: PbftCommitted[] = [];
  protected evidence: ByzantineEvidence[] = [];
  protected expired: PbftExpired[] = [];
  protected rejected: PbftRejected[] = [];

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
    this.ids = ids;
    this.position = new Map(ids.map((id, i) => [id, i]));
    this.n = ids.length;
    this.f = config.f;
    this.q = pbftQuorum(ids.length, config.f);
    this.window = window;
    this.timeout = timeout;
    this.sign = config.sign;
    this.verify = config.verify;
    this.validate = config.validate;
    this.now = config.now;
  }

  /** Moves to `view` and asks the others to follow (the view-change layer). */
  protected abstract startViewChange(view: number): void;

  /**
   * Indexes a correctly signed pre-prepare by (view, seq); if another with a
   * different digest is known, records the equivocation and, if it is the
   * current primary's, starts a view change. Returns false on conflict.
   */
  protected notePrePrepare(envelope: Envelope<PbftPrePrepareBody>): boolean {
    const { view, seq, digest } = envelope.body;
    const key = `${view}:${seq}`;
    const known = this.prePrepareIndex.get(key);
    if (known === undefined) {
      this.prePrepareIndex.set(key, envelope);
      return true;
    }
    if (known.body.digest === digest) return true;
    this.accuse(
      "equivocation",
      envelope.from,
      `primary "${envelope.from}" signed two pre-prepares for view ${view}, seq ${seq} with different proposals`,
      [known, envelope],
    );
    if (view === this.view && this.mode === "normal" && !this.isPrimary(view)) {
      this.startViewChange(view + 1);
    }
    return false;
  }

  /** Like `notePrePrepare` for prepares and commits. */
  protected noteVote(kind: "prepare" | "commit", envelope: Envelope<PbftVoteBody>): boolean {
    const key = voteKey(kind, envelope);
    const known = this.voteIndex.get(key);
    if (known === undefined) {
      this.voteIndex.set(key, envelope);
      return true;
    }
    if (known.body.digest === envelope.body.digest) return true;
    const { view, seq } = envelope.body;
    this.accuse(
      "equivocation",
      envelope.from,
      `"${envelope.from}" signed two ${kind}s for view ${view}, seq ${seq} with different digests`,
      [known, envelope],
    );
    return false;
  }

  protected buffer(item: Buffered): void {
    const from = item.envelope.from;
    const count = this.futureCount.get(from) ?? 0;
    if (count >= 3 * this.window) {
      this.reject(item.envelope, "buffer-full", `too many early messages from "${from}"`);
      return;
    }
    this.futureCount.set(from, count + 1);
    this.future.push(item);
  }

  protected dropBufferedBefore(view: number): void {
    if (this.future.length === 0) return;
    const kept: Buffered[] = [];
    this.futureCount.clear();
    for (const item of this.future) {
      if (item.envelope.body.view < view) continue;
      kept.push(item);
      this.futureCount.set(item.envelope.from, (this.futureCount.get(item.envelope.from) ?? 0) + 1);
    }
    this.future = kept;
  }

  protected learn(proposal: Proposal, digest: string): Request {
    const request: Request = {
      proposal,
      digest,
      accepted: false,
      committed: false,
      expired: false,
      orderedInView: -1,
      orderedAt: 0,
    };
    this.requests.set(digest, request);
    this.proposals.set(digest, proposal);
    if (!this.committedIds.has(proposal.id)) this.pending.add(request);
    return request;
  }

  /** A backup waits for the primary while it knows an accepted, undecided proposal. */
  protected waiting(): boolean {
    for (const request of this.pending) if (request.accepted) return true;
    return false;
  }

  /** Whether this replica may still sign votes for the proposal with `digest`. */
  protected mayVote(digest: string): boolean {
    const proposal = this.proposals.get(digest);
    return proposal === null || proposal === undefined || this.now < proposal.deadline;
  }

  protected policy(proposal: Proposal): boolean {
    let accepted = false;
    try {
      accepted = this.validate(proposal) === true;
    } catch {
      accepted = false;
    }
    if (!accepted) {
      this.reject(proposal, "policy", `the voter policy rejected proposal ${proposal.id}`);
    }
    return accepted;
  }

  protected digestOf(proposal: Proposal | null): string | undefined {
    if (proposal === null) return PBFT_NULL_DIGEST;
    let digest = this.digests.get(proposal);
    if (digest === undefined) {
      digest = safeDigest(proposal);
      if (digest === undefined) return undefined;
      this.digests.set(proposal, digest);
    }
    return digest;
  }

  protected verified(envelope: Envelope): boolean {
    try {
      return this.verify(envelope) === true;
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
  protected signed<B extends PbftBody>(type: string, body: B): Envelope<B> | undefined {
    try {
      return this.sign({ type, from: this.id, body }, this.now) as Envelope<B>;
    } catch (err) {
      const reason = (err instanceof Error ? err.message : String(err)).slice(0, 300);
      this.reject(body, "unsignable", `could not sign a ${type}: ${reason}`);
      return undefined;
    }
  }

  protected broadcast<B extends PbftBody>(type: string, body: B): Envelope<B> | undefined {
    const envelope = this.signed(type, body);
    if (envelope === undefined) return undefined;
    this.seen.add(envelope.id);
    this.send.push({ to: "*", envelope: envelope as Envelope<PbftBody> });
    return envelope;
  }

  protected accuse(
    kind: ByzantineEvidence["kind"],
    agent: string,
    detail: string,
    messages: readonly Envelope[],
  ): void {
    const key = `${kind}|${agent}|${messages.map((m) => `${m.id}/${m.sig}`).join(",")}`;
    if (this.evidenceKeys.has(key)) return;
    this.evidenceKeys.add(key);
    this.evidence.push({ kind, agent, detail, messages });
  }

  protected reject(message: unknown, reason: PbftRejectReason, detail: string): void {
    this.rejected.push({ message, reason, detail });
  }

  protected instance(view: number, seq: number): Instance {
    let byView = this.instances.get(view);
    if (byView === undefined) {
      byView = new Map();
      this.instances.set(view, byView);
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

  protected slot(seq: number): Slot {
    let slot = this.slots.get(seq);
    if (slot === undefined) {
      slot = { committed: undefined, proof: undefined, lastPrePrepare: undefined };
      this.slots.set(seq, slot);
    }
    return slot;
  }

  protected primaryOf(view: number): string {
    return this.ids[view % this.n] as string;
  }

  protected isPrimary(view: number): boolean {
    return this.primaryOf(view) === this.id;
  }

  protected inReplicaOrder<T extends { readonly from: string }>(items: readonly T[]): T[] {
    const position = this.position;
    return [...items].sort(
      (a, b) => (position.get(a.from) as number) - (position.get(b.from) as number),
    );
  }
}

export function voteKey(kind: string, envelope: Envelope<PbftVoteBody>): string {
  return `${kind}:${envelope.body.view}:${envelope.body.seq}:${envelope.from}`;
}

function safeDigest(proposal: Proposal | null): string | undefined {
  try {
    return pbftDigest(proposal);
  } catch {
    return undefined;
  }
}
