/**
 * The coordinator's side of a PBFT decision: a pure state machine, in the
 * style of {@link createQuorumRound}, that watches the PBFT messages of one
 * proposal's replicas (they are broadcast, so whoever proposed sees them all)
 * and the signed refusals of replicas whose policy said no, and ends with a
 * decision the audit log can seal and anyone can verify offline.
 *
 * The replicas themselves run {@link createPbftReplica}; this round takes no
 * part in the protocol. It never signs anything and never sends anything.
 *
 * ## How a replica's policy verdict maps into PBFT
 * A replica whose policy approves the proposal takes part in PBFT as usual:
 * the primary pre-prepares it, backups prepare it, everyone commits. A
 * replica whose policy rejects (or abstains) stays silent in PBFT for this
 * proposal (silence is the only safe "no" in PBFT) and publishes its verdict
 * as a signed `consensus.vote` (`reject` or `abstain`, with the reason),
 * which PBFT itself ignores and this round counts. With `n` replicas,
 * `f = floor((n - 1) / 3)` and `q = ceil((n + f + 1) / 2)` (2f + 1 when
 * n = 3f + 1):
 *
 * - `approved` once `q` commits from distinct replicas for the same view,
 *   sequence number and the proposal's digest are seen: the commit
 *   certificate. It is the authority, whatever refusals were also seen.
 * - `rejected` once `n + f - q + 1` replicas (2f + 1 when n = 3f + 1) signed a
 *   `reject`: even if f of them lied, more than n - q honest replicas will
 *   never commit, so no certificate can form.
 * - `no-quorum` once that many signed a `reject` or an `abstain` without
 *   enough rejections, or at the deadline without a certificate (the
 *   primary never ordered it, too many replicas were silent or refused, or
 *   the network was too slow), or at once with fewer than 4 replicas
 *   (PBFT needs 3f + 1 with f ≥ 1).
 *
 * Replica weights are ignored (one replica, one vote); the tally counts
 * replicas: `approve` commits in the record, `reject` and `abstain` signed
 * refusals, `threshold` q, `total` n.
 *
 * ## Byzantine evidence
 * The round checks every message the way a replica's admission does:
 * `unknown-voter`, `bad-signature`, `replay` (an envelope id seen twice),
 * `wrong-proposal` (a malformed body, a pre-prepare whose digest is not its
 * proposal's, a refusal for another proposal), `out-of-view` (a pre-prepare
 * or new-view from a replica that is not the primary of its view),
 * `equivocation` (two pre-prepares, prepares or commits from one replica for
 * one view and sequence number with different digests; two different
 * view-changes or new-views for one view; a second, different refusal) and
 * `duplicate-vote`. The evidence goes into the decision as received, within
 * the bounds of `EvidenceLog` (evidence-log.ts).
 */
import type { Envelope } from "../wire/envelope.js";
import { EvidenceLog } from "./evidence-log.js";
import {
  isNewViewBody,
  isPrePrepareBody,
  isRecord,
  isViewChangeBody,
  isVoteBody,
  PBFT_MESSAGE_TYPES,
  type PbftPrePrepareBody,
  type PbftVoteBody,
  pbftDigest,
  pbftQuorum,
  verifyPbftCertificate,
} from "./pbft-messages.js";
import { type RoundResult, secondVoteEvidence } from "./quorum.js";
import type {
  ByzantineEvidence,
  Outcome,
  Proposal,
  Tally,
  Verifier,
  VoteBody,
  Voter,
} from "./types.js";
import { hashProposal, parseVoteBody, VOTE_TYPE } from "./vote.js";

/** PBFT tolerates f Byzantine replicas out of 3f + 1: with fewer than 4, none. */
export const PBFT_MIN_REPLICAS = 4;

/** The numbers of a PBFT decision among `n` replicas. */
export interface PbftRoundSize {
  readonly n: number;
  /** Byzantine replicas tolerated: `floor((n - 1) / 3)`. */
  readonly f: number;
  /** Commits in a certificate: `ceil((n + f + 1) / 2)`. */
  readonly quorum: number;
  /** Signed refusals that make a certificate impossible: `n + f - quorum + 1`. */
  readonly refusals: number;
}

