/**
 * The thin runtime that binds the pure consensus protocols to a node's
 * transport, store and clock.
 *
 * - A proposer's node builds the proposal (with its rule: threshold, veto
 *   roles, the electorate and their public keys), publishes it signed on
 *   `<swarm>.consensus.proposal`, and coordinates the round: it feeds every
 *   envelope arriving on `<swarm>.consensus.vote.<proposal>` to the pure
 *   round, ticks it from the swarm clock, and once decided seals the
 *   decision into the audit log (the audit entry's hash is the seal, so the
 *   audit chain is the seal chain), publishes `consensus.decided` and
 *   resolves `propose()`.
 * - Every node that hosts voters of the proposal decides their votes by
 *   their policy and publishes them signed on the vote subject.
 * - Hierarchical rounds: when a cluster is decided, the coordinator sends
 *   its representatives the body to sign with the signed votes it counted
 *   (`<swarm>.consensus.cluster.<proposal>`); a representative recomputes
 *   the cluster's outcome from those votes and signs only what they give.
 * - PBFT rounds: each proposal is its own PBFT instance whose replicas are
 *   the proposal's voters, sorted by id (the primary of view v is voter
 *   v mod n). Every node runs one {@link PbftReplica} per hosted voter,
 *   ticked from the swarm clock, exchanging signed pre-prepares, prepares,
 *   commits, view-changes and new-views on `<swarm>.consensus.pbft.<proposal>`.
 *   A voter whose policy approves takes part; one whose policy rejects or
 *   abstains stays silent in PBFT and publishes its signed refusal on the
 *   vote subject; one whose handler returns null stays silent altogether
 *   (as a crashed replica). The proposer's node watches the broadcast
 *   messages with a {@link PbftRound}, which ends on a commit certificate
 *   (approved), enough refusals, or the deadline (see `pbft-round.ts`).
 * - A fixed threshold above the weight of the voters live at proposal time,
 *   or fewer than 4 live PBFT replicas, ends the round at once as
 *   `no-quorum`, with the reason in the decision.
 * - The guard in front of privileged tasks: a task of a privileged type runs
 *   only with the seal of an approved, verifiable decision for exactly that
 *   action and data, once.
 */
import type { KeyObject } from "node:crypto";
import {
  type ClusterVoteBody,
  createClusterVote,
  parseClusterVoteBody,
} from "../../consensus/cluster-vote.js";
import {
  type ClusterDecision,
  createHierarchicalRound,
  type HierarchicalRound,
} from "../../consensus/hierarchical.js";
import { type HierarchyPlan, planHierarchy } from "../../consensus/hierarchy-plan.js";
import { createPbftReplica, type PbftBody, type PbftReplica } from "../../consensus/pbft.js";
import { createPbftRound, type PbftRound } from "../../consensus/pbft-round.js";
import { type CompiledPolicy, evaluatePolicy, type PolicyVerdict } from "../../consensus/policy.js";
import { createQuorumRound, type QuorumRound, type RoundResult } from "../../consensus/quorum.js";
import { fromWeightUnits, thresholdUnits, toWeightUnits } from "../../consensus/quorum-math.js";
import {
  type Decision,
  type DecisionParts,
  decisionParts,
  sealDecision,
} from "../../consensus/seal.js";
import type { ByzantineEvidence, Tally, Verifier, VoteChoice } from "../../consensus/types.js";
import {
  createVote,
  envelopeHash,
  hashProposal,
  isVoteChoice,
  VOTE_REASON_MAX_LENGTH,
} from "../../consensus/vote.js";
import type { Clock } from "../../core/clock.js";
import {
  ClosedError,
  ConclaveError,
  ConfigError,
  InvalidEnvelopeError,
  SignatureError,
  toError,
  UnapprovedActionError,
  VoteRefusedError,
} from "../../errors/index.js";
import { decodePublicKey } from "../../identity/keys.js";
import type { AuditRecord, Store } from "../../store/port.js";
import type { Message, Transport } from "../../transport/port.js";
import { sha256Canonical } from "../../wire/canonical.js";
import { decodeEnvelope, encodeEnvelope } from "../../wire/codec.js";
import { type Envelope, parseEnvelope } from "../../wire/envelope.js";
import { createSignedEnvelope, verifierFromKeyTable } from "../../wire/signature.js";
import { ulid, ulidTime } from "../../wire/ulid.js";
import type { SwarmEvent } from "../events.js";
import { startProcessSpan, startRoundSpan } from "../tracing.js";
import { DECISION_KIND, decisionProblem, HEAD_META_KEY, readAuditLog } from "./audit-log.js";
import { checkClusterReport } from "./cluster-report.js";
import { type AwaitingHumans, awaitingKey, checkHumanVote, humanVoters } from "./human-votes.js";
import { type LateVote, LateVotes, lateVotesKey } from "./late-votes.js";
import {
  buildRule,
  DEFAULT_DEADLINE_MS,
  HUMAN_ROLE,
  type PrivilegedAction,
  parseRuntimeProposal,
  type RuleVoter,
  type RuntimeProposal,
  ruleMismatch,
} from "./rule.js";
import type { VoteContext, VoteHandler } from "./voting.js";

/** Where consensus messages travel (docs/PROTOCOL.md, "Consensus"). */
export const consensusSubjects = Object.freeze({
  /** Signed proposals, fan-out to every node. */
  proposal: (swarm: string) => `${swarm}.consensus.proposal`,
  /** Votes and cluster votes on one proposal. */
  vote: (swarm: string, proposal: string) => `${swarm}.consensus.vote.${proposal}`,
  allVotes: (swarm: string) => `${swarm}.consensus.vote.*`,
  /** A coordinator's requests to representatives to sign their cluster's vote. */
  cluster: (swarm: string, proposal: string) => `${swarm}.consensus.cluster.${proposal}`,
  allClusters: (swarm: string) => `${swarm}.consensus.cluster.*`,
  /** PBFT messages among the replicas of one proposal (pre-prepare, prepare, commit, view-change, new-view). */
  pbft: (swarm: string, proposal: string) => `${swarm}.consensus.pbft.${proposal}`,
  allPbft: (swarm: string) => `${swarm}.consensus.pbft.*`,
});

