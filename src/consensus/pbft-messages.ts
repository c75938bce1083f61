/**
 * The wire vocabulary of PBFT (Castro & Liskov, OSDI '99) as conclave speaks
 * it. Every PBFT message is an envelope (src/wire) signed by its sender, with
 * `type` one of {@link PBFT_MESSAGE_TYPES} and `from` the sending replica's
 * agent id; `to` is left unset (messages go to every replica). The bodies are
 * plain JSON, documented field by field below, so that a client in any
 * language can check a commit certificate offline with JCS, SHA-256 and
 * Ed25519 alone.
 *
 * Terms: `n` replicas in a fixed order, at most `f` Byzantine, `n >= 3f + 1`.
 * The primary of view `v` is replica `v mod n`. A quorum is
 * `q = ceil((n + f + 1) / 2)` replicas, which is `2f + 1` when `n = 3f + 1`;
 * any two quorums share at least `f + 1` replicas, so at least one honest one.
 */
import { sha256Canonical } from "../wire/canonical.js";
import type { Envelope } from "../wire/envelope.js";
import type { Proposal, Verifier, Voter } from "./types.js";

/** Envelope `type` of each PBFT message. */
export const PBFT_MESSAGE_TYPES = Object.freeze({
  prePrepare: "consensus.pbft.pre-prepare",
  prepare: "consensus.pbft.prepare",
  commit: "consensus.pbft.commit",
  viewChange: "consensus.pbft.view-change",
  newView: "consensus.pbft.new-view",
} as const);

/** The types of the PBFT envelopes (`consensus.pbft.*`). */
export type PbftMessageType = (typeof PBFT_MESSAGE_TYPES)[keyof typeof PBFT_MESSAGE_TYPES];

/**
 * Body of `consensus.pbft.pre-prepare`: the primary of `view` assigns sequence
 * number `seq` to a proposal. Only the primary of `view` may sign one; two
 * with the same `view` and `seq` but different `digest` prove that it
 * equivocated.
 *
 * ```json
 * { "view": 0, "seq": 1, "digest": "<64 hex>", "proposal": { "id": "01J…", "action": "funds.transfer", … } }
 * ```
 */
export interface PbftPrePrepareBody {
  /** View number, an integer >= 0. */
  readonly view: number;
  /** Sequence number, an integer >= 1. */
  readonly seq: number;
  /** {@link pbftDigest} of `proposal`: lower-case hex SHA-256 of its RFC 8785 canonical JSON. */
  readonly digest: string;
  /**
   * The proposal itself, or `null` for a null request: the filler a new
   * primary puts at a sequence number no view-change message proves prepared.
   */
  readonly proposal: Proposal | null;
}

/**
 * Body of `consensus.pbft.prepare` and `consensus.pbft.commit`: the sender
 * vouches for `digest` at (`view`, `seq`). A backup sends prepare when it
 * accepts the pre-prepare (the primary never sends prepare: its pre-prepare
 * counts as its prepare); a replica sends commit once it is prepared.
 *
 * ```json
 * { "view": 0, "seq": 1, "digest": "<64 hex>" }
 * ```
 */
export interface PbftVoteBody {
  readonly view: number;
  readonly seq: number;
  readonly digest: string;
}

/**
 * A prepared certificate: proof that a quorum accepted `digest` at (`view`,
 * `seq`). The signed pre-prepare of the primary of `view`, plus `q - 1`
 * (`2f`) signed prepares from distinct replicas other than that primary,
 * all with the pre-prepare's `view`, `seq` and `digest`.
 */
export interface PbftPreparedCertificate {
  readonly prePrepare: Envelope<PbftPrePrepareBody>;
  readonly prepares: readonly Envelope<PbftVoteBody>[];
}

/**
 * A commit certificate: proof that `proposal` is decided at a sequence
 * number. `q` (`2f + 1`) signed commits from distinct replicas with the same
 * `view`, `seq` and `digest`, and the proposal whose {@link pbftDigest} is
 * that digest (`null` for a null request). The same commits are what
 * `PbftCommitted.certificate` reports and `verifyPbftCertificate` checks.
 */
export interface PbftCommitCertificate {
  readonly proposal: Proposal | null;
  readonly commits: readonly Envelope<PbftVoteBody>[];
}