/** The sizes {@link createPbftRound} and the offline check use for `n` replicas. */
export function pbftRoundSize(n: number): PbftRoundSize {
  const f = Math.max(0, Math.floor((n - 1) / 3));
  const quorum = pbftQuorum(n, f);
  return { n, f, quorum, refusals: n + f - quorum + 1 };
}

/** What a PBFT record's votes give, at time `decidedAt`; undefined while still open. */
export function pbftOutcome(
  size: PbftRoundSize,
  counts: { readonly commits: number; readonly reject: number; readonly abstain: number },
  deadlinePassed: boolean,
): Outcome | undefined {
  if (size.n < PBFT_MIN_REPLICAS) return "no-quorum";
  if (counts.commits >= size.quorum) return "approved";
  if (counts.reject >= size.refusals) return "rejected";
  if (counts.reject + counts.abstain >= size.refusals) return "no-quorum";
  return deadlinePassed ? "no-quorum" : undefined;
}

/** Why a round with `n` replicas cannot run PBFT, or undefined when it can. */
export function pbftTooFew(n: number): string | undefined {
  return n < PBFT_MIN_REPLICAS
    ? `PBFT needs at least ${PBFT_MIN_REPLICAS} replicas (3f + 1 with f ≥ 1) and ${n} ${n === 1 ? "was" : "were"} live when it was proposed`
    : undefined;
}

/** Configuration of one {@link PbftRound}. */
export interface PbftRoundConfig {
  readonly proposal: Proposal;
  /** {@link hashProposal}`(proposal)`; computed when omitted. */
  readonly proposalHash?: string;
  /** The replicas in protocol order (the primary of view v is `replicas[v mod n]`). */
  readonly replicas: readonly Voter[];
  /** Checks a message's signature against its sender's registered key. */
  readonly verify: Verifier;
  /**
   * When the round stops watching (ms since the epoch). Defaults to
   * `proposal.deadline`; a little later lets a certificate whose last
   * commits were in flight at the deadline still count.
   */
  readonly closesAt?: number;
}

/** What became of a message handed to {@link PbftRound.step}. */
export type PbftRoundReceipt =
  | { readonly accepted: true; readonly outcome?: Outcome }
  | {
      readonly accepted: false;
      readonly reason: string;
      readonly evidence?: ByzantineEvidence;
    };

/** The coordinator's watch over one PBFT decision. Create with {@link createPbftRound}. */
export interface PbftRound {
  readonly proposal: Proposal;
  readonly proposalHash: string;
  /** {@link pbftDigest} of the proposal: what the commits must carry. */
  readonly digest: string;
  readonly size: PbftRoundSize;
  readonly closesAt: number;
  /** Offers a PBFT message or a `consensus.vote` refusal received at `now`. Never throws. */
  step(envelope: Envelope, now: number): PbftRoundReceipt;
  /** Advances time; at or after `closesAt` an undecided round ends `no-quorum`. */
  tick(now: number): RoundResult | undefined;
  result(): RoundResult | undefined;
}

/**
 * Starts watching a PBFT decision. With fewer than
 * {@link PBFT_MIN_REPLICAS} replicas it is decided at once: `no-quorum`,
 * with the reason.
 *
 * @example
 * ```ts
 * const round = createPbftRound({ proposal, replicas, verify });
 * transport.subscribe(`${swarm}.consensus.pbft.${proposal.id}`, (m) => round.step(decodeEnvelope(m.data), clock.now()));
 * const result = round.tick(clock.now()); // sealDecision(result, prevSeal) once defined
 * ```
 */
export function createPbftRound(config: PbftRoundConfig): PbftRound {
  return new PbftRoundImpl(config);
}

type Counted = { readonly envelope: Envelope; readonly body: VoteBody };

class PbftRoundImpl implements PbftRound {
  readonly proposal: Proposal;
  readonly proposalHash: string;
  readonly digest: string;
  readonly size: PbftRoundSize;
  readonly closesAt: number;
  readonly #verify: Verifier;
  readonly #ids: readonly string[];
  readonly #position: ReadonlyMap<string, number>;
  readonly #seen = new Set<string>();
  readonly #prePrepares = new Map<string, Envelope<PbftPrePrepareBody>>();
  readonly #votes = new Map<string, Envelope<PbftVoteBody>>();
  readonly #viewMessages = new Map<string, Envelope>();
  /** Commits for this proposal's digest, by `view:seq`, then by sender. */
  readonly #commits = new Map<string, Map<string, Envelope<PbftVoteBody>>>();
  readonly #refusals = new Map<string, Counted>();
  readonly #evidence = new EvidenceLog();
  #certificate: readonly Envelope[] | undefined;
  #result: RoundResult | undefined;