/** Envelope type of a proposal. */
export const PROPOSAL_TYPE = "consensus.proposal";
/** Envelope type of a coordinator's request to sign a cluster vote. */
export const CLUSTER_REQUEST_TYPE = "consensus.cluster-request";
/** Event type (`<swarm>.event.consensus.decided`) announcing a sealed decision. */
export const DECIDED_EVENT = "consensus.decided";
/** Task header carrying the seal of the decision that approves a privileged task. */
export const APPROVAL_HEADER = "conclave-approval";

/** Longest wait between two ticks of an open round. */
const MAX_TICK_MS = 250;
/** A cluster vote not counted after this long is asked for again. */
const RESEND_MS = 500;
/** How long a seen proposal is remembered after its deadline (late cluster requests). */
const SEEN_GRACE_MS = 60_000;
/** Decisions kept in memory for approval checks; older ones are found by scanning the log. */
const DECISION_CACHE = 10_000;
/** Length of one PBFT tick: how often replicas are ticked from the swarm clock. */
export const PBFT_TICK_MS = 50;
/** The coordinator still takes commits this long after the deadline (commits in flight). */
const PBFT_CLOSE_GRACE_MS = 200;
/** How long after an earlier round's deadline its seal may still be on its way to the log. */
const EARLIER_ROUND_GRACE_MS = 2_000;
/** How often a repeated `propose` looks for the earlier round's decision. */
const EARLIER_ROUND_POLL_MS = 100;
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

/** A voter hosted by this node. */
export interface LocalVoter {
  readonly id: string;
  readonly role: string;
  readonly weight: number;
  /** base64url SPKI, as on the agent's card. */
  readonly publicKey: string;
  readonly privateKey: KeyObject;
  /** The agent's rules policy (from its policy file), if any. */
  readonly rules?: CompiledPolicy;
  /** The agent's vote handler (`agent.vote`), if any. */
  readonly handler?: VoteHandler;
}

/** What the engine needs from its node. */
export interface ConsensusHost {
  readonly swarm: string;
  readonly transport: Transport;
  readonly store: Store;
  readonly clock: Clock;
  readonly maxEnvelopeBytes: number;
  readonly privileged: Readonly<Record<string, PrivilegedAction>>;
  /** Every role of the swarm (the default voter roles). */
  readonly roles: readonly string[];
  local(agentId: string): LocalVoter | undefined;
  locals(): Iterable<LocalVoter>;
  /** Live agents hosted elsewhere whose key this node trusts. */
  remotes(): Iterable<RuleVoter>;
  /** The trusted key of an agent (local, or proven by handshake). */
  publicKey(agentId: string): KeyObject | undefined;
  revoked(agentId: string): boolean;
  /** Checks a proposal's or request's sender under the swarm's signing policy; throws. */
  verifySender(envelope: Envelope): void;
  emit(event: SwarmEvent): void;
  /** Parks bad input in the dead-letter queue with the reason. */
  park(message: Message, error: unknown): void;
}

/** Options of {@link ConsensusEngine.propose}. */
export interface ProposeOptions {
  /** Overrides the action's configured `deadlineMs`. */
  readonly deadlineMs?: number;
  /**
   * Idempotency key: a second `propose` with the same key (e.g. a retried
   * task handler) returns the first one's decision instead of starting
   * another round, once that decision is sealed.
   */
  readonly key?: string;
  /** The task the proposal is made for, if any: the round's span joins its trace. */
  readonly parent?: Envelope;
}

interface Coordinated {
  readonly proposal: RuntimeProposal;
  readonly proposer: LocalVoter;
  readonly quorum?: QuorumRound;
  readonly hierarchical?: HierarchicalRound;
  readonly pbft?: PbftRound;
  /** Decided before any vote (an unreachable threshold). */
  readonly fixed?: RoundResult;
  /** Accepted envelopes by hash: what cluster requests hand to representatives. */
  readonly accepted: Map<string, Envelope>;
  readonly requested: Map<string, number>;
  readonly resolve: (decision: Decision) => void;
  readonly reject: (error: Error) => void;
}

interface Seen {
  readonly proposal: RuntimeProposal;
  readonly hash: string;
  plan?: HierarchyPlan;
  /** Local agents that voted on it, and cluster votes signed (`<cluster>:<agent>`). */
  readonly voted: Set<string>;
  readonly signed: Set<string>;
  /** PBFT: the replicas of hosted voters, by agent id. */
  replicas?: Map<string, PbftReplica>;
  /** PBFT: messages that arrived while the hosted voters were still deciding. */
  early?: Envelope[];
}

/** One node's consensus runtime. Created and wired by the swarm. */
export class ConsensusEngine {
  readonly #host: ConsensusHost;
  readonly #verify: Verifier;
  readonly #late = new LateVotes();
  #lateWrites: Promise<void> = Promise.resolve();
  /** Proposals with human voters known to be decided (bounded: oldest forgotten first). */
  readonly #decidedWithHumans = new BoundedSet(1000);
  readonly #rounds = new Map<string, Coordinated>();
  readonly #seen = new Map<string, Seen>();
  readonly #bySeal = new Map<string, Decision>();
  readonly #sealByProposal = new Map<string, string>();
  /** Proposals whose hosted PBFT replicas are running. */
  readonly #replicated = new Set<Seen>();
  /** PBFT messages for proposals not seen yet, by proposal id (oldest first). */
  readonly #pbftEarly = new Map<string, Envelope[]>();
  #scannedSeq = 0;
  #headHash: string | null = null;
  #appending: Promise<unknown> = Promise.resolve();
  #scanning: Promise<void> | undefined;
  #subscriptions: { unsubscribe(): void }[] = [];
  #cancelTick: (() => void) | undefined;
  #nextTickAt = Number.POSITIVE_INFINITY;
  #closed = false;

