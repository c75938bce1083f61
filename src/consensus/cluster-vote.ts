/**
 * The cluster vote: how a representative reports its cluster's outcome one
 * level up in a hierarchical vote. A signed `consensus.cluster-vote`
 * envelope whose body names every vote the cluster counted (envelope id,
 * sender, SHA-256 of the signed envelope), so anyone holding those votes can
 * recompute the cluster's tally and outcome and catch a representative that
 * lies about them.
 */
import type { KeyObject } from "node:crypto";
import { canonicalize } from "../wire/canonical.js";
import type { CreateEnvelopeOptions, Envelope } from "../wire/envelope.js";
import { createSignedEnvelope } from "../wire/signature.js";
import type { ClusterNode, HierarchyPlan } from "./hierarchy-plan.js";
import type { Outcome, Tally, VoteChoice } from "./types.js";
import { CLUSTER_VOTE_TYPE, envelopeHash, isSha256Hex, isVoteChoice } from "./vote.js";

/** A reference to a counted vote inside a cluster vote. */
export interface VoteRef {
  /** The referenced envelope's `id`. */
  readonly id: string;
  /** The referenced envelope's `from`. */
  readonly from: string;
  /** SHA-256 hex over the canonical JSON of the whole signed envelope. */
  readonly hash: string;
}

/** The body of a `consensus.cluster-vote` envelope. */
export interface ClusterVoteBody {
  readonly proposal: string;
  /** SHA-256 hex of the canonical proposal, as in a vote. */
  readonly proposalHash: string;
  /** Id of the cluster reported on, `"<level>.<index>"`. */
  readonly cluster: string;
  /** Its level (0 = leaf clusters of voters). */
  readonly level: number;
  /** The cluster's outcome. */
  readonly outcome: Outcome;
  /** The vote it casts one level up: approve ← approved, reject ← rejected or vetoed, abstain ← no-quorum. */
  readonly choice: VoteChoice;
  /** The cluster's weight (all voters below it), what the vote counts for one level up. */
  readonly weight: number;
  /** The cluster's own tally (member weights). */
  readonly tally: Tally;
  /** Every vote the cluster counted (level 0: voters' votes; above: child cluster votes), sorted by `from`, then `id`. */
  readonly votes: readonly VoteRef[];
  /** When the cluster's round was decided (ms since the epoch). */
  readonly decidedAt: number;
}

/** The choice a cluster casts one level up for its outcome. */
export function choiceForOutcome(outcome: Outcome): VoteChoice {
  if (outcome === "approved") return "approve";
  if (outcome === "no-quorum") return "abstain";
  return "reject";
}

const OUTCOMES: ReadonlySet<string> = new Set<Outcome>([
  "approved",
  "rejected",
  "vetoed",
  "no-quorum",
]);

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}

/**
 * Reads a cluster vote body. Returns a normalised body (only the known
 * fields), or a string saying what is wrong.
 */