/**
 * Body of `consensus.pbft.view-change`: the sender gives up on the views
 * before `view` and asks to move to `view`.
 *
 * ```json
 * {
 *   "view": 1,
 *   "committed": [{ "proposal": {…}, "commits": [{…envelope…}, {…}, {…}] }],
 *   "prepared": [{ "prePrepare": {…envelope…}, "prepares": [{…}, {…}] }],
 *   "prePrepared": [{…envelope…}]
 * }
 * ```
 */
export interface PbftViewChangeBody {
  /** The view asked for, an integer >= 1. */
  readonly view: number;
  /**
   * A commit certificate for every sequence number the sender has committed,
   * sorted by `seq`. A new view adopts these as decided instead of running
   * them again, and a replica that missed the commits learns them here.
   */
  readonly committed: readonly PbftCommitCertificate[];
  /**
   * For every sequence number the sender holds a prepared certificate for but
   * has not committed, the certificate from the highest view (each below
   * `view`), sorted by `seq`.
   */
  readonly prepared: readonly PbftPreparedCertificate[];
  /**
   * Signed pre-prepares the sender accepted that are newer than its prepared
   * certificate for the same `seq` (or have none). They play no part in
   * choosing what the new view re-proposes; they are there so that a primary
   * that told different replicas different things is caught: two of them with
   * the same `view` and `seq` and different digests are proof of equivocation.
   */
  readonly prePrepared: readonly Envelope<PbftPrePrepareBody>[];
}

/**
 * Body of `consensus.pbft.new-view`, signed by the primary of `view`: the
 * view starts. `viewChanges` are `q` (`2f + 1`) signed view-change messages
 * for `view` from distinct replicas. Let max-s be the highest `seq` of any
 * commit or prepared certificate in them. Every `seq` from 1 to max-s is
 * either decided (some view-change carries a commit certificate for it: every
 * replica commits that proposal, no new messages) or re-proposed:
 * `prePrepares` holds the new primary's signed pre-prepares for `view`, in
 * `seq` order, for exactly the undecided sequence numbers, each with the
 * proposal of the prepared certificate from the highest view, or `null` (a
 * null request) when no certificate covers it. Every replica recomputes this
 * from `viewChanges` and rejects a new-view that differs.
 *
 * ```json
 * { "view": 1, "viewChanges": [{…}, {…}, {…}], "prePrepares": [{…}] }
 * ```
 */
export interface PbftNewViewBody {
  readonly view: number;
  readonly viewChanges: readonly Envelope<PbftViewChangeBody>[];
  readonly prePrepares: readonly Envelope<PbftPrePrepareBody>[];
}

/** The body of any PBFT message. */
export type PbftBody = PbftPrePrepareBody | PbftVoteBody | PbftViewChangeBody | PbftNewViewBody;

/**
 * The digest PBFT messages carry: lower-case hex SHA-256 over the RFC 8785
 * canonical JSON of the proposal (`null` for a null request). The same hash
 * `VoteBody.proposalHash` uses.
 *
 * @throws InvalidEnvelopeError if the proposal holds a value JSON cannot carry.
 *
 * @example
 * ```ts
 * pbftDigest(null); // "74234e98afe7498fb5daf1f36ac2d78acc339464f950703b8c019892f982b90b"
 * ```
 */
export function pbftDigest(proposal: Proposal | null): string {
  return sha256Canonical(proposal);
}

/** Digest of the null request. */
export const PBFT_NULL_DIGEST: string = pbftDigest(null);

/** Quorum size for `n` replicas tolerating `f` Byzantine ones: `ceil((n + f + 1) / 2)`. */
export function pbftQuorum(n: number, f: number): number {
  return Math.ceil((n + f + 1) / 2);
}

const DIGEST = /^[0-9a-f]{64}$/;