  constructor(config: PbftRoundConfig) {
    this.proposal = config.proposal;
    this.proposalHash = config.proposalHash ?? hashProposal(config.proposal);
    this.digest = pbftDigest(config.proposal);
    this.closesAt = config.closesAt ?? config.proposal.deadline;
    this.#verify = config.verify;
    this.#ids = config.replicas.map((r) => r.id);
    this.#position = new Map(this.#ids.map((id, i) => [id, i]));
    this.size = pbftRoundSize(this.#ids.length);
    const tooFew = pbftTooFew(this.#ids.length);
    if (tooFew !== undefined) this.#decide("no-quorum", config.proposal.ts, tooFew);
  }

  step(envelope: Envelope, now: number): PbftRoundReceipt {
    if (this.#result !== undefined) return { accepted: false, reason: "already decided" };
    if (now >= this.closesAt) {
      this.tick(now);
      return { accepted: false, reason: "the round has closed" };
    }
    if (
      !isRecord(envelope) ||
      typeof envelope.id !== "string" ||
      typeof envelope.type !== "string" ||
      typeof envelope.from !== "string"
    ) {
      return { accepted: false, reason: "not an envelope with id, type and from" };
    }
    const from = envelope.from;
    const isPbft = PBFT_TYPES.has(envelope.type);
    if (!isPbft && envelope.type !== VOTE_TYPE) {
      return { accepted: false, reason: `type ${envelope.type} has no part in a PBFT decision` };
    }
    if (!this.#position.has(from)) {
      return this.#accuse("unknown-voter", from, `"${from}" is not a replica of this decision`, [
        envelope,
      ]);
    }
    if (!this.#verified(envelope)) {
      return this.#accuse(
        "bad-signature",
        from,
        `envelope ${envelope.id} (${envelope.type}) is not signed by "${from}"; whoever sent it forged the sender or altered the message`,
        [envelope],
      );
    }
    if (this.#seen.has(envelope.id)) {
      return this.#accuse(
        "replay",
        from,
        `envelope ${envelope.id} (${envelope.type}) arrived again; "${from}" signed it, but anyone may have replayed it`,
        [envelope],
      );
    }
    this.#seen.add(envelope.id);
    const receipt = isPbft ? this.#onPbft(envelope) : this.#onRefusal(envelope);
    if (!receipt.accepted) return receipt;
    const outcome = this.#outcome(false);
    if (outcome === undefined) return receipt;
    this.#decide(outcome, now);
    return { accepted: true, outcome };
  }

  tick(now: number): RoundResult | undefined {
    if (this.#result === undefined && now >= this.closesAt) {
      this.#decide(this.#outcome(true) ?? "no-quorum", now);
    }
    return this.#result;
  }

  result(): RoundResult | undefined {
    return this.#result;
  }

  #onPbft(envelope: Envelope): PbftRoundReceipt {
    const from = envelope.from;
    const body = envelope.body;
    switch (envelope.type) {
      case PBFT_MESSAGE_TYPES.prePrepare: {
        if (!isPrePrepareBody(body)) return this.#malformed(envelope);
        const message = envelope as Envelope<PbftPrePrepareBody>;
        const primary = this.#primaryOf(body.view);
        if (from !== primary) {
          return this.#accuse(
            "out-of-view",
            from,
            `"${from}" signed a pre-prepare for view ${body.view}, whose primary is "${primary}"`,
            [envelope],
          );
        }
        if (safeDigest(body.proposal) !== body.digest) {
          return this.#accuse(
            "wrong-proposal",
            from,
            `pre-prepare for seq ${body.seq} in view ${body.view} carries a digest that is not its proposal's`,
            [envelope],
          );
        }
        const key = `${body.view}:${body.seq}`;
        const known = this.#prePrepares.get(key);
        if (known !== undefined && known.body.digest !== body.digest) {
          return this.#accuse(
            "equivocation",
            from,
            `primary "${from}" signed two pre-prepares for view ${body.view}, seq ${body.seq} with different proposals`,
            [known, envelope],
          );
        }
        if (known === undefined) this.#prePrepares.set(key, message);
        return { accepted: true };
      }
      case PBFT_MESSAGE_TYPES.prepare:
      case PBFT_MESSAGE_TYPES.commit: {
        if (!isVoteBody(body)) return this.#malformed(envelope);
        const message = envelope as Envelope<PbftVoteBody>;
        const kind = envelope.type === PBFT_MESSAGE_TYPES.commit ? "commit" : "prepare";
        const key = `${kind}:${body.view}:${body.seq}:${from}`;
        const known = this.#votes.get(key);
        if (known !== undefined && known.body.digest !== body.digest) {
          return this.#accuse(
            "equivocation",
            from,
            `"${from}" signed two ${kind}s for view ${body.view}, seq ${body.seq} with different digests`,
            [known, envelope],
          );
        }
        if (known === undefined) this.#votes.set(key, message);
        if (kind === "commit" && body.digest === this.digest) {
          const slot = `${body.view}:${body.seq}`;
          let group = this.#commits.get(slot);
          if (group === undefined) {
            group = new Map();
            this.#commits.set(slot, group);
          }
          if (!group.has(from)) group.set(from, message);
          if (group.size >= this.size.quorum && this.#certificate === undefined) {
            this.#certificate = this.#inReplicaOrder([...group.values()]).slice(
              0,
              this.size.quorum,
            );
          }
        }
        return { accepted: true };
      }
      case PBFT_MESSAGE_TYPES.viewChange:
      case PBFT_MESSAGE_TYPES.newView: {
        const newView = envelope.type === PBFT_MESSAGE_TYPES.newView;
        if (!(newView ? isNewViewBody(body) : isViewChangeBody(body))) {
          return this.#malformed(envelope);
        }
        const view = (body as { view: number }).view;
        if (newView && from !== this.#primaryOf(view)) {
          return this.#accuse(
            "out-of-view",
            from,
            `"${from}" signed a new-view for view ${view}, whose primary is "${this.#primaryOf(view)}"`,
            [envelope],
          );
        }
        const key = `${envelope.type}:${view}:${from}`;
        const known = this.#viewMessages.get(key);
        if (known !== undefined) {
          return this.#accuse(
            "equivocation",
            from,
            `"${from}" signed two different ${newView ? "new-views" : "view-changes"} for view ${view}`,
            [known, envelope],
          );
        }
        this.#viewMessages.set(key, envelope);
        if (!newView) this.#adoptCertificates(envelope);
        return { accepted: true };
      }
      default:
        return { accepted: false, reason: `unexpected type ${envelope.type}` };
    }
  }

  /**
   * A view-change carries commit certificates for what its sender
   * committed: one for this proposal decides the round even if some of the
   * commits themselves never reached the coordinator.
   */
  #adoptCertificates(envelope: Envelope): void {
    if (this.#certificate !== undefined) return;
    const committed = (envelope.body as { committed: readonly unknown[] }).committed;
    for (const certificate of committed) {
      if (!isRecord(certificate) || !Array.isArray(certificate.commits)) continue;
      const check = verifyPbftCertificate(certificate.commits as Envelope[], {
        replicas: this.#ids.map((id) => ({ id, weight: 1, role: "replica" })),
        f: this.size.f,
        verify: (e) => this.#verified(e),
      });
      if (check.ok && check.digest === this.digest) {
        this.#certificate = this.#inReplicaOrder(
          certificate.commits as Envelope<PbftVoteBody>[],
        ).slice(0, this.size.quorum);
        return;
      }
    }
  }

  #onRefusal(envelope: Envelope): PbftRoundReceipt {
    const from = envelope.from;
    const body = parseVoteBody(envelope.body);
    if (typeof body === "string") {
      return this.#accuse("wrong-proposal", from, `vote ${envelope.id}: ${body}`, [envelope]);
    }
    if (body.proposal !== this.proposal.id) {
      // Signed for another round and put on this one's subject, by anyone
      // who saw it: refused, but no proof its signer did wrong.
      return { accepted: false, reason: `vote ${envelope.id} is for proposal ${body.proposal}` };
    }
    if (body.proposalHash !== this.proposalHash) {
      return this.#accuse(
        "wrong-proposal",
        from,
        `vote ${envelope.id} is for another version of this proposal`,
        [envelope],
      );
    }
    const prior = this.#refusals.get(from);
    if (prior !== undefined) {
      const { evidence } = secondVoteEvidence(
        from,
        prior.envelope,
        envelope,
        prior.body.choice === body.choice,
        "vote",
      );
      return this.#keep(evidence);
    }
    if (body.choice === "approve") {
      // In PBFT an approval is a prepare and a commit; a vote only says no.
      return { accepted: false, reason: "in a PBFT decision a consensus.vote only refuses" };
    }
    this.#refusals.set(from, { envelope, body });
    return { accepted: true };
  }

  #outcome(deadlinePassed: boolean): Outcome | undefined {
    const counts = this.#counts();
    return pbftOutcome(
      this.size,
      { commits: this.#certificate?.length ?? 0, ...counts },
      deadlinePassed,
    );
  }

  #counts(): { reject: number; abstain: number } {
    let reject = 0;
    let abstain = 0;
    for (const { body } of this.#refusals.values()) {
      if (body.choice === "reject") reject++;
      else abstain++;
    }
    return { reject, abstain };
  }

  /** The commits the record keeps: the certificate, or the largest group for this digest. */
  #commitRecord(): readonly Envelope[] {
    if (this.#certificate !== undefined) return this.#certificate;
    let best: Envelope<PbftVoteBody>[] = [];
    for (const group of this.#commits.values()) {
      if (group.size > best.length) best = [...group.values()];
    }
    return this.#inReplicaOrder(best);
  }

  #decide(outcome: Outcome, now: number, reason?: string): void {
    const commits = outcome === "no-quorum" && reason !== undefined ? [] : this.#commitRecord();
    const refusals = this.#inReplicaOrder([...this.#refusals.values()].map((r) => r.envelope));
    const { reject, abstain } = this.#counts();
    const tally: Tally = {
      approve: commits.length,
      reject,
      abstain,
      threshold: this.size.quorum,
      total: this.size.n,
    };
    this.#result = {
      proposal: this.proposal,
      protocol: "pbft",
      proposalHash: this.proposalHash,
      votes: [...commits, ...refusals],
      tally,
      outcome,
      evidence: this.#evidence.list(),
      decidedAt: now,
      ...(reason === undefined ? {} : { reason }),
    };
  }

  #malformed(envelope: Envelope): PbftRoundReceipt {
    return this.#accuse(
      "wrong-proposal",
      envelope.from,
      `"${envelope.from}" signed a ${envelope.type} with a malformed body`,
      [envelope],
    );
  }

  #accuse(
    kind: ByzantineEvidence["kind"],
    agent: string,
    detail: string,
    messages: readonly Envelope[],
  ): PbftRoundReceipt {
    return this.#keep({ kind, agent, detail, messages });
  }

  /** Refuses with `evidence`, reported only when the round keeps it (not a repeat, within bounds). */
  #keep(evidence: ByzantineEvidence): PbftRoundReceipt {
    const kept = this.#evidence.add(evidence);
    return {
      accepted: false,
      reason: evidence.detail,
      ...(kept === undefined ? {} : { evidence }),
    };
  }

  #verified(envelope: Envelope): boolean {
    try {
      return this.#verify(envelope) === true;
    } catch {
      return false;
    }
  }

  #primaryOf(view: number): string {
    return this.#ids[view % this.#ids.length] as string;
  }

  #inReplicaOrder<T extends { readonly from: string }>(items: readonly T[]): T[] {
    const position = this.#position;
    return [...items].sort((a, b) => (position.get(a.from) ?? 0) - (position.get(b.from) ?? 0));
  }
}

