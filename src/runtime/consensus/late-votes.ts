/**
 * Votes that arrive after their round closed (a round decided as soon as
 * its threshold was met, or at its deadline). They changed nothing — the
 * decision is sealed — but they are not dropped silently: a coordinator
 * keeps each valid late vote once (per proposal and voter), signed as it
 * came, in the store's meta table under `consensus.late.<proposal>`, and
 * emits `consensus.late_vote`, so an auditor sees who voted what and how
 * late. They stay out of the audit chain, which holds decisions. Garbage (a
 * bad signature, a voter not in the rule) goes to the dead-letter queue like
 * any bad input.
 */

import type { RuntimeProposal } from "../../consensus/rule.js";
import { hashProposal, parseVoteBody, VOTE_TYPE } from "../../consensus/vote.js";
import { SignatureError } from "../../errors/index.js";
import { decodePublicKey } from "../../identity/keys.js";
import type { Store } from "../../store/port.js";
import type { Envelope } from "../../wire/envelope.js";
import { verifyEnvelope } from "../../wire/signature.js";

/** Store meta key of the late votes on a proposal (a JSON list of {@link LateVote}). */
export const lateVotesKey = (proposalId: string) => `consensus.late.${proposalId}`;

/** What is kept of a late vote: the signed vote itself, and when it came. */
export interface LateVote {
  readonly proposal: string;
  readonly action: string;
  readonly voter: string;
  readonly choice: string;
  /** How long after the round closed it arrived, in ms. */
  readonly lateByMs: number;
  readonly vote: Envelope;
}

/** A closed round as remembered here: what its late votes are checked against. */
interface ClosedRound {
  readonly proposal: RuntimeProposal;
  readonly hash: string;
  readonly closedAt: number;
  /** The votes the round counted, by `id/sig`: a copy of one is not a late vote. */
  readonly counted: ReadonlySet<string>;
}

/** Names a signed envelope as received: its id and signature. */
const copyKey = (envelope: Envelope) => `${String(envelope.id)}/${String(envelope.sig)}`;

/** Rounds this node coordinated and closed, remembered (bounded) to recognise their late votes. */
export class LateVotes {
  readonly #closed = new Map<string, ClosedRound>();
  readonly #recorded = new Set<string>();
  #writes: Promise<unknown> = Promise.resolve();

  constructor(readonly limit = 1000) {}

  /** Round `proposal` closed at `at`, having counted `counted` (its decision's votes). */
  closed(proposal: RuntimeProposal, at: number, counted: readonly Envelope[] = []): void {
    this.#closed.set(proposal.id, {
      proposal,
      hash: hashProposal(proposal),
      closedAt: at,
      counted: new Set(counted.map(copyKey)),
    });
    if (this.#closed.size > this.limit)
      this.#closed.delete(this.#closed.keys().next().value as string);
  }

  isClosedHere(proposalId: string): boolean {
    return this.#closed.has(proposalId);
  }

  /**
   * The late vote to record, or undefined when there is nothing to record
   * (already recorded for this voter, a copy of a vote the round counted,
   * or not a vote on the closed round as proposed).
   * @throws SignatureError when the vote is signed by someone else than a
   *   voter of the rule (bad input).
   */
  take(proposalId: string, envelope: Envelope, now: number): LateVote | undefined {
    const closed = this.#closed.get(proposalId);
    if (closed === undefined || envelope.type !== VOTE_TYPE) return undefined;
    const voter = closed.proposal.rule.voters.find((v) => v.id === envelope.from);
    if (voter === undefined) {
      throw new SignatureError(
        `a late vote on ${proposalId} from ${envelope.from}, who is not a voter of its rule; only its voters' late votes are kept`,
      );
    }
    verifyEnvelope(envelope, decodePublicKey(voter.publicKey));
    // Counted in time: a copy of it, however late, says nothing new.
    if (closed.counted.has(copyKey(envelope))) return undefined;
    const body = parseVoteBody(envelope.body);
    if (typeof body === "string") return undefined;
    if (body.proposal !== proposalId || body.proposalHash !== closed.hash) return undefined;
    const key = `${proposalId}:${voter.id}`;
    if (this.#recorded.has(key)) return undefined;
    this.#recorded.add(key);
    if (this.#recorded.size > this.limit * 10)
      this.#recorded.delete(this.#recorded.values().next().value as string);
    return {
      proposal: proposalId,
      action: closed.proposal.action,
      voter: voter.id,
      choice: body.choice,
      lateByMs: Math.max(0, now - closed.closedAt),
      vote: envelope,
    };
  }

  /**
   * Appends a late vote to the list kept in the store under
   * {@link lateVotesKey}. One writer per proposal (its coordinator), one
   * write at a time: writes run in the order asked.
   */
  record(store: Store, late: LateVote): Promise<void> {
    const write = async () => {
      const key = lateVotesKey(late.proposal);
      const kept = JSON.parse((await store.getMeta(key)) ?? "[]") as LateVote[];
      await store.setMeta(key, JSON.stringify([...kept, late]));
    };
    const next = this.#writes.then(write, write);
    this.#writes = next.catch(() => undefined);
    return next;
  }
}
