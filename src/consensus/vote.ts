/**
 * Votes on the wire: a vote is a signed `consensus.vote` envelope whose body
 * is a {@link VoteBody}. This module builds, parses and hashes them; the
 * rounds decide whether to count them.
 */
import type { KeyObject } from "node:crypto";
import { sha256Canonical } from "../wire/canonical.js";
import type { CreateEnvelopeOptions, Envelope } from "../wire/envelope.js";
import { createSignedEnvelope, verifierFromKeyTable } from "../wire/signature.js";
import type { Proposal, Verifier, VoteBody, VoteChoice } from "./types.js";

/** Envelope `type` of a voter's vote. */
export const VOTE_TYPE = "consensus.vote";

/** Envelope `type` of a representative's vote on behalf of its cluster (hierarchical protocol). */
export const CLUSTER_VOTE_TYPE = "consensus.cluster-vote";

const VOTE_CHOICES: ReadonlySet<string> = new Set<VoteChoice>(["approve", "reject", "abstain"]);
const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Longest `reason` a vote may carry, in UTF-16 code units. */
export const VOTE_REASON_MAX_LENGTH = 4096;

/**
 * The hash a vote names its proposal by (`VoteBody.proposalHash`): SHA-256
 * hex over the canonical JSON of the whole proposal. A vote for a proposal
 * whose data changed after the vote was cast does not count.
 *
 * @example
 * ```ts
 * const body: VoteBody = { proposal: p.id, proposalHash: hashProposal(p), choice: "approve" };
 * ```
 */
export function hashProposal(proposal: Proposal): string {
  return sha256Canonical(proposal);
}

/**
 * How a cluster vote refers to a member's vote: SHA-256 hex over the
 * canonical JSON of the complete signed envelope, `sig` included.
 */
export function envelopeHash(envelope: Envelope): string {
  return sha256Canonical(envelope);
}

/** True for 64 lower-case hex characters. */
export function isSha256Hex(value: unknown): value is string {
  return typeof value === "string" && SHA256_HEX.test(value);
}

/** True for `"approve"`, `"reject"` and `"abstain"`. */
export function isVoteChoice(value: unknown): value is VoteChoice {
  return typeof value === "string" && VOTE_CHOICES.has(value);
}

/**
 * Reads a vote body. Returns the body, or a string saying what is wrong.
 * Unknown fields are ignored (they are still covered by the signature).
 */
export function parseVoteBody(body: unknown): VoteBody | string {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return "the body must be an object { proposal, proposalHash, choice, reason? }";
  }
  const record = body as Record<string, unknown>;
  if (typeof record["proposal"] !== "string") return "body.proposal must be the proposal id";
  if (!isSha256Hex(record["proposalHash"])) {
    return "body.proposalHash must be 64 lower-case hex characters (SHA-256 of the canonical proposal)";
  }
  if (!isVoteChoice(record["choice"])) {
    return 'body.choice must be "approve", "reject" or "abstain"';
  }
  const reason = record["reason"];
  if (
    reason !== undefined &&
    (typeof reason !== "string" || reason.length > VOTE_REASON_MAX_LENGTH)
  ) {
    return `body.reason must be a string of at most ${VOTE_REASON_MAX_LENGTH} characters`;
  }
  const parsed: VoteBody = {
    proposal: record["proposal"],
    proposalHash: record["proposalHash"],
    choice: record["choice"],
  };
  return reason === undefined ? parsed : { ...parsed, reason };
}

/** What {@link createVote} needs. */
export interface CreateVoteOptions {
  readonly proposal: Proposal;
  /** Defaults to {@link hashProposal}`(proposal)`; pass it when voting many times on one proposal. */
  readonly proposalHash?: string;
  /** The voter's agent id. */
  readonly from: string;
  readonly choice: VoteChoice;
  readonly reason?: string;
  readonly privateKey: KeyObject;
}

/**
 * A signed `consensus.vote` envelope, correlated (`corr`) to the proposal id.
 *
 * @throws KeyError if the key is not an Ed25519 private key;
 *   InvalidEnvelopeError if a field is invalid (e.g. the agent id).
 *
 * @example
 * ```ts
 * const vote = createVote({ proposal, from: "auditor", choice: "approve", privateKey }, { clock });
 * round.step(vote, clock.now());
 * ```
 */
export function createVote(
  options: CreateVoteOptions,
  envelopeOptions?: CreateEnvelopeOptions,
): Envelope<VoteBody> {
  const body: VoteBody = {
    proposal: options.proposal.id,
    proposalHash: options.proposalHash ?? hashProposal(options.proposal),
    choice: options.choice,
    ...(options.reason === undefined ? {} : { reason: options.reason }),
  };
  return createSignedEnvelope(
    { type: VOTE_TYPE, from: options.from, corr: options.proposal.id, body },
    options.privateKey,
    envelopeOptions,
  );
}

/**
 * A {@link Verifier} backed by a table of public keys: true when the
 * envelope is signed by the registered key of its `from`. An agent without a
 * key (unknown, or revoked and removed) never verifies.
 *
 * @example
 * ```ts
 * const verify = verifierFromKeys(new Map([["auditor", keys.publicKey]]));
 * ```
 */
export function verifierFromKeys(
  keys: ReadonlyMap<string, KeyObject> | ((agent: string) => KeyObject | undefined),
): Verifier {
  return verifierFromKeyTable(keys);
}
