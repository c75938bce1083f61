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
 *   v mod n). Every node runs one PBFT replica per hosted voter,
 *   ticked from the swarm clock, exchanging signed pre-prepares, prepares,
 *   commits, view-changes and new-views on `<swarm>.consensus.pbft.<proposal>`.
 *   A voter whose policy approves takes part; one whose policy rejects or
 *   abstains stays silent in PBFT and publishes its signed refusal on the
 *   vote subject; one whose handler returns null stays silent altogether
 *   (as a crashed replica). The proposer's node watches the broadcast
 *   messages with a PBFT round, which ends on a commit certificate
 *   (approved), enough refusals, or the deadline (see `pbft-round.ts`).
 * - A fixed threshold above the weight of the voters live at proposal time,
 *   or fewer than 4 live PBFT replicas, ends the round at once as
 *   `no-quorum`, with the reason in the decision.
 * - The guard in front of privileged tasks: a task of a privileged type runs
 *   only with the seal of an approved, verifiable decision for exactly that
 *   action and data, once.
 *
 * ## Where the code is
 * This file is the coordinator (proposing, vote intake, the tick, closing
 * a round and announcing its decision) and the node's entry point, wiring
 * the rest: `context.ts` (the parts of its node the engine reads, its
 * agents as voters, publishing), `types.ts` (the shapes shared with the
 * node; the subjects and envelope types are in `../subjects.ts`), `rounds.ts` (the electorate and the protocol round of one
 * proposal, behind `ConsensusRound` from `consensus/round.ts`: the engine
 * steps, ticks and wakes any protocol's round the same way, and publishes
 * what its receipts ask for), `sealing.ts` (sealing decisions into the
 * audit log and finding them), `audit-heads.ts` (signed heads, published
 * and witnessed),
 * `voters.ts` (the hosted voters' side: proposals in, votes and cluster
 * votes out), `vote-casting.ts` (one voter's verdict and signed vote),
 * `pbft-replicas.ts` (the hosted PBFT replicas), `approval.ts` (the guard
 * in front of privileged tasks), `human-votes.ts` and `late-votes.ts`.
 */
import type { KeyObject } from "node:crypto";
import type { RoundOutgoing } from "../../consensus/round.js";
import {
  buildRule,
  DEFAULT_DEADLINE_MS,
  type RuntimeProposal,
  ruleMismatch,
} from "../../consensus/rule.js";
import { type Decision, decisionParts } from "../../consensus/seal.js";
import type { ByzantineEvidence, Verifier } from "../../consensus/types.js";
import { ClosedError, ConfigError, toError, VoteRefusedError } from "../../errors/index.js";
import { decodePublicKey } from "../../identity/keys.js";
import type { Message } from "../../transport/port.js";
import { decodeEnvelope } from "../../wire/codec.js";
import type { Envelope } from "../../wire/envelope.js";
import { verifierFromKeyTable } from "../../wire/signature.js";
import { ulid, ulidTime } from "../../wire/ulid.js";
import {
  CLUSTER_REQUEST_TYPE,
  consensusSubjects,
  DECIDED_EVENT,
  PROPOSAL_TYPE,
} from "../subjects.js";
import { startRoundSpan } from "../tracing.js";
import { checkApproval, isPrivileged, refusedVoter } from "./approval.js";
import { AuditHeads } from "./audit-heads.js";
import { type ConsensusContext, localVoter, publish, sendSigned } from "./context.js";
import {
  type AwaitingHumans,
  awaitingKey,
  BoundedSet,
  checkHumanVote,
  humanBallot,
  humanVoters,
} from "./human-votes.js";
import { type LateVote, LateVotes } from "./late-votes.js";
import { HostedReplicas, PBFT_TICK_MS } from "./pbft-replicas.js";
import {
  type CoordinatedRound,
  electorate,
  PBFT_CLOSE_GRACE_MS,
  plainData,
  protocolRound,
  roundDeadlineMs,
} from "./rounds.js";
import { DecisionLog } from "./sealing.js";
import type { ProposeOptions } from "./types.js";
import { VoterSide } from "./voters.js";

/** Longest wait between two ticks of an open round. */
const MAX_TICK_MS = 250;
/** How long after an earlier round's deadline its seal may still be on its way to the log. */
const EARLIER_ROUND_GRACE_MS = 2_000;
/** How often a repeated `propose` looks for the earlier round's decision. */
const EARLIER_ROUND_POLL_MS = 100;
/** Marks a key's claim by a `propose` refused before its round started (no round id to wait for). */
const REFUSED_PREFIX = "refused:";

/** One node's consensus runtime. Created and wired by the swarm. */
export class ConsensusEngine {
  readonly #node: ConsensusContext;
  readonly #heads: AuditHeads;
  readonly #verify: Verifier;
  readonly #late = new LateVotes();
  /** Proposals with human voters known to be decided (bounded: oldest forgotten first). */
  readonly #decidedWithHumans = new BoundedSet(1000);
  readonly #rounds = new Map<string, CoordinatedRound>();
  readonly #decisions: DecisionLog;
  readonly #replicas: HostedReplicas;
  readonly #voters: VoterSide;
  #subscriptions: { unsubscribe(): void }[] = [];
  #cancelTick: (() => void) | undefined;
  #nextTickAt = Number.POSITIVE_INFINITY;
  #closed = false;

  constructor(node: ConsensusContext) {
    this.#node = node;
    this.#heads = new AuditHeads(node);
    this.#decisions = new DecisionLog(node, this.#heads);
    // An agent refused here (revoked; under any admission but open, also
    // an expired credential) has no key here, whatever is still cached for
    // it: the guard in front of the action would refuse its vote anyway.
    // People vote with the keys the configuration gives them; agents with the keys trust established.
    const humans = new Map<string, KeyObject>();
    for (const action of Object.values(node.privileged)) {
      for (const human of action.humans ?? [])
        humans.set(human.id, decodePublicKey(human.publicKey));
    }
    this.#verify = verifierFromKeyTable((agent) => {
      if (node.keys.revoked(agent)) return undefined;
      const human = humans.get(agent);
      if (human !== undefined) return human;
      return refusedVoter(node, agent) === undefined ? node.keys.key(agent) : undefined;
    });
    this.#replicas = new HostedReplicas(node, this.#verify, (now) => this.#schedule(now));
    this.#voters = new VoterSide(node, this.#verify, this.#replicas);
  }

  /** Whether `action` is a privileged action here. */
  isPrivileged(action: string): boolean {
    return isPrivileged(this.#node, action);
  }

  /** Subscribes to the consensus subjects. */
  start(): void {
    const { transport, swarm } = this.#node;
    this.#heads.start();
    this.#subscriptions.push(
      transport.subscribe(consensusSubjects.proposal(swarm), (m) => {
        void this.#voters.onProposal(m);
      }),
      transport.subscribe(consensusSubjects.allVotes(swarm), (m) => this.#onVote(m)),
      // Decisions announced by other nodes' coordinators close what waits for people here too.
      transport.subscribe(`${swarm}.event.${DECIDED_EVENT}`, (m) => this.#onDecidedEvent(m)),
      transport.subscribe(consensusSubjects.allClusters(swarm), (m) =>
        this.#voters.onClusterRequest(m),
      ),
      transport.subscribe(consensusSubjects.allPbft(swarm), (m) => this.#onPbftMessage(m)),
    );
  }

  /** Stops: open rounds end with `ClosedError` for their proposers; a pending signed head is published. */
  close(): Promise<void> {
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
    this.#voters.close();
    this.#replicas.close();
    return this.#heads.close();
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
   * @throws ConfigError if the action is not privileged, no live agent can
   *   vote on it, or `deadlineMs` is not a whole number of ms from 10 to
   *   86_400_000; InvalidEnvelopeError if `data` is not representable as
   *   JSON (a bigint, a cycle, a function); EnvelopeTooLargeError if the
   *   signed proposal is over the node's `maxEnvelopeBytes` (no round is
   *   left open for it); ClosedError if the node stops first; StoreError if
   *   the decision cannot be recorded.
   */
  async propose(
    proposerId: string,
    action: string,
    data: unknown,
    options: ProposeOptions = {},
  ): Promise<Decision> {
    const node = this.#node;
    const settings = node.privileged[action];
    if (settings === undefined || !this.isPrivileged(action)) {
      throw new ConfigError(
        `"${action}" is not a privileged action; declare it under privileged: in the swarm file (or SwarmConfig.privileged)`,
      );
    }
    const proposer = localVoter(node, proposerId);
    if (proposer === undefined) {
      throw new ConfigError(`agent "${proposerId}" is not hosted by this node; it cannot propose`);
    }
    const deadlineMs = roundDeadlineMs(
      options.deadlineMs ?? settings.deadlineMs ?? DEFAULT_DEADLINE_MS,
    );
    // What the voters see, exactly: plain JSON.
    const plain = plainData(data);
    const id = ulid(node.clock);
    if (options.key !== undefined) {
      // A proposal refused before its round starts (no live voter) still
      // claims the key, marked refused: a retry returns an earlier round's
      // decision, but never waits out the deadline of a round that never was.
      let refusal: unknown;
      try {
        buildRule(settings, electorate(node, action, settings));
      } catch (error) {
        refusal = error;
      }
      // The round's own deadline goes with its id: a retry waits for it, not for its own.
      const claimed = refusal === undefined ? `${id}@${deadlineMs}` : `${REFUSED_PREFIX}${id}`;
      const earlier = await this.#claimKey(options.key, claimed, deadlineMs);
      if (earlier !== undefined) return earlier;
      if (refusal !== undefined) throw refusal;
    }
    const { protocol, rule } = buildRule(settings, electorate(node, action, settings));
    const now = node.clock.now();
    const proposal: RuntimeProposal = {
      id,
      action,
      data: plain,
      proposer: proposerId,
      ts: now,
      deadline: now + deadlineMs,
      protocol,
      rule,
    };
    const counting = protocolRound(proposal, this.#verify);
    const decided = new Promise<Decision>((resolve, reject) => {
      this.#rounds.set(id, { proposal, proposer, counting, resolve, reject });
    });
    node.events.emit({
      type: "consensus.proposed",
      proposal: id,
      action,
      proposer: proposerId,
      protocol,
      voters: rule.voters.length,
    });
    const span = startRoundSpan({
      transportKind: node.transport.kind,
      subject: consensusSubjects.proposal(node.swarm),
      proposal: id,
      action,
      protocol,
      voters: rule.voters.length,
      parent: options.parent,
    });
    span.settle(decided);
    const round = this.#rounds.get(id) as CoordinatedRound;
    if (round.counting.ready()) {
      // Decided before any vote: nobody needs to see the proposal.
      this.#finishIfDecided(round);
      return decided;
    }
    try {
      sendSigned(
        this.#node,
        consensusSubjects.proposal(node.swarm),
        proposer,
        PROPOSAL_TYPE,
        proposal,
        id,
        span.headers,
      );
    } catch (error) {
      // Nobody saw the proposal (too large for the bus, the link closed):
      // no round to close at its deadline, nor a decision to seal for it.
      this.#rounds.delete(id);
      decided.catch(() => undefined);
      round.reject(toError(error));
      throw error;
    }
    this.#schedule(node.clock.now());
    const humans = humanVoters(proposal);
    if (humans.length > 0) {
      // Kept in the store so a person can vote from another machine (conclave
      // approve). The round runs already: a failed write is reported, not
      // thrown, or the caller would propose again beside a live round.
      try {
        await node.store.setMeta(awaitingKey(id), JSON.stringify(proposal));
      } catch (error) {
        node.events.emit({
          type: "error",
          error: `keeping proposal ${id} for people voting from other machines (conclave approve): ${toError(error).message}`,
        });
      }
      node.events.emit({
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
    const now = this.#node.clock.now();
    const proposals = new Map<string, RuntimeProposal>();
    for (const proposal of [
      ...[...this.#rounds.values()].map((round) => round.proposal),
      ...this.#voters.proposals(),
    ]) {
      proposals.set(proposal.id, proposal);
    }
    return [...proposals.values()]
      .filter(
        (p) =>
          now < p.deadline &&
          !this.#decisions.knownDecided(p.id) &&
          !this.#decidedWithHumans.has(p.id) &&
          // A rule this node's voters refuse (another key or weight for a
          // person, another threshold) is not put to people either.
          ruleMismatch(p, this.#node.privileged[p.action], this.#node.roles.names) === undefined,
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
    const envelope = checkHumanVote(this.#awaiting(proposalId), vote, this.#node.clock.now());
    // The person's key from this node's configuration, as the coordinator counts it.
    if (!this.#verify(envelope)) {
      throw new VoteRefusedError(
        `the vote is not signed with ${envelope.from}'s key (the one the swarm file gives under humans); sign with their key file`,
      );
    }
    publish(this.#node, consensusSubjects.vote(this.#node.swarm, proposalId), envelope);
    return envelope;
  }

  /**
   * Person `human`'s unsigned vote on open proposal `proposalId` and the
   * bytes to sign (see `humanBallot`).
   * @throws VoteRefusedError when no such open proposal waits for people's votes here.
   */
  humanBallot(proposalId: string, human: string, choice: "approve" | "reject", reason?: string) {
    return humanBallot(this.#awaiting(proposalId), human, choice, this.#node.clock, reason);
  }

  #awaiting(proposalId: string): RuntimeProposal {
    const open = this.awaiting().find((a) => a.proposal.id === proposalId);
    if (open === undefined) {
      throw new VoteRefusedError(
        `no open proposal ${proposalId} waits for people's votes here (decided, expired, or unknown)`,
      );
    }
    return open.proposal;
  }

  /**
   * Another coordinator announced a decision: the proposal no longer waits
   * for people here. Only its proposer's signed announcement counts: anyone
   * on the bus could otherwise close a proposal to its human voters.
   */
  #onDecidedEvent(message: Message): void {
    const node = this.#node;
    try {
      const envelope = decodeEnvelope(message.data, { maxBytes: node.limits.maxEnvelopeBytes });
      const body = envelope.body as { proposal?: unknown } | null;
      if (envelope.type !== DECIDED_EVENT || typeof body?.proposal !== "string") return;
      const proposal = this.#knownProposal(body.proposal);
      // Unknown here: nothing waits for people on it, nothing to close.
      if (proposal === undefined || envelope.from !== proposal.proposer) return;
      // Its proposer always signs it, whatever the swarm's signing policy.
      if (envelope.sig === undefined) return;
      node.keys.verify(envelope);
      this.#decidedWithHumans.add(proposal.id);
    } catch {
      // Not ours to judge here: the event bus parks bad events.
    }
  }

  /** Proposal `id` as this node knows it: coordinated here, or seen by its voters. */
  #knownProposal(id: string): RuntimeProposal | undefined {
    return this.#rounds.get(id)?.proposal ?? this.#voters.seen(id)?.proposal;
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
      envelope = decodeEnvelope(message.data, { maxBytes: this.#node.limits.maxEnvelopeBytes });
    } catch (error) {
      this.#node.deadLetters.park(message, error);
      return;
    }
    this.#step(round, envelope, this.#node.clock.now());
  }

  #onPbftMessage(message: Message): void {
    const proposalId = message.subject.slice(message.subject.lastIndexOf(".") + 1);
    const round = this.#rounds.get(proposalId);
    const seen = this.#voters.seen(proposalId);
    if (round === undefined && !this.#replicas.wants(seen)) return;
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(message.data, { maxBytes: this.#node.limits.maxEnvelopeBytes });
    } catch (error) {
      this.#node.deadLetters.park(message, error);
      return;
    }
    const now = this.#node.clock.now();
    if (round !== undefined) this.#step(round, envelope, now);
    this.#replicas.receive(proposalId, seen, envelope, now);
  }

  /** Offers a received envelope to a round this node coordinates, whatever its protocol. */
  #step(round: CoordinatedRound, envelope: Envelope, now: number): void {
    const receipt = round.counting.step(envelope, now);
    if (!receipt.accepted && receipt.evidence) this.#reportEvidence(round, receipt.evidence);
    this.#send(round, receipt.outgoing);
    this.#finishIfDecided(round);
  }

  #onLateVote(proposalId: string, message: Message): void {
    const node = this.#node;
    let late: LateVote | undefined;
    try {
      const envelope = decodeEnvelope(message.data, { maxBytes: node.limits.maxEnvelopeBytes });
      late = this.#late.take(proposalId, envelope, node.clock.now());
    } catch (error) {
      node.deadLetters.park(message, error);
      return;
    }
    if (late === undefined) return;
    node.events.emit({
      type: "consensus.late_vote",
      proposal: late.proposal,
      agent: late.voter,
      choice: late.choice,
      lateByMs: late.lateByMs,
    });
    this.#late.record(node.store, late).catch((error: unknown) =>
      node.events.emit({
        type: "error",
        error: `recording a late vote: ${toError(error).message}`,
      }),
    );
  }

  #reportEvidence(round: CoordinatedRound, evidence: ByzantineEvidence): void {
    this.#node.events.emit({
      type: "consensus.byzantine",
      proposal: round.proposal.id,
      agent: evidence.agent,
      kind: evidence.kind,
      detail: evidence.detail,
    });
  }

  /** Signs and publishes, as the proposer, what a round asks to send. */
  #send(round: CoordinatedRound, outgoing: readonly RoundOutgoing[]): void {
    for (const message of outgoing) {
      // The only kind so far: a decided cluster's representatives asked to sign its vote.
      const { cluster, votes } = message;
      try {
        sendSigned(
          this.#node,
          consensusSubjects.cluster(this.#node.swarm, round.proposal.id),
          round.proposer,
          CLUSTER_REQUEST_TYPE,
          { cluster: cluster.cluster, body: cluster.body, votes },
          round.proposal.id,
        );
      } catch (error) {
        // Called from the tick's timer too: a throw there would end the
        // process and stop the ticks that close every open round. Unsent,
        // the cluster's vote is asked for again, and the round ends at its
        // deadline all the same.
        this.#node.events.emit({
          type: "error",
          error: `asking the representatives of cluster ${cluster.cluster} of proposal ${round.proposal.id} for its vote: ${toError(error).message}`,
        });
      }
    }
  }

  #schedule(now: number): void {
    if (this.#closed || (this.#rounds.size === 0 && !this.#replicas.running)) return;
    let next = now + (this.#replicas.running ? PBFT_TICK_MS : MAX_TICK_MS);
    for (const { counting } of this.#rounds.values()) {
      next = Math.min(next, counting.nextDeadline(now) ?? now + 1);
    }
    if (next >= this.#nextTickAt && this.#cancelTick !== undefined) return;
    this.#cancelTick?.();
    this.#nextTickAt = next;
    this.#cancelTick = this.#node.clock.setTimer(() => this.#tick(), Math.max(1, next - now));
  }

  #tick(): void {
    this.#cancelTick = undefined;
    this.#nextTickAt = Number.POSITIVE_INFINITY;
    const now = this.#node.clock.now();
    this.#replicas.tick(now);
    for (const round of [...this.#rounds.values()]) {
      this.#send(round, round.counting.tick(now).outgoing);
      this.#finishIfDecided(round);
    }
    this.#voters.forgetOld(now);
    this.#schedule(now);
  }

  #finishIfDecided(round: CoordinatedRound): void {
    const result = round.counting.result();
    if (result === undefined || !this.#rounds.has(round.proposal.id)) return;
    this.#rounds.delete(round.proposal.id);
    this.#late.closed(round.proposal, this.#node.clock.now(), result.votes);
    const parts = decisionParts(result);
    this.#decisions.seal(parts, round.proposer).then(
      ({ decision, seq }) => {
        this.#node.events.emit({
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
          sendSigned(
            this.#node,
            `${this.#node.swarm}.event.${DECIDED_EVENT}`,
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
          this.#node.events.emit({
            type: "error",
            error: `announcing ${DECIDED_EVENT}: ${toError(error).message}`,
          });
        }
        if (humanVoters(round.proposal).length > 0) {
          // No longer open to people: conclave approve finds it closed.
          this.#decidedWithHumans.add(decision.proposal.id);
          this.#node.store.setMeta(awaitingKey(decision.proposal.id), "").catch(() => undefined);
        }
        round.resolve(decision);
      },
      (error: unknown) => round.reject(toError(error)),
    );
  }

  /**
   * Claims idempotency key `key` for the round about to start (`round`:
   * `<its id>@<its deadlineMs>`, or `refused:<id>` when none will), or
   * returns the decision of the round an earlier `propose` under that key
   * started. The key's claims form a chain, one link per round: when the
   * round a link names was never sealed (its node stopped), the key moves
   * on to the next link, `…:after:<that round>`, claimed atomically like
   * the first. So every later retry follows the chain to the newest round
   * and gets its decision back, and one request never gets two sealed
   * decisions, however many rounds died before one was sealed. A link
   * claimed by a `propose` refused before its round started (`refused:<id>`)
   * is passed over at once.
   */
  async #claimKey(key: string, round: string, deadlineMs: number): Promise<Decision | undefined> {
    let link = `consensus.propose:${key}`;
    for (;;) {
      const claim = await this.#node.store.claimIdempotencyKey(link, round);
      if (claim.first || typeof claim.result !== "string") return undefined;
      if (claim.result.startsWith(REFUSED_PREFIX)) {
        // That propose was refused before any round started: nothing to wait for.
        link = `consensus.propose:${key}:after:${claim.result}`;
        continue;
      }
      // `<round id>@<its deadlineMs>`; a bare id (claimed before the deadline
      // went with it) is waited for with this call's deadline.
      const [earlierId = "", ms] = claim.result.split("@");
      const earlierDeadlineMs = Number(ms);
      const earlier = await this.#earlierDecision(
        earlierId,
        ms !== undefined && Number.isSafeInteger(earlierDeadlineMs)
          ? earlierDeadlineMs
          : deadlineMs,
      );
      if (earlier !== undefined || this.#closed) return earlier;
      link = `consensus.propose:${key}:after:${claim.result}`;
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
    const clock = this.#node.clock;
    const givesUpAt = ulidTime(id) + deadlineMs + PBFT_CLOSE_GRACE_MS + EARLIER_ROUND_GRACE_MS;
    for (;;) {
      const found = await this.findDecisionByProposal(id);
      if (found !== undefined || this.#closed || clock.now() > givesUpAt) return found;
      await new Promise<void>((resolve) => clock.setTimer(resolve, EARLIER_ROUND_POLL_MS));
    }
  }

  // ---- decisions in the audit log ---------------------------------------------

  /** The decision sealed as `seal` in the audit log, if any. */
  findDecision(seal: string): Promise<Decision | undefined> {
    return this.#decisions.find(seal);
  }

  /** The decision on proposal `id` in the audit log, if any. */
  findDecisionByProposal(id: string): Promise<Decision | undefined> {
    return this.#decisions.findByProposal(id);
  }

  // ---- the guard ----------------------------------------------------------------

  /**
   * Lets a task of a privileged type through only with the seal of a
   * sealed, verifiable approval of exactly that action and data, used by no
   * other task. Tasks of other types pass.
   *
   * @throws UnapprovedActionError saying why not.
   */
  checkApproval(task: string, envelope: Envelope): Promise<void> {
    return checkApproval(this.#node, this.#decisions, task, envelope);
  }
}