  constructor(host: ConsensusHost) {
    this.#host = host;
    // A revoked agent has no key here, whatever is still cached for it.
    // People vote with the keys the configuration gives them; agents with the keys trust established.
    const humans = new Map<string, KeyObject>();
    for (const action of Object.values(host.privileged)) {
      for (const human of action.humans ?? [])
        humans.set(human.id, decodePublicKey(human.publicKey));
    }
    this.#verify = verifierFromKeyTable((agent) =>
      host.revoked(agent) ? undefined : (humans.get(agent) ?? host.publicKey(agent)),
    );
  }

  /** Whether `action` is a privileged action here. */
  isPrivileged(action: string): boolean {
    return Object.hasOwn(this.#host.privileged, action);
  }

  /** Subscribes to the consensus subjects. */
  start(): void {
    const { transport, swarm } = this.#host;
    this.#subscriptions.push(
      transport.subscribe(consensusSubjects.proposal(swarm), (m) => {
        void this.#onProposal(m);
      }),
      transport.subscribe(consensusSubjects.allVotes(swarm), (m) => this.#onVote(m)),
      // Decisions announced by other nodes' coordinators close what waits for people here too.
      transport.subscribe(`${swarm}.event.${DECIDED_EVENT}`, (m) => {
        try {
          const body = decodeEnvelope(m.data, { maxBytes: this.#host.maxEnvelopeBytes }).body as {
            proposal?: unknown;
          };
          if (typeof body?.proposal === "string") this.#decidedWithHumans.add(body.proposal);
        } catch {
          // Not ours to judge here: the event bus parks bad events.
        }
      }),
      transport.subscribe(consensusSubjects.allClusters(swarm), (m) => this.#onClusterRequest(m)),
      transport.subscribe(consensusSubjects.allPbft(swarm), (m) => this.#onPbftMessage(m)),
    );
  }

  /** Stops: open rounds end with `ClosedError` for their proposers. */
  close(): void {
    this.#closed = true;
    for (const s of this.#subscriptions) s.unsubscribe();
    this.#subscriptions = [];
    this.#cancelTick?.();
    this.#cancelTick = undefined;
    for (const round of this.#rounds.values()) {
      round.reject(
        new ClosedError(`the swarm stopped before proposal ${round.proposal.id} was decided`),
      );
    }
    this.#rounds.clear();
    for (const seen of this.#replicated) seen.replicas = undefined;
    this.#replicated.clear();
    this.#pbftEarly.clear();
  }

  // ---- proposing and coordinating -------------------------------------------

  /**
   * Starts a round for privileged `action` with `data`, proposed by local
   * agent `proposerId`; resolves with the sealed decision (whatever its
   * outcome).
   *
   * A threshold above the live voters' total weight (a fixed weight while
   * some voters are gone), or fewer than 4 live voters for `pbft`, ends the
   * round at once as `no-quorum`, with the reason in the decision.
   *
   * @throws ConfigError if the action is not privileged, or no live agent
   *   can vote on it; ClosedError if the node stops first; StoreError if the
   *   decision cannot be recorded.
   */
  async propose(
    proposerId: string,
    action: string,
    data: unknown,
    options: ProposeOptions = {},
  ): Promise<Decision> {
    const host = this.#host;
    const settings = host.privileged[action];
    if (settings === undefined || !this.isPrivileged(action)) {
      throw new ConfigError(
        `"${action}" is not a privileged action; declare it under privileged: in the swarm file (or SwarmConfig.privileged)`,
      );
    }
    const proposer = host.local(proposerId);
    if (proposer === undefined) {
      throw new ConfigError(`agent "${proposerId}" is not hosted by this node; it cannot propose`);
    }
    const id = ulid(host.clock);
    if (options.key !== undefined) {
      const claim = await host.store.claimIdempotencyKey(`consensus.propose:${options.key}`, id);
      if (!claim.first && typeof claim.result === "string") {
        const earlier = await this.#earlierDecision(
          claim.result,
          options.deadlineMs ?? settings.deadlineMs ?? DEFAULT_DEADLINE_MS,
        );
        if (earlier !== undefined) return earlier;
        // The earlier round never got sealed (its node stopped): vote again.
      }
    }
    const roles = new Set(settings.voters ?? host.roles);
    const electorate = new Map<string, RuleVoter>();
    for (const voter of host.locals()) {
      if (roles.has(voter.role)) electorate.set(voter.id, voter);
    }
    for (const voter of host.remotes()) {
      if (roles.has(voter.role) && !electorate.has(voter.id) && !host.revoked(voter.id)) {
        electorate.set(voter.id, voter);
      }
    }
    for (const human of settings.humans ?? []) {
      electorate.set(human.id, {
        id: human.id,
        role: HUMAN_ROLE,
        weight: human.weight,
        publicKey: human.publicKey,
      });
    }
    if (electorate.size === 0) {
      throw new ConfigError(
        `no live agent of the voter roles (${[...roles].join(", ")}) can vote on "${action}"; start some, or change privileged.${action}.voters`,
      );
    }
    const { protocol, rule } = buildRule(settings, [...electorate.values()]);
    const now = host.clock.now();
    const proposal: RuntimeProposal = {
      id,
      action,
      // What the voters see, exactly: plain JSON.
      data: JSON.parse(JSON.stringify(data ?? null)) as unknown,
      proposer: proposerId,
      ts: now,
      deadline: now + (options.deadlineMs ?? settings.deadlineMs ?? DEFAULT_DEADLINE_MS),
      protocol,
      rule,
    };
    const proposalHash = hashProposal(proposal);
    const common = {
      proposal,
      proposalHash,
      voters: rule.voters,
      threshold: rule.threshold,
      vetoRoles: rule.vetoRoles,
      verify: this.#verify,
    };
    const unreachable = protocol === "pbft" ? undefined : unreachableThreshold(proposal);
    const rounds =
      unreachable !== undefined
        ? { fixed: unreachable }
        : protocol === "pbft"
          ? {
              pbft: createPbftRound({
                proposal,
                proposalHash,
                replicas: rule.voters,
                verify: this.#verify,
                closesAt: proposal.deadline + PBFT_CLOSE_GRACE_MS,
              }),
            }
          : protocol === "hierarchical"
            ? {
                hierarchical: createHierarchicalRound({
                  ...common,
                  ...(rule.clusterSize === undefined ? {} : { clusterSize: rule.clusterSize }),
                }),
              }
            : { quorum: createQuorumRound(common) };
    const decided = new Promise<Decision>((resolve, reject) => {
      this.#rounds.set(id, {
        proposal,
        proposer,
        ...rounds,
        accepted: new Map(),
        requested: new Map(),
        resolve,
        reject,
      });
    });
    host.emit({
      type: "consensus.proposed",
      proposal: id,
      action,
      proposer: proposerId,
      protocol,
      voters: rule.voters.length,
    });
    const span = startRoundSpan({
      transportKind: host.transport.kind,
      subject: consensusSubjects.proposal(host.swarm),
      proposal: id,
      action,
      protocol,
      voters: rule.voters.length,
      parent: options.parent,
    });
    span.settle(decided);
    const round = this.#rounds.get(id) as Coordinated;
    if (round.fixed !== undefined || round.pbft?.result() !== undefined) {
      // Decided before any vote: nobody needs to see the proposal.
      this.#finishIfDecided(round);
      return decided;
    }
    this.#send(
      consensusSubjects.proposal(host.swarm),
      proposer,
      PROPOSAL_TYPE,
      proposal,
      id,
      span.headers,
    );
    this.#schedule(host.clock.now());
    const humans = humanVoters(proposal);
    if (humans.length > 0) {
      // Kept in the store so a person can vote from another machine (conclave approve).
      await host.store.setMeta(awaitingKey(id), JSON.stringify(proposal));
      host.emit({
        type: "consensus.waiting",
        proposal: id,
        action,
        humans: humans.map((h) => h.id),
        deadline: proposal.deadline,
      });
    }
    return decided;
  }

  /** Proposals known here that wait for people's votes: open, not decided. */
  awaiting(): AwaitingHumans[] {
    const now = this.#host.clock.now();
    const proposals = new Map<string, RuntimeProposal>();
    for (const { proposal } of [...this.#rounds.values(), ...this.#seen.values()]) {
      proposals.set(proposal.id, proposal);
    }
    return [...proposals.values()]
      .filter(
        (p) =>
          now < p.deadline && !this.#sealByProposal.has(p.id) && !this.#decidedWithHumans.has(p.id),
      )
      .map((proposal) => ({ proposal, humans: humanVoters(proposal) }))
      .filter((a) => a.humans.length > 0);
  }

  /**
   * Publishes a person's signed vote on an open proposal known here, after
   * checking it (see `checkHumanVote`).
   * @throws VoteRefusedError
   */
  castHumanVote(proposalId: string, vote: unknown): Envelope {
    const open = this.awaiting().find((a) => a.proposal.id === proposalId);
    if (open === undefined) {
      throw new VoteRefusedError(
        `no open proposal ${proposalId} waits for people's votes here (decided, expired, or unknown)`,
      );
    }
    const envelope = checkHumanVote(open.proposal, vote, this.#host.clock.now());
    this.#publish(consensusSubjects.vote(this.#host.swarm, proposalId), envelope);
    return envelope;
  }

  #onVote(message: Message): void {
    const proposalId = message.subject.slice(message.subject.lastIndexOf(".") + 1);
    const round = this.#rounds.get(proposalId);
    if (round === undefined) {
      // Coordinated elsewhere — or here, and closed: a late vote is kept as evidence.
      if (this.#late.isClosedHere(proposalId)) this.#onLateVote(proposalId, message);
      return;
    }
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(message.data, { maxBytes: this.#host.maxEnvelopeBytes });
    } catch (error) {
      this.#host.park(message, error);
      return;
    }
    const now = this.#host.clock.now();
    if (round.quorum !== undefined) {
      const receipt = round.quorum.step(envelope, now);
      if (!receipt.accepted && receipt.evidence) this.#reportEvidence(round, receipt.evidence);
    } else if (round.pbft !== undefined) {
      const receipt = round.pbft.step(envelope, now);
      if (!receipt.accepted && receipt.evidence) this.#reportEvidence(round, receipt.evidence);
    } else if (round.hierarchical !== undefined) {
      const receipt = round.hierarchical.step(envelope, now);
      if (receipt.accepted) round.accepted.set(envelopeHash(envelope), envelope);
      else if (receipt.evidence) this.#reportEvidence(round, receipt.evidence);
      this.#requestClusterVotes(round, receipt.decided, now);
    }
    this.#finishIfDecided(round);
  }

  #onLateVote(proposalId: string, message: Message): void {
    const host = this.#host;
    let late: LateVote | undefined;
    try {
      const envelope = decodeEnvelope(message.data, { maxBytes: host.maxEnvelopeBytes });
      late = this.#late.take(proposalId, envelope, host.clock.now());
    } catch (error) {
      host.park(message, error);
      return;
    }
    if (late === undefined) return;
    host.emit({
      type: "consensus.late_vote",
      proposal: late.proposal,
      agent: late.voter,
      choice: late.choice,
      lateByMs: late.lateByMs,
    });
    // One writer per proposal (its coordinator), one write at a time.
    const record = late;
    this.#lateWrites = this.#lateWrites
      .then(async () => {
        const key = lateVotesKey(record.proposal);
        const kept = JSON.parse((await host.store.getMeta(key)) ?? "[]") as LateVote[];
        await host.store.setMeta(key, JSON.stringify([...kept, record]));
      })
      .catch((error: unknown) =>
        host.emit({ type: "error", error: `recording a late vote: ${toError(error).message}` }),
      );
  }

  #reportEvidence(round: Coordinated, evidence: ByzantineEvidence): void {
    this.#host.emit({
      type: "consensus.byzantine",
      proposal: round.proposal.id,
      agent: evidence.agent,
      kind: evidence.kind,
      detail: evidence.detail,
    });
  }

  #requestClusterVotes(round: Coordinated, decided: readonly ClusterDecision[], now: number): void {
    for (const cluster of decided) {
      const votes: Envelope[] = [];
      for (const ref of cluster.body.votes) {
        const envelope = round.accepted.get(ref.hash);
        if (envelope !== undefined) votes.push(envelope);
      }
      round.requested.set(cluster.cluster, now);
      this.#send(
        consensusSubjects.cluster(this.#host.swarm, round.proposal.id),
        round.proposer,
        CLUSTER_REQUEST_TYPE,
        { cluster: cluster.cluster, body: cluster.body, votes },
        round.proposal.id,
      );
    }
  }

  #schedule(now: number): void {
    if (this.#closed || (this.#rounds.size === 0 && this.#replicated.size === 0)) return;
    let next = now + (this.#replicated.size > 0 ? PBFT_TICK_MS : MAX_TICK_MS);
    for (const round of this.#rounds.values()) {
      const deadlines = round.hierarchical?.plan.levelDeadlines ?? [
        round.pbft?.closesAt ?? round.proposal.deadline,
      ];
      const due = deadlines.find((d) => d > now);
      if (due !== undefined) next = Math.min(next, due);
      else next = Math.min(next, now + 1);
    }
    if (next >= this.#nextTickAt && this.#cancelTick !== undefined) return;
    this.#cancelTick?.();
    this.#nextTickAt = next;
    this.#cancelTick = this.#host.clock.setTimer(() => this.#tick(), Math.max(1, next - now));
  }

  #tick(): void {
    this.#cancelTick = undefined;
    this.#nextTickAt = Number.POSITIVE_INFINITY;
    const now = this.#host.clock.now();
    this.#tickReplicas(now);
    for (const round of [...this.#rounds.values()]) {
      if (round.quorum !== undefined) {
        round.quorum.tick(now);
      } else if (round.pbft !== undefined) {
        round.pbft.tick(now);
      } else if (round.hierarchical !== undefined) {
        const { decided } = round.hierarchical.tick(now);
        this.#requestClusterVotes(round, decided, now);
        const stale = round.hierarchical
          .pendingClusterVotes()
          .filter((c) => now - (round.requested.get(c.cluster) ?? 0) >= RESEND_MS);
        this.#requestClusterVotes(round, stale, now);
      }
      this.#finishIfDecided(round);
    }
    this.#forgetOld(now);
    this.#schedule(now);
  }

  /** Forgets proposals seen long ago (voter-side state). */
  #forgetOld(now: number): void {
    for (const [id, seen] of this.#seen) {
      if (now > seen.proposal.deadline + SEEN_GRACE_MS) this.#seen.delete(id);
    }
  }

  #finishIfDecided(round: Coordinated): void {
    const result: RoundResult | undefined =
      round.fixed ?? round.quorum?.result() ?? round.pbft?.result() ?? round.hierarchical?.result();
    if (result === undefined || !this.#rounds.has(round.proposal.id)) return;
    this.#rounds.delete(round.proposal.id);
    this.#late.closed(round.proposal, this.#host.clock.now());
    const parts = decisionParts(result);
    this.#seal(parts).then(
      ({ decision, seq }) => {
        this.#host.emit({
          type: "consensus.decided",
          proposal: decision.proposal.id,
          action: decision.proposal.action,
          protocol: decision.protocol,
          outcome: decision.outcome,
          seal: decision.seal,
          seq,
          byzantine: decision.evidence.length,
          durationMs: Math.max(0, decision.decidedAt - decision.proposal.ts),
          ...(decision.reason === undefined ? {} : { reason: decision.reason }),
        });
        try {
          this.#send(
            `${this.#host.swarm}.event.${DECIDED_EVENT}`,
            round.proposer,
            DECIDED_EVENT,
            {
              proposal: decision.proposal.id,
              action: decision.proposal.action,
              outcome: decision.outcome,
              tally: decision.tally,
              seal: decision.seal,
              seq,
              byzantine: decision.evidence.length,
            },
            decision.proposal.id,
          );
        } catch (error) {
          this.#host.emit({
            type: "error",
            error: `announcing ${DECIDED_EVENT}: ${toError(error).message}`,
          });
        }
        if (humanVoters(round.proposal).length > 0) {
          // No longer open to people: conclave approve finds it closed.
          this.#decidedWithHumans.add(decision.proposal.id);
          this.#host.store.setMeta(awaitingKey(decision.proposal.id), "").catch(() => undefined);
        }
        round.resolve(decision);
      },
      (error: unknown) => round.reject(toError(error)),
    );
  }

  /**
   * Appends a decision to the audit log, sealed on the current head. The
   * seal must be computed before the store knows the head under its lock,
   * so it is optimistic: if another node appended in between, the store
   * refuses (the hash function sees another previous hash) and it is
   * sealed again on the new head.
   */
  #seal(parts: DecisionParts): Promise<{ decision: Decision; seq: number }> {
    const run = async () => {
      for (let attempt = 0; ; attempt++) {
        await this.#scan();
        const decision = sealDecision(parts, this.#headHash);
        let moved = false;
        try {
          const record = await this.#host.store.appendAudit({
            kind: DECISION_KIND,
            data: decision,
            hash: (link) => {
              if (link.prevHash !== decision.prevSeal) {
                moved = true;
                throw new ConclaveError("E_AUDIT_HEAD_MOVED", "the audit log grew meanwhile");
              }
              return decision.seal;
            },
          });
          this.#remember(decision);
          if (record.seq === this.#scannedSeq + 1) {
            this.#scannedSeq = record.seq;
            this.#headHash = record.hash;
          }
          await this.#host.store.setMeta(HEAD_META_KEY, decision.seal).catch(() => undefined);
          return { decision, seq: record.seq };
        } catch (error) {
          if (!moved || attempt >= 100) throw error;
        }
      }
    };
    const next = this.#appending.then(run, run);
    this.#appending = next.catch(() => undefined);
    return next;
  }

  /** Reads the audit log's new entries: the head, and the decisions for lookups. */
  #scan(): Promise<void> {
    this.#scanning ??= (async () => {
      try {
        const records = await readAuditLog(this.#host.store, this.#scannedSeq + 1);
        for (const record of records) this.#learn(record);
      } finally {
        this.#scanning = undefined;
      }
    })();
    return this.#scanning;
  }

  #learn(record: AuditRecord): void {
    if (record.seq !== this.#scannedSeq + 1) return;
    this.#scannedSeq = record.seq;
    this.#headHash = record.hash;
    if (record.kind === DECISION_KIND) this.#remember(record.data as Decision);
  }

  #remember(decision: Decision): void {
    this.#bySeal.set(decision.seal, decision);
    this.#sealByProposal.set(decision.proposal.id, decision.seal);
    if (this.#bySeal.size > DECISION_CACHE) {
      const oldest = this.#bySeal.keys().next().value as string;
      const dropped = this.#bySeal.get(oldest);
      this.#bySeal.delete(oldest);
      if (dropped) this.#sealByProposal.delete(dropped.proposal.id);
    }
  }

  /**
   * The decision of the round an earlier `propose` under the same key
   * started (proposal `id`): a retried handler after a crash, or the same
   * task run twice at once (a duplicate delivery, here or on another node).
   * While that round may still be open (until its deadline, with grace for
   * the seal), wait for its decision rather than start a second round: two
   * rounds would leave two valid seals for one request. Undefined once it
   * can no longer be sealed.
   */
  async #earlierDecision(id: string, deadlineMs: number): Promise<Decision | undefined> {
    const clock = this.#host.clock;
    const givesUpAt = ulidTime(id) + deadlineMs + PBFT_CLOSE_GRACE_MS + EARLIER_ROUND_GRACE_MS;
    for (;;) {
      const found = await this.findDecisionByProposal(id);
      if (found !== undefined || this.#closed || clock.now() > givesUpAt) return found;
      await new Promise<void>((resolve) => clock.setTimer(resolve, EARLIER_ROUND_POLL_MS));
    }
  }

  /** The decision sealed as `seal` in the audit log, if any. */
  async findDecision(seal: string): Promise<Decision | undefined> {
    const cached = this.#bySeal.get(seal);
    if (cached !== undefined) return cached;
    await this.#scan();
    const found = this.#bySeal.get(seal);
    if (found !== undefined) return found;
    // Older than the cache: search the whole log.
    for (const record of await readAuditLog(this.#host.store)) {
      if (record.kind === DECISION_KIND && record.hash === seal) return record.data as Decision;
    }
    return undefined;
  }

  /** The decision on proposal `id` in the audit log, if any. */
  async findDecisionByProposal(id: string): Promise<Decision | undefined> {
    const seal = this.#sealByProposal.get(id);
    if (seal !== undefined) return this.findDecision(seal);
    await this.#scan();
    const after = this.#sealByProposal.get(id);
    return after === undefined ? undefined : this.findDecision(after);
  }

  // ---- voting -----------------------------------------------------------------

  async #onProposal(message: Message): Promise<void> {
    const host = this.#host;
    let envelope: Envelope;
    let proposal: RuntimeProposal;
    try {
      envelope = decodeEnvelope(message.data, { maxBytes: host.maxEnvelopeBytes });
      host.verifySender(envelope);
      if (envelope.type !== PROPOSAL_TYPE) {
        throw new InvalidEnvelopeError(`expected a ${PROPOSAL_TYPE}, got ${envelope.type}`);
      }
      const parsed = parseRuntimeProposal(envelope.body);
      if (typeof parsed === "string") throw new InvalidEnvelopeError(`proposal: ${parsed}`);
      if (parsed.proposer !== envelope.from) {
        throw new SignatureError(
          `proposal ${parsed.id} names ${parsed.proposer} as proposer but is signed by ${envelope.from}`,
        );
      }
      proposal = parsed;
    } catch (error) {
      host.park(message, error);
      return;
    }
    const now = host.clock.now();
    if (now >= proposal.deadline || this.#seen.has(proposal.id)) return;
    if (this.#seen.size > 1000) this.#forgetOld(now);
    const hash = hashProposal(proposal);
    const seen: Seen = { proposal, hash, voted: new Set(), signed: new Set() };
    this.#seen.set(proposal.id, seen);
    const voters: LocalVoter[] = [];
    let mismatch = ruleMismatch(proposal, host.privileged[proposal.action], host.roles);
    for (const listed of proposal.rule.voters) {
      const local = host.local(listed.id);
      if (local === undefined || seen.voted.has(listed.id)) continue;
      seen.voted.add(listed.id);
      voters.push(local);
      if (
        local.role !== listed.role ||
        local.weight !== listed.weight ||
        local.publicKey !== listed.publicKey
      ) {
        mismatch ??= `the proposal lists ${listed.id} with another role, weight or key than it has`;
      }
    }
    const early = this.#pbftEarly.get(proposal.id);
    this.#pbftEarly.delete(proposal.id);
    if (voters.length === 0) return;
    const pbft = proposal.protocol === "pbft";
    if (pbft) seen.early = early ?? [];
    // This node's part of the round: a child of the proposer's span.
    const span = startProcessSpan(envelope, {
      transportKind: host.transport.kind,
      subject: message.subject,
    });
    try {
      // Every verdict first, then the votes in electorate order: what a
      // handler sends on its own goes out before the honest votes.
      const verdicts = await span.run(() =>
        Promise.all(voters.map((voter) => this.#decide(voter, proposal, hash, mismatch))),
      );
      if (this.#closed) return;
      if (pbft) {
        this.#startReplicas(seen, voters, verdicts);
        return;
      }
      voters.forEach((voter, i) => {
        const verdict = verdicts[i];
        if (verdict === null || verdict === undefined) return;
        this.#castVote(seen, voter, verdict);
      });
    } finally {
      span.end();
    }
  }

  /** Signs and publishes a voter's verdict on the vote subject. */
  #castVote(seen: Seen, voter: LocalVoter, verdict: PolicyVerdict): void {
    const host = this.#host;
    const { proposal, hash } = seen;
    const reason = verdict.reasons.join("; ").slice(0, VOTE_REASON_MAX_LENGTH);
    try {
      const vote = createVote(
        {
          proposal,
          proposalHash: hash,
          from: voter.id,
          choice: verdict.choice,
          ...(reason === "" ? {} : { reason }),
          privateKey: voter.privateKey,
        },
        { clock: host.clock },
      );
      this.#publish(consensusSubjects.vote(host.swarm, proposal.id), vote);
      host.emit({
        type: "consensus.voted",
        proposal: proposal.id,
        agent: voter.id,
        choice: verdict.choice,
        reason,
      });
    } catch (error) {
      host.emit({
        type: "error",
        error: `${voter.id} could not vote on ${proposal.id}: ${toError(error).message}`,
      });
    }
  }

  // ---- PBFT replicas ------------------------------------------------------------

  /**
   * Starts one PBFT replica per hosted voter of a `pbft` proposal, from its
   * verdict: approve takes part; reject or abstain stays silent in PBFT and
   * publishes the signed refusal instead; null (the handler cast nothing)
   * runs no replica at all, as a crashed one.
   */
  #startReplicas(
    seen: Seen,
    voters: readonly LocalVoter[],
    verdicts: readonly (PolicyVerdict | null)[],
  ): void {
    const host = this.#host;
    const { proposal, hash } = seen;
    const now = host.clock.now();
    const replicas = new Map<string, PbftReplica>();
    voters.forEach((voter, i) => {
      const verdict = verdicts[i];
      if (verdict === null || verdict === undefined) return;
      const approves = verdict.choice === "approve";
      if (approves) {
        host.emit({
          type: "consensus.voted",
          proposal: proposal.id,
          agent: voter.id,
          choice: "approve",
          reason: verdict.reasons.join("; ").slice(0, VOTE_REASON_MAX_LENGTH),
        });
      } else {
        this.#castVote(seen, voter, verdict);
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
        host.emit({
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
        host.emit({
          type: "error",
          error: `${replica.id} could not take proposal ${proposal.id}: ${toError(error).message}`,
        });
      }
      this.#flushReplica(seen, replica);
    }
    for (const envelope of early) this.#deliver(seen, envelope, now);
    this.#schedule(now);
  }

  #onPbftMessage(message: Message): void {
    const proposalId = message.subject.slice(message.subject.lastIndexOf(".") + 1);
    const round = this.#rounds.get(proposalId);
    const seen = this.#seen.get(proposalId);
    const forReplicas =
      seen === undefined || seen.replicas !== undefined || seen.early !== undefined;
    if (round?.pbft === undefined && !forReplicas) return;
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(message.data, { maxBytes: this.#host.maxEnvelopeBytes });
    } catch (error) {
      this.#host.park(message, error);
      return;
    }
    const now = this.#host.clock.now();
    if (round?.pbft !== undefined) {
      const receipt = round.pbft.step(envelope, now);
      if (!receipt.accepted && receipt.evidence) this.#reportEvidence(round, receipt.evidence);
      this.#finishIfDecided(round);
    }
    if (seen?.replicas !== undefined) {
      this.#deliver(seen, envelope, now);
    } else if (seen?.early !== undefined) {
      if (seen.early.length < PBFT_EARLY_MAX) seen.early.push(envelope);
    } else if (seen === undefined) {
      // The proposal itself may still be on its way (another subject).
      let early = this.#pbftEarly.get(proposalId);
      if (early === undefined) {
        if (this.#pbftEarly.size >= PBFT_EARLY_PROPOSALS) {
          this.#pbftEarly.delete(this.#pbftEarly.keys().next().value as string);
        }
        early = [];
        this.#pbftEarly.set(proposalId, early);
      }
      if (early.length < PBFT_EARLY_MAX) early.push(envelope);
    }
  }

  /** Hands a PBFT message to every hosted replica but its sender (its own broadcast comes back). */
  #deliver(seen: Seen, envelope: Envelope, now: number): void {
    for (const replica of seen.replicas?.values() ?? []) {
      if (envelope.from === replica.id) continue;
      replica.step(envelope, now);
      this.#flushReplica(seen, replica);
    }
  }

  #flushReplica(seen: Seen, replica: PbftReplica): void {
    if (!replica.hasReady()) return;
    // Evidence a replica sees is its own; the coordinator's round records what goes into the decision.
    const ready = replica.ready();
    for (const committed of ready.committed) {
      this.#host.emit({
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
        this.#publish(consensusSubjects.pbft(this.#host.swarm, seen.proposal.id), envelope);
      } catch (error) {
        this.#host.emit({
          type: "error",
          error: `${replica.id} could not send a ${envelope.type} on ${seen.proposal.id}: ${toError(error).message}`,
        });
      }
    }
  }

  #tickReplicas(now: number): void {
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

  /** A voter's verdict: its rules, then its handler; approve without either. */
  async #decide(
    voter: LocalVoter,
    proposal: RuntimeProposal,
    hash: string,
    mismatch: string | undefined,
  ): Promise<PolicyVerdict | null> {
    if (mismatch !== undefined) {
      return { choice: "reject", reasons: [`refused: ${mismatch}`] };
    }
    const reasons: string[] = [];
    let abstained = false;
    try {
      if (voter.rules !== undefined) {
        const verdict = evaluatePolicy(voter.rules, proposal, {
          agent: voter.id,
          role: voter.role,
        });
        if (verdict.choice === "reject" || voter.handler === undefined) return verdict;
        abstained = verdict.choice === "abstain";
        reasons.push(...verdict.reasons);
      }
      if (voter.handler === undefined) {
        return { choice: "approve", reasons: ["no policy: approve"] };
      }
      const host = this.#host;
      const ctx: VoteContext = {
        agentId: voter.id,
        role: voter.role,
        proposal,
        sign: (choice: VoteChoice, reason?: string) =>
          createVote(
            {
              proposal,
              proposalHash: hash,
              from: voter.id,
              choice,
              ...(reason === undefined ? {} : { reason }),
              privateKey: voter.privateKey,
            },
            { clock: host.clock },
          ),
        signMessage: (type: string, body: unknown) =>
          createSignedEnvelope(
            { type, from: voter.id, corr: proposal.id, body: body as never },
            voter.privateKey,
            { clock: host.clock },
          ),
        send: (envelope: Envelope) =>
          this.#publish(
            String(envelope.type).startsWith("consensus.pbft.")
              ? consensusSubjects.pbft(host.swarm, proposal.id)
              : consensusSubjects.vote(host.swarm, proposal.id),
            envelope,
          ),
      };
      const verdict = await voter.handler(proposal, ctx);
      if (verdict === null) return null;
      if (
        typeof verdict !== "object" ||
        !isVoteChoice(verdict.choice) ||
        !Array.isArray(verdict.reasons)
      ) {
        return {
          choice: "abstain",
          reasons: ["the vote handler returned no { choice, reasons } verdict"],
        };
      }
      // As allOf: a rejection anywhere stands, an abstention is not overruled by an approval.
      const choice = verdict.choice === "approve" && abstained ? "abstain" : verdict.choice;
      return { choice, reasons: [...reasons, ...verdict.reasons.map(String)] };
    } catch (error) {
      return { choice: "abstain", reasons: [`the policy failed: ${toError(error).message}`] };
    }
  }

  #onClusterRequest(message: Message): void {
    const host = this.#host;
    const proposalId = message.subject.slice(message.subject.lastIndexOf(".") + 1);
    const seen = this.#seen.get(proposalId);
    if (seen === undefined) return;
    let request: { cluster: string; body: ClusterVoteBody; votes: Envelope[] };
    try {
      const envelope = decodeEnvelope(message.data, { maxBytes: host.maxEnvelopeBytes });
      host.verifySender(envelope);
      if (envelope.type !== CLUSTER_REQUEST_TYPE || envelope.from !== seen.proposal.proposer) {
        throw new SignatureError(
          `a cluster request for ${proposalId} must come from its proposer ${seen.proposal.proposer}`,
        );
      }
      const raw = envelope.body as { cluster?: unknown; body?: unknown; votes?: unknown };
      const body = parseClusterVoteBody(raw.body);
      if (
        typeof body === "string" ||
        typeof raw.cluster !== "string" ||
        !Array.isArray(raw.votes)
      ) {
        throw new InvalidEnvelopeError(
          `cluster request: ${typeof body === "string" ? body : "expected { cluster, body, votes }"}`,
        );
      }
      request = { cluster: raw.cluster, body, votes: raw.votes.map((v) => parseEnvelope(v)) };
    } catch (error) {
      host.park(message, error);
      return;
    }
    const rule = seen.proposal.rule;
    seen.plan ??= planHierarchy({
      proposal: seen.proposal,
      proposalHash: seen.hash,
      voters: rule.voters,
      threshold: rule.threshold,
      vetoRoles: rule.vetoRoles,
      ...(rule.clusterSize === undefined ? {} : { clusterSize: rule.clusterSize }),
    });
    const node = seen.plan.nodes.get(request.cluster);
    if (node === undefined) return;
    const representatives = node.representatives
      .map((id) => host.local(id))
      .filter(
        (v): v is LocalVoter => v !== undefined && !seen.signed.has(`${request.cluster}:${v.id}`),
      );
    if (representatives.length === 0) return;
    const problem = checkClusterReport(
      seen.plan,
      node,
      request.body,
      request.votes,
      this.#verify,
      host.clock.now(),
    );
    if (problem !== undefined) {
      host.emit({
        type: "error",
        error: `refused to sign cluster ${request.cluster} of proposal ${proposalId}: ${problem}`,
      });
      return;
    }
    for (const rep of representatives) {
      seen.signed.add(`${request.cluster}:${rep.id}`);
      const vote = createClusterVote(request.body, rep.id, rep.privateKey, { clock: host.clock });
      this.#publish(consensusSubjects.vote(host.swarm, proposalId), vote);
    }
  }

  // ---- the guard ----------------------------------------------------------------

  /**
   * Lets a task of a privileged type through only with the seal of a
   * sealed, verifiable approval of exactly that action and data, used by no
   * other task. Tasks of other types pass.
   *
   * @throws UnapprovedActionError saying why not.
   */
  async checkApproval(task: string, envelope: Envelope): Promise<void> {
    if (!this.isPrivileged(task)) return;
    const seal = envelope.headers?.[APPROVAL_HEADER];
    if (seal === undefined || seal === "") {
      throw new UnapprovedActionError(
        task,
        `task ${envelope.id} carries no approval (submit it with { approval: decision.seal })`,
      );
    }
    const decision = await this.findDecision(seal);
    if (decision === undefined) {
      throw new UnapprovedActionError(
        task,
        `no decision sealed ${seal.slice(0, 16)}… is in the audit log`,
      );
    }
    const proposal = decision.proposal;
    if (proposal.action !== task) {
      throw new UnapprovedActionError(
        task,
        `the decision approves "${proposal.action}", not this action`,
      );
    }
    if (decision.outcome !== "approved") {
      throw new UnapprovedActionError(task, `proposal ${proposal.id} was ${decision.outcome}`);
    }
    if (sha256Canonical(envelope.body) !== sha256Canonical(proposal.data)) {
      throw new UnapprovedActionError(
        task,
        `the task's body is not the data proposal ${proposal.id} approved`,
      );
    }
    const problem = decisionProblem(decision, {
      privileged: this.#host.privileged,
      roles: this.#host.roles,
      trusted: (id) => this.#host.publicKey(id),
    });
    if (problem !== undefined) {
      throw new UnapprovedActionError(
        task,
        `the decision on proposal ${proposal.id} does not verify (${problem}); inspect the audit log with conclave audit verify`,
      );
    }
    // Consumed per proposal, not per seal: the same decision sealed twice
    // (recorded again by a second node or a retried round) is still one
    // approval, and its action runs once.
    const claim = await this.#host.store.claimIdempotencyKey(
      `consensus.approval:${proposal.id}`,
      envelope.id,
    );
    if (!claim.first && claim.result !== envelope.id) {
      throw new UnapprovedActionError(
        task,
        `the approval of proposal ${proposal.id} was already used by task ${String(claim.result)}; an approval runs its action once`,
      );
    }
  }

  // ---- sending ----------------------------------------------------------------

  #send(
    subject: string,
    as: LocalVoter,
    type: string,
    body: unknown,
    corr: string,
    headers?: Readonly<Record<string, string>>,
  ): void {
    const envelope = createSignedEnvelope(
      {
        type,
        from: as.id,
        corr,
        body: body as never,
        ...(headers === undefined ? {} : { headers }),
      },
      as.privateKey,
      { clock: this.#host.clock },
    );
    this.#publish(subject, envelope);
  }

  #publish(subject: string, envelope: Envelope): void {
    this.#host.transport.publish(
      subject,
      encodeEnvelope(envelope, { maxBytes: this.#host.maxEnvelopeBytes }),
    );
  }
}