const PBFT_TYPES: ReadonlySet<string> = new Set(Object.values(PBFT_MESSAGE_TYPES));

function safeDigest(proposal: Proposal | null): string | undefined {
  try {
    return pbftDigest(proposal);
  } catch {
    return undefined;
  }
}

/** What {@link auditPbftRecord} checks a record against. */
export interface PbftAuditOptions {
  /** The replicas (the proposal's voters); order does not matter here. */
  readonly replicas: readonly Voter[];
  /** Returns why `envelope`'s signature is not acceptable, or undefined if it is. */
  readonly checkSignature: (envelope: Envelope) => string | undefined;
}

/**
 * Recomputes a PBFT decision offline (the `pbft` rule of `verifyDecision`):
 * every commit in `votes` is signed by a distinct replica, all for one view
 * and sequence number and for the proposal's digest; every refusal is a
 * signed `consensus.vote` (`reject` or `abstain`) for this proposal and hash,
 * one per replica; the tally and the outcome are what {@link pbftOutcome}
 * gives from them at `decidedAt`. An `approved` record therefore holds a
 * commit certificate: 2f + 1 commits on the same digest.
 */
export function auditPbftRecord(
  record: {
    readonly proposal: Proposal;
    readonly votes: readonly Envelope[];
    readonly tally: Tally;
    readonly outcome: Outcome;
    readonly decidedAt: number;
  },
  options: PbftAuditOptions,
): string | undefined {
  const ids = new Set(options.replicas.map((r) => r.id));
  const size = pbftRoundSize(ids.size);
  const digest = pbftDigest(record.proposal);
  const proposalHash = hashProposal(record.proposal);
  const commitSigners = new Set<string>();
  const refusers = new Set<string>();
  const envelopeIds = new Set<string>();
  let slot: PbftVoteBody | undefined;
  let reject = 0;
  let abstain = 0;
  for (let i = 0; i < record.votes.length; i++) {
    const envelope = record.votes[i] as Envelope;
    const what = `entry #${i} of votes (${String(envelope?.id)} from ${String(envelope?.from)})`;
    if (!isRecord(envelope)) return `${what} is not an envelope`;
    if (envelopeIds.has(envelope.id)) return `${what} appears twice in the record`;
    envelopeIds.add(envelope.id);
    if (!ids.has(envelope.from)) return `${what}: ${envelope.from} is not a replica`;
    const bad = options.checkSignature(envelope);
    if (bad !== undefined) return `${what}: ${bad}`;
    if (envelope.type === PBFT_MESSAGE_TYPES.commit) {
      const body = envelope.body;
      if (!isVoteBody(body)) return `${what} is a commit with a malformed body`;
      if (body.digest !== digest) return `${what} commits to another proposal's digest`;
      if (slot === undefined) slot = body;
      else if (body.view !== slot.view || body.seq !== slot.seq) {
        return `${what} is for view ${body.view}, seq ${body.seq}; the other commits are for view ${slot.view}, seq ${slot.seq}`;
      }
      if (commitSigners.has(envelope.from))
        return `${what} is a second commit from ${envelope.from}`;
      commitSigners.add(envelope.from);
    } else if (envelope.type === VOTE_TYPE) {
      const body = parseVoteBody(envelope.body);
      if (typeof body === "string") return `${what}: ${body}`;
      if (body.proposal !== record.proposal.id || body.proposalHash !== proposalHash) {
        return `${what} is for another proposal (or another version of it)`;
      }
      if (body.choice === "approve") return `${what} approves; in PBFT only commits approve`;
      if (refusers.has(envelope.from)) return `${what} is a second refusal from ${envelope.from}`;
      refusers.add(envelope.from);
      if (body.choice === "reject") reject++;
      else abstain++;
    } else {
      return `${what} is a ${String(envelope.type)}, neither a commit nor a refusal`;
    }
  }
  const deadlinePassed = record.decidedAt >= record.proposal.deadline;
  const outcome = pbftOutcome(
    size,
    { commits: commitSigners.size, reject, abstain },
    deadlinePassed,
  );
  if (outcome === undefined) {
    return `the decision was sealed at ${record.decidedAt}, while the outcome was still open (the deadline is ${record.proposal.deadline})`;
  }
  if (outcome !== record.outcome) {
    return `the commits and refusals give ${outcome}, the decision says ${record.outcome}`;
  }
  const tally: Tally = {
    approve: commitSigners.size,
    reject,
    abstain,
    threshold: size.quorum,
    total: size.n,
  };
  const recorded = record.tally;
  if (
    recorded === null ||
    typeof recorded !== "object" ||
    recorded.approve !== tally.approve ||
    recorded.reject !== tally.reject ||
    recorded.abstain !== tally.abstain ||
    recorded.threshold !== tally.threshold ||
    recorded.total !== tally.total
  ) {
    return `the record gives the tally ${JSON.stringify(tally)}, the decision says ${JSON.stringify(recorded)}`;
  }
  return undefined;
}
