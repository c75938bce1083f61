/**
 * The PBFT replicas this node runs for its hosted voters: one per voter of a
 * `pbft` proposal, started from the voter's verdict, fed every message on
 * `<swarm>.consensus.pbft.<proposal>` (and those that came before the
 * proposal or the verdicts), ticked from the swarm clock until a while after
 * the deadline, their messages published and their commits reported.
 */
import { createPbftReplica, type PbftBody, type PbftReplica } from "../../consensus/pbft.js";
import type { PolicyVerdict } from "../../consensus/policy.js";
import type { Verifier } from "../../consensus/types.js";
import { hashProposal, VOTE_REASON_MAX_LENGTH } from "../../consensus/vote.js";
import type { Clock } from "../../core/clock.js";
import { toError } from "../../errors/index.js";
import type { Envelope } from "../../wire/envelope.js";
import { createSignedEnvelope } from "../../wire/signature.js";
import { consensusSubjects } from "../subjects.js";
import { type ConsensusContext, publish } from "./context.js";
import type { LocalVoter } from "./types.js";
import { castVote, type SeenProposal } from "./vote-casting.js";

/** Length of one PBFT tick: how often replicas are ticked from the swarm clock. */
export const PBFT_TICK_MS = 50;
/** Replicas keep running this long after the deadline (a late view change, then they stop). */
const PBFT_REPLICA_GRACE_MS = 1_000;
/** PBFT messages kept for a proposal not seen yet, or whose replicas are still deciding. */
const PBFT_EARLY_MAX = 512;
/** Proposals whose early PBFT messages are kept. */
const PBFT_EARLY_PROPOSALS = 64;

/**
 * Ticks without progress before a PBFT backup gives up on its primary: a
 * sixth of the proposal's window (at least 100 ms, at most 2 s), so that a
 * few view changes fit before the deadline.
 */
export function pbftViewChangeTicks(proposal: { ts: number; deadline: number }): number {
  const ms = Math.min(2_000, Math.max(100, Math.floor((proposal.deadline - proposal.ts) / 6)));
  return Math.max(2, Math.round(ms / PBFT_TICK_MS));
}

/** The hosted voters' PBFT replicas on one node. */
export class HostedReplicas {
  readonly #node: ConsensusContext;
  readonly #verify: Verifier;
  /** Asks the engine to schedule its next tick (replicas are ticked every {@link PBFT_TICK_MS}). */
  readonly #schedule: (now: number) => void;
  /** Proposals whose hosted PBFT replicas are running. */
  readonly #replicated = new Set<SeenProposal>();
  /** PBFT messages for proposals not seen yet, by proposal id (oldest first). */
  readonly #early = new Map<string, Envelope[]>();

  constructor(node: ConsensusContext, verify: Verifier, schedule: (now: number) => void) {
    this.#node = node;
    this.#verify = verify;
    this.#schedule = schedule;
  }

  /** Whether some replicas are running (they are ticked every {@link PBFT_TICK_MS}). */
  get running(): boolean {
    return this.#replicated.size > 0;
  }

  /** Whether PBFT messages on a proposal (undefined: not seen here yet) may be for replicas here. */
  wants(seen: SeenProposal | undefined): boolean {
    return seen === undefined || seen.replicas !== undefined || seen.early !== undefined;
  }

  /** The PBFT messages kept for a proposal before it was seen here; forgets them. */
  takeEarly(proposalId: string): Envelope[] | undefined {
    const early = this.#early.get(proposalId);
    this.#early.delete(proposalId);
    return early;
  }