/** @internal */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isView(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function isSeq(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 1;
}

/** A structurally valid proposal (what voter policies will read). @internal */
export function isProposal(value: unknown): value is Proposal {
  if (!isRecord(value)) return false;
  return (
    typeof value.id === "string" &&
    value.id.length > 0 &&
    typeof value.action === "string" &&
    typeof value.proposer === "string" &&
    typeof value.ts === "number" &&
    Number.isFinite(value.ts) &&
    typeof value.deadline === "number" &&
    Number.isFinite(value.deadline) &&
    typeof value.protocol === "string" &&
    "data" in value
  );
}

/** @internal */
export function isPrePrepareBody(body: unknown): body is PbftPrePrepareBody {
  return (
    isRecord(body) &&
    isView(body.view) &&
    isSeq(body.seq) &&
    typeof body.digest === "string" &&
    DIGEST.test(body.digest) &&
    (body.proposal === null || isProposal(body.proposal))
  );
}

/** @internal */
export function isVoteBody(body: unknown): body is PbftVoteBody {
  return (
    isRecord(body) &&
    isView(body.view) &&
    isSeq(body.seq) &&
    typeof body.digest === "string" &&
    DIGEST.test(body.digest)
  );
}

/** Shape only; the certificates inside are checked by the replica. @internal */
export function isViewChangeBody(body: unknown): body is PbftViewChangeBody {
  return (
    isRecord(body) &&
    isView(body.view) &&
    body.view >= 1 &&
    Array.isArray(body.committed) &&
    body.committed.every((c) => isRecord(c) && Array.isArray(c.commits) && "proposal" in c) &&
    Array.isArray(body.prepared) &&
    body.prepared.every(
      (c) => isRecord(c) && isRecord(c.prePrepare) && Array.isArray(c.prepares),
    ) &&
    Array.isArray(body.prePrepared)
  );
}

/** Shape only; the view changes and pre-prepares inside are checked by the replica. @internal */
export function isNewViewBody(body: unknown): body is PbftNewViewBody {
  return (
    isRecord(body) &&
    isView(body.view) &&
    body.view >= 1 &&
    Array.isArray(body.viewChanges) &&
    Array.isArray(body.prePrepares)
  );
}

/** Options of {@link verifyPbftCertificate}. */
export interface VerifyPbftCertificateOptions {
  /** The replicas, in protocol order. */
  readonly replicas: readonly Voter[];
  readonly f: number;
  readonly verify: Verifier;
  /** If given, the certificate must be for this proposal. */
  readonly proposal?: Proposal;
}

/** What {@link verifyPbftCertificate} found. */
export type PbftCertificateCheck =
  | { readonly ok: true; readonly view: number; readonly seq: number; readonly digest: string }
  | { readonly ok: false; readonly reason: string };

/**
 * Checks a commit certificate offline: at least `q` (`2f + 1`)
 * `consensus.pbft.commit` envelopes from distinct replicas, each signed by
 * its sender (through `verify`), all for the same `view`, `seq` and `digest`,
 * and (if `proposal` is given) `digest` is that proposal's.
 *
 * @example
 * ```ts
 * const check = verifyPbftCertificate(committed.certificate, { replicas, f: 1, verify, proposal });
 * if (!check.ok) throw new Error(check.reason);
 * ```
 */
export function verifyPbftCertificate(
  certificate: readonly Envelope[],
  options: VerifyPbftCertificateOptions,
): PbftCertificateCheck {
  const ids = new Set(options.replicas.map((r) => r.id));
  const quorum = pbftQuorum(options.replicas.length, options.f);
  const signers = new Set<string>();
  let first: PbftVoteBody | undefined;
  for (const envelope of certificate) {
    if (!isRecord(envelope) || envelope.type !== PBFT_MESSAGE_TYPES.commit) {
      return { ok: false, reason: "an entry is not a consensus.pbft.commit envelope" };
    }
    if (!ids.has(envelope.from)) {
      return { ok: false, reason: `commit from "${envelope.from}", who is not a replica` };
    }
    if (signers.has(envelope.from)) {
      return { ok: false, reason: `two commits from "${envelope.from}"` };
    }
    if (!isVoteBody(envelope.body)) {
      return { ok: false, reason: `commit from "${envelope.from}" has a malformed body` };
    }
    let valid = false;
    try {
      valid = options.verify(envelope);
    } catch {
      valid = false;
    }
    if (!valid) return { ok: false, reason: `commit from "${envelope.from}" is not signed by it` };
    const body = envelope.body;
    if (first === undefined) first = body;
    else if (body.view !== first.view || body.seq !== first.seq || body.digest !== first.digest) {
      return { ok: false, reason: "commits disagree on view, seq or digest" };
    }
    signers.add(envelope.from);
  }
  if (first === undefined || signers.size < quorum) {
    return { ok: false, reason: `${signers.size} commits; a certificate needs ${quorum}` };
  }
  if (options.proposal !== undefined && pbftDigest(options.proposal) !== first.digest) {
    return { ok: false, reason: "the certificate is for another proposal" };
  }
  return { ok: true, view: first.view, seq: first.seq, digest: first.digest };
}
