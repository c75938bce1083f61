/**
 * Votes cast by people. A proposal whose rule lists human voters (role
 * `human`, with the public key from the swarm file) waits for them until
 * its deadline. A person votes from the dashboard or with `conclave
 * approve`: the vote is an ordinary `consensus.vote` envelope signed with
 * their Ed25519 key — in the browser (WebCrypto; the key never leaves it) or
 * by the CLI — checked here and published on the proposal's vote subject,
 * where the coordinator counts it like any agent's.
 */

import { HUMAN_ROLE, type RuleVoter, type RuntimeProposal } from "../../consensus/rule.js";
import type { VoteBody } from "../../consensus/types.js";
import {
  hashProposal,
  parseVoteBody,
  VOTE_REASON_MAX_LENGTH,
  VOTE_TYPE,
} from "../../consensus/vote.js";
import type { Clock } from "../../core/clock.js";
import { VoteRefusedError } from "../../errors/index.js";
import { decodePublicKey } from "../../identity/keys.js";
import { createEnvelope, type Envelope, parseEnvelope } from "../../wire/envelope.js";
import { signingBytes, verifyEnvelope } from "../../wire/signature.js";

/** Store meta key under which a proposal awaiting people is kept, for `conclave approve` on other machines. */
export const awaitingKey = (proposalId: string) => `consensus.awaiting.${proposalId}`;

/** A proposal open for people's votes. */
export interface AwaitingHumans {
  readonly proposal: RuntimeProposal;
  /** The people who may vote on it. */
  readonly humans: readonly RuleVoter[];
}

/** The human voters of a proposal's rule. */
export function humanVoters(proposal: RuntimeProposal): RuleVoter[] {
  return proposal.rule.voters.filter((v) => v.role === HUMAN_ROLE);
}

/**
 * The unsigned vote of person `human` on `proposal`, and the exact bytes
 * they must sign (Ed25519) — what the dashboard hands the browser.
 */
export function humanBallot(
  proposal: RuntimeProposal,
  human: string,
  choice: "approve" | "reject",
  clock: Clock,
  reason?: string,
): { readonly envelope: Envelope<VoteBody>; readonly signingInput: string } {
  if (!humanVoters(proposal).some((v) => v.id === human)) {
    throw new VoteRefusedError(
      `${human} is not a human voter of proposal ${proposal.id} (${proposal.action}); its human voters: ${
        humanVoters(proposal)
          .map((v) => v.id)
          .join(", ") || "none"
      }`,
    );
  }
  // Kept whole, as the coordinator counts it: a cut reason could split a character in two.
  if (reason !== undefined && reason.length > VOTE_REASON_MAX_LENGTH) {
    throw new VoteRefusedError(
      `the reason is ${reason.length} characters; a vote's reason may be at most ${VOTE_REASON_MAX_LENGTH}: shorten it`,
    );
  }
  const body: VoteBody = {
    proposal: proposal.id,
    proposalHash: hashProposal(proposal),
    choice,
    ...(reason ? { reason } : {}),
  };
  const envelope = createEnvelope(
    { type: VOTE_TYPE, from: human, corr: proposal.id, body },
    { clock },
  );
  return { envelope, signingInput: Buffer.from(signingBytes(envelope)).toString("base64url") };
}

/**
 * Checks a person's signed vote on `proposal` before it goes on the bus: a
 * vote envelope from one of its human voters, with a well-formed body (a
 * valid choice, a reason of at most `VOTE_REASON_MAX_LENGTH` characters: what
 * the coordinator would count), on this very proposal (by hash), signed with
 * that person's key, before the deadline.
 * @throws VoteRefusedError saying which.
 */
export function checkHumanVote(proposal: RuntimeProposal, vote: unknown, now: number): Envelope {
  let envelope: Envelope;
  try {
    envelope = parseEnvelope(vote);
  } catch (error) {
    throw new VoteRefusedError(`the vote is not a valid envelope: ${(error as Error).message}`);
  }
  const voter = humanVoters(proposal).find((v) => v.id === envelope.from);
  if (envelope.type !== VOTE_TYPE || voter === undefined) {
    throw new VoteRefusedError(
      `expected a ${VOTE_TYPE} from one of ${humanVoters(proposal)
        .map((v) => v.id)
        .join(", ")}, got ${envelope.type} from ${envelope.from}`,
    );
  }
  const body = parseVoteBody(envelope.body);
  if (typeof body === "string") {
    throw new VoteRefusedError(
      `the vote's body is malformed and would not be counted: ${body}; fix it and sign the vote again`,
    );
  }
  if (body.proposal !== proposal.id || body.proposalHash !== hashProposal(proposal)) {
    throw new VoteRefusedError(`the vote is not on proposal ${proposal.id} as proposed`);
  }
  if (now >= proposal.deadline) {
    throw new VoteRefusedError(
      `proposal ${proposal.id} closed at ${new Date(proposal.deadline).toISOString()}`,
    );
  }
  try {
    verifyEnvelope(envelope, decodePublicKey(voter.publicKey));
  } catch {
    throw new VoteRefusedError(
      `the vote is not signed with ${voter.id}'s key (the one the swarm file gives under humans); sign with their key file`,
    );
  }
  return envelope;
}

/** A set that forgets its oldest members past `limit`: the proposals with human voters known to be decided. */
export class BoundedSet {
  readonly #items = new Set<string>();
  constructor(readonly limit: number) {}
  add(item: string): void {
    this.#items.add(item);
    if (this.#items.size > this.limit)
      this.#items.delete(this.#items.values().next().value as string);
  }
  has(item: string): boolean {
    return this.#items.has(item);
  }
}