export function parseClusterVoteBody(body: unknown): ClusterVoteBody | string {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return "the body must be an object";
  }
  const b = body as Record<string, unknown>;
  if (typeof b["proposal"] !== "string") return "body.proposal must be the proposal id";
  if (!isSha256Hex(b["proposalHash"]))
    return "body.proposalHash must be 64 lower-case hex characters";
  if (typeof b["cluster"] !== "string") return "body.cluster must be a cluster id";
  const level = b["level"];
  if (typeof level !== "number" || !Number.isInteger(level) || level < 0) {
    return "body.level must be an integer ≥ 0";
  }
  const outcome = b["outcome"];
  if (typeof outcome !== "string" || !OUTCOMES.has(outcome)) {
    return "body.outcome must be approved, rejected, vetoed or no-quorum";
  }
  const choice = b["choice"];
  if (!isVoteChoice(choice) || choice !== choiceForOutcome(outcome as Outcome)) {
    return `body.choice must be "${choiceForOutcome(outcome as Outcome)}" for outcome ${outcome}`;
  }
  if (!isCount(b["weight"])) return "body.weight must be a number ≥ 0";
  const t = b["tally"];
  if (typeof t !== "object" || t === null) return "body.tally must be a tally object";
  const tr = t as Record<string, unknown>;
  for (const key of ["approve", "reject", "abstain", "threshold", "total"]) {
    if (!isCount(tr[key])) return `body.tally.${key} must be a number ≥ 0`;
  }
  const refs = b["votes"];
  if (!Array.isArray(refs)) return "body.votes must be an array of { id, from, hash }";
  const votes: VoteRef[] = [];
  for (const ref of refs) {
    if (typeof ref !== "object" || ref === null) return "body.votes entries must be objects";
    const r = ref as Record<string, unknown>;
    if (typeof r["id"] !== "string" || typeof r["from"] !== "string" || !isSha256Hex(r["hash"])) {
      return "body.votes entries must be { id, from, hash: SHA-256 hex }";
    }
    votes.push({ id: r["id"], from: r["from"], hash: r["hash"] });
  }
  const decidedAt = b["decidedAt"];
  if (typeof decidedAt !== "number" || !Number.isInteger(decidedAt) || decidedAt < 0) {
    return "body.decidedAt must be a time in ms since the epoch";
  }
  return {
    proposal: b["proposal"],
    proposalHash: b["proposalHash"],
    cluster: b["cluster"],
    level,
    outcome: outcome as Outcome,
    choice,
    weight: b["weight"],
    tally: {
      approve: tr["approve"] as number,
      reject: tr["reject"] as number,
      abstain: tr["abstain"] as number,
      threshold: tr["threshold"] as number,
      total: tr["total"] as number,
    },
    votes,
    decidedAt,
  };
}

/** References to counted votes, in the canonical order (by `from`, then `id`). */
export function voteRefs(votes: readonly Envelope[]): VoteRef[] {
  return votes
    .map((vote) => ({ id: vote.id, from: vote.from, hash: envelopeHash(vote) }))
    .sort((a, b) =>
      a.from < b.from ? -1 : a.from > b.from ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
    );
}

/**
 * The body a representative signs for a decided cluster.
 *
 * @example
 * ```ts
 * const body = clusterVoteBody(plan, node, { outcome, tally, votes, decidedAt });
 * ```
 */
export function clusterVoteBody(
  plan: HierarchyPlan,
  node: ClusterNode,
  result: {
    readonly outcome: Outcome;
    readonly tally: Tally;
    readonly votes: readonly Envelope[];
    readonly decidedAt: number;
  },
): ClusterVoteBody {
  return {
    proposal: plan.proposal.id,
    proposalHash: plan.proposalHash,
    cluster: node.id,
    level: node.level,
    outcome: result.outcome,
    choice: choiceForOutcome(result.outcome),
    weight: node.weight,
    tally: result.tally,
    votes: voteRefs(result.votes),
    decidedAt: result.decidedAt,
  };
}

/** True when two cluster vote bodies say the same thing (canonical JSON equality). */
export function sameClusterVote(a: ClusterVoteBody, b: ClusterVoteBody): boolean {
  return canonicalize(a) === canonicalize(b);
}

/**
 * A signed `consensus.cluster-vote` envelope from a representative.
 *
 * @example
 * ```ts
 * const vote = createClusterVote(decision.body, decision.representatives[0], keys.privateKey);
 * ```
 */
export function createClusterVote(
  body: ClusterVoteBody,
  from: string,
  privateKey: KeyObject,
  envelopeOptions?: CreateEnvelopeOptions,
): Envelope<ClusterVoteBody> {
  return createSignedEnvelope(
    { type: CLUSTER_VOTE_TYPE, from, corr: body.proposal, body },
    privateKey,
    envelopeOptions,
  );
}