  /**
   * Starts one PBFT replica per hosted voter of a `pbft` proposal, from its
   * verdict: approve takes part; reject or abstain stays silent in PBFT and
   * publishes the signed refusal instead; null (the handler cast nothing)
   * runs no replica at all, as a crashed one.
   */
  start(
    seen: SeenProposal,
    voters: readonly LocalVoter[],
    verdicts: readonly (PolicyVerdict | null)[],
  ): void {
    const node = this.#node;
    const { proposal, hash } = seen;
    const now = node.clock.now();
    const replicas = new Map<string, PbftReplica>();
    voters.forEach((voter, i) => {
      const verdict = verdicts[i];
      if (verdict === null || verdict === undefined) return;
      const approves = verdict.choice === "approve";
      if (approves) {
        node.events.emit({
          type: "consensus.voted",
          proposal: proposal.id,
          agent: voter.id,
          choice: "approve",
          reason: verdict.reasons.join("; ").slice(0, VOTE_REASON_MAX_LENGTH),
        });
      } else {
        castVote(node, seen, voter, verdict);
      }
      try {
        replicas.set(
          voter.id,
          createPbftReplica({
            id: voter.id,
            replicas: proposal.rule.voters,
            f: Math.max(0, Math.floor((proposal.rule.voters.length - 1) / 3)),
            sign: (fields, at) =>
              createSignedEnvelope<PbftBody>({ ...fields, corr: proposal.id }, voter.privateKey, {
                clock: fixedAt(at),
              }),
            verify: this.#verify,
            // A primary may only order this very proposal (same digest) in its instance.
            validate: (candidate) => approves && hashProposal(candidate) === hash,
            viewChangeTimeoutTicks: pbftViewChangeTicks(proposal),
            now,
          }),
        );
      } catch (error) {
        node.events.emit({
          type: "error",
          error: `${voter.id} cannot take part in PBFT on ${proposal.id}: ${toError(error).message}`,
        });
      }
    });
    const early = seen.early ?? [];
    seen.early = undefined;
    if (replicas.size === 0) return;
    seen.replicas = replicas;
    this.#replicated.add(seen);
    for (const replica of replicas.values()) {
      try {
        replica.propose(proposal, now);
      } catch (error) {
        node.events.emit({
          type: "error",
          error: `${replica.id} could not take proposal ${proposal.id}: ${toError(error).message}`,
        });
      }
      this.#flushReplica(seen, replica);
    }
    for (const envelope of early) this.#deliver(seen, envelope, now);
    this.#schedule(now);
  }

  /** A PBFT message on proposal `proposalId` (seen here as `seen`, if at all). */
  receive(
    proposalId: string,
    seen: SeenProposal | undefined,
    envelope: Envelope,
    now: number,
  ): void {
    if (seen?.replicas !== undefined) {
      this.#deliver(seen, envelope, now);
    } else if (seen?.early !== undefined) {
      if (seen.early.length < PBFT_EARLY_MAX) seen.early.push(envelope);
    } else if (seen === undefined) {
      // The proposal itself may still be on its way (another subject).
      let early = this.#early.get(proposalId);
      if (early === undefined) {
        if (this.#early.size >= PBFT_EARLY_PROPOSALS) {
          this.#early.delete(this.#early.keys().next().value as string);
        }
        early = [];
        this.#early.set(proposalId, early);
      }
      if (early.length < PBFT_EARLY_MAX) early.push(envelope);
    }
  }

  /** Hands a PBFT message to every hosted replica but its sender (its own broadcast comes back). */
  #deliver(seen: SeenProposal, envelope: Envelope, now: number): void {
    for (const replica of seen.replicas?.values() ?? []) {
      if (envelope.from === replica.id) continue;
      replica.step(envelope, now);
      this.#flushReplica(seen, replica);
    }
  }

  #flushReplica(seen: SeenProposal, replica: PbftReplica): void {
    if (!replica.hasReady()) return;
    // Evidence a replica sees is its own; the coordinator's round records what goes into the decision.
    const ready = replica.ready();
    for (const committed of ready.committed) {
      this.#node.events.emit({
        type: "consensus.committed",
        proposal: committed.proposal.id,
        agent: replica.id,
        view: committed.view,
        seq: committed.seq,
        digest: committed.digest,
      });
    }
    for (const { envelope } of ready.send) {
      try {
        publish(this.#node, consensusSubjects.pbft(this.#node.swarm, seen.proposal.id), envelope);
      } catch (error) {
        this.#node.events.emit({
          type: "error",
          error: `${replica.id} could not send a ${envelope.type} on ${seen.proposal.id}: ${toError(error).message}`,
        });
      }
    }
  }

  /** Ticks every running replica; stops those whose proposal is long past its deadline. */
  tick(now: number): void {
    for (const seen of [...this.#replicated]) {
      const replicas = seen.replicas;
      if (replicas === undefined || now > seen.proposal.deadline + PBFT_REPLICA_GRACE_MS) {
        seen.replicas = undefined;
        this.#replicated.delete(seen);
        continue;
      }
      for (const replica of replicas.values()) {
        replica.tick(now);
        this.#flushReplica(seen, replica);
      }
    }
  }

  /** Stops every replica and forgets the early messages. */
  close(): void {
    for (const seen of this.#replicated) seen.replicas = undefined;
    this.#replicated.clear();
    this.#early.clear();
  }
}

/** A clock that reads `now`: what a PBFT replica signs its messages at. */
function fixedAt(now: number): Clock {
  return { now: () => now, setTimer: () => () => undefined };
}