/** A set that forgets its oldest members past `limit`. */
class BoundedSet {
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

/** A clock that reads `now`: what a PBFT replica signs its messages at. */
function fixedAt(now: number): Clock {
  return { now: () => now, setTimer: () => () => undefined };
}

/**
 * A fixed threshold above the total weight of the voters the rule lists
 * (those live when it was proposed) can never be reached: the round ends at
 * once as `no-quorum`, with the reason. Undefined when it can be reached.
 */
export function unreachableThreshold(proposal: RuntimeProposal): RoundResult | undefined {
  const { rule } = proposal;
  let total = 0;
  for (const voter of rule.voters) total += toWeightUnits(voter.weight);
  const threshold = thresholdUnits(rule.threshold, total);
  if (threshold <= total) return undefined;
  const tally: Tally = {
    approve: 0,
    reject: 0,
    abstain: 0,
    threshold: fromWeightUnits(threshold),
    total: fromWeightUnits(total),
  };
  return {
    proposal,
    protocol: proposal.protocol,
    proposalHash: hashProposal(proposal),
    votes: [],
    tally,
    outcome: "no-quorum",
    evidence: [],
    decidedAt: proposal.ts,
    reason: `the threshold (${tally.threshold}) exceeds the total weight (${tally.total}) of the ${rule.voters.length} live voter${rule.voters.length === 1 ? "" : "s"} (${rule.voters.map((v) => v.id).join(", ")}); start the missing voters or lower the threshold`,
  };
}
