/**
 * Runs one proposal's vote on the simulated network (src/sim), whatever its
 * protocol, through the same `ConsensusRound` the runtime's engine drives
 * (`protocolRound` from src/runtime/consensus/rounds.ts): a coordinator
 * node broadcasts the proposal, steps its round with every envelope it
 * receives, ticks it, and sends what its receipts ask for (cluster-vote
 * requests to representatives); voter nodes sign their votes (quorum,
 * hierarchical), sign the cluster votes they are asked for, or run a PBFT
 * replica and send a signed refusal when their policy says no, as the
 * runtime's voter side does. Keys come from fixed seeds and every draw from
 * the run's seed, so a run replays exactly.
 */
import type { ClusterVoteBody } from "../../src/consensus/cluster-vote.js";
import { createClusterVote } from "../../src/consensus/cluster-vote.js";
import { createPbftReplica, type PbftBody, type PbftReplica } from "../../src/consensus/pbft.js";
import type { RoundResult } from "../../src/consensus/quorum.js";
import type { QuorumThreshold } from "../../src/consensus/quorum-math.js";
import type { ClusterVoteRequest } from "../../src/consensus/round.js";
import type { RuleVoter, RuntimeProposal } from "../../src/consensus/rule.js";
import type { ByzantineEvidence, VoteChoice } from "../../src/consensus/types.js";
import { createVote, hashProposal, verifierFromKeys } from "../../src/consensus/vote.js";
import type { Clock } from "../../src/core/clock.js";
import type { Random } from "../../src/core/random.js";
import { encodePublicKey } from "../../src/identity/keys.js";
import { pbftViewChangeTicks } from "../../src/runtime/consensus/pbft-replicas.js";
import { protocolRound } from "../../src/runtime/consensus/rounds.js";
import {
  BROADCAST,
  createSimNetwork,
  forgeSender,
  forging,
  type LatencyModel,
  replaying,
  type SimNetwork,
  type SimNode,
  type SimOutput,
  type SimSend,
  silent,
} from "../../src/sim/index.js";
import { canonicalize } from "../../src/wire/canonical.js";
import type { Envelope } from "../../src/wire/envelope.js";
import { createSignedEnvelope } from "../../src/wire/signature.js";
import { keysOf, START_MS } from "./pbft-harness.js";

export { START_MS };

/** The coordinator's node id. */
export const COORDINATOR = "coordinator";

export type SimProtocol = "quorum" | "hierarchical" | "pbft";

/**
 * How a voter misbehaves: `silent` (casts nothing, as if crashed),
 * `equivocating` (signs a second vote with the other choice), `forging`
 * (also sends its vote claiming another voter as sender), `replaying`
 * (re-sends messages it saw), `lying` (as a representative, signs its
 * cluster's vote with the opposite outcome).
 */
export type Fault = "silent" | "equivocating" | "forging" | "replaying" | "lying";

export interface RoundRunOptions {
  readonly seed: number;
  readonly protocol: SimProtocol;
  /** Voters `v0 … v(n-1)`, weight 1 unless `weight` says otherwise. */
  readonly n: number;
  readonly weight?: (voter: string) => number;
  readonly role?: (voter: string) => string;
  /** Default: more than half the weight. */
  readonly threshold?: QuorumThreshold;
  readonly vetoRoles?: readonly string[];
  readonly clusterSize?: number;
  /** From the proposal to its deadline. Default 2,000 ms. */
  readonly ttlMs?: number;
  readonly latency?: LatencyModel;
  readonly drop?: number;
  readonly duplicate?: number;
  /** Each voter's policy verdict; default approve. */
  readonly choose?: (voter: string, random: Random) => VoteChoice;
  readonly faults?: ReadonlyMap<string, Fault>;
  /** Virtual ms to run for after the deadline. Default 1,000. */
  readonly afterDeadlineMs?: number;
}

export interface RoundRun {
  readonly proposal: RuntimeProposal;
  readonly net: SimNetwork<unknown>;
  /** The round's result at the end of the run. */
  readonly result: RoundResult | undefined;
  /**
   * Every result the round reported after a step or tick, when it differed
   * from the one before (by outcome, tally, votes and time): one entry in a
   * safe run.
   */
  readonly outcomes: readonly string[];
  /** Evidence from the receipts the coordinator got, in order. */
  readonly evidence: readonly ByzantineEvidence[];
  /** Cluster-vote requests the coordinator sent (first requests and resends). */
  readonly requests: number;
  /** Delivered messages, one line each: replay compares these. */
  readonly trace: readonly string[];
}

/** The runtime's clocks tell whole milliseconds; the simulator's latencies are fractional. */
function ms(at: number): number {
  return Math.floor(at);
}

export function voterId(i: number): string {
  return `v${i}`;
}

type ProposalMessage = { readonly kind: "proposal"; readonly proposal: RuntimeProposal };
type RequestMessage = { readonly kind: "cluster-request"; readonly request: ClusterVoteRequest };

function isProposal(message: unknown): message is ProposalMessage {
  return (message as { kind?: unknown })?.kind === "proposal";
}
function isRequest(message: unknown): message is RequestMessage {
  return (message as { kind?: unknown })?.kind === "cluster-request";
}
function isEnvelope(message: unknown): message is Envelope {
  return typeof (message as { type?: unknown })?.type === "string";
}

/** Runs one proposal's vote from proposal to a while after its deadline. */
export function runRound(options: RoundRunOptions): RoundRun {
  const ttlMs = options.ttlMs ?? 2_000;
  const trace: string[] = [];
  const net = createSimNetwork<unknown>({
    seed: options.seed,
    latency: options.latency ?? { kind: "uniform", minMs: 1, maxMs: 20 },
    tickMs: 10,
    drop: options.drop ?? 0,
    duplicate: options.duplicate ?? 0,
    startMs: START_MS,
    trace: (event) => {
      if (event.kind === "deliver" || event.kind === "drop") {
        const m = event.message as { id?: string; kind?: string };
        trace.push(`${event.at} ${event.kind} ${event.from}→${event.to} ${m.id ?? m.kind}`);
      }
    },
  });
  const ids = Array.from({ length: options.n }, (_, i) => voterId(i));
  const voters: RuleVoter[] = ids
    .map((id) => ({
      id,
      weight: options.weight?.(id) ?? 1,
      role: options.role?.(id) ?? "member",
      publicKey: encodePublicKey(keysOf(id).publicKey),
    }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  const proposal: RuntimeProposal = {
    id: `p-${options.protocol}-${options.seed}`,
    action: "funds.transfer",
    data: { amount: 100 },
    proposer: COORDINATOR,
    ts: START_MS,
    deadline: START_MS + ttlMs,
    protocol: options.protocol,
    rule: {
      threshold: options.threshold ?? { fraction: 0.5, strict: true },
      vetoRoles: options.vetoRoles ?? [],
      voters,
      ...(options.clusterSize === undefined ? {} : { clusterSize: options.clusterSize }),
    },
  };
  const verify = verifierFromKeys(new Map(ids.map((id) => [id, keysOf(id).publicKey])));
  const round = protocolRound(proposal, verify);

  const evidence: ByzantineEvidence[] = [];
  const outcomes: string[] = [];
  let requests = 0;
  const observe = () => {
    const result = round.result();
    if (result === undefined) return;
    const print = canonicalize({
      outcome: result.outcome,
      tally: result.tally,
      decidedAt: result.decidedAt,
      votes: result.votes.map((v) => v.id),
    });
    if (outcomes.at(-1) !== print) outcomes.push(print);
  };
  const publish = (outgoing: readonly ClusterVoteRequest[]): SimOutput<unknown> => {
    const send: SimSend<unknown>[] = [];
    for (const request of outgoing) {
      requests++;
      for (const to of request.cluster.representatives) {
        send.push({ to, message: { kind: "cluster-request", request } });
      }
    }
    return { send };
  };
  const coordinator: SimNode<unknown> = {
    id: COORDINATOR,
    step(message, at) {
      if (!isEnvelope(message)) return undefined;
      const receipt = round.step(message, ms(at));
      if (!receipt.accepted && receipt.evidence) evidence.push(receipt.evidence);
      observe();
      return publish(receipt.outgoing);
    },
    tick(at) {
      const { outgoing } = round.tick(ms(at));
      observe();
      return publish(outgoing);
    },
  };
  net.add(coordinator);
  for (const id of ids) {
    net.add(voterNode(id, proposal, options, net, verify));
  }
  net.send(COORDINATOR, BROADCAST, { kind: "proposal", proposal });
  net.run({ until: proposal.deadline + (options.afterDeadlineMs ?? 1_000) });
  return { proposal, net, result: round.result(), outcomes, evidence, requests, trace };
}

/** A voter as the runtime's voter side behaves, wrapped by its fault if it has one. */
function voterNode(
  id: string,
  proposal: RuntimeProposal,
  options: RoundRunOptions,
  net: SimNetwork<unknown>,
  verify: (envelope: Envelope) => boolean,
): SimNode<unknown> {
  const { privateKey } = keysOf(id);
  const random = net.fork(`voter:${id}`);
  const clock: Clock = { now: () => ms(net.now), setTimer: () => () => undefined };
  const envelopeOptions = { clock, random: net.fork(`ulid:${id}`) };
  const fault = options.faults?.get(id);
  const hash = hashProposal(proposal);
  let voted = false;
  let replica: PbftReplica | undefined;
  let early: Envelope[] = [];
  const signed = new Set<string>();
  const drain = (): SimSend<unknown>[] =>
    replica?.hasReady() ? replica.ready().send.map((o) => ({ to: o.to, message: o.envelope })) : [];
  const vote = (choice: VoteChoice): Envelope =>
    createVote({ proposal, proposalHash: hash, from: id, privateKey, choice }, envelopeOptions);

  const onProposal = (now: number): SimSend<unknown>[] => {
    if (voted) return [];
    voted = true;
    const choice = options.choose?.(id, random) ?? "approve";
    if (proposal.protocol !== "pbft") return [{ to: COORDINATOR, message: vote(choice) }];
    const send: SimSend<unknown>[] = [];
    // PBFT: approve takes part; reject or abstain stays silent in PBFT and refuses by vote.
    if (choice !== "approve") send.push({ to: COORDINATOR, message: vote(choice) });
    replica = createPbftReplica({
      id,
      replicas: proposal.rule.voters,
      f: Math.max(0, Math.floor((proposal.rule.voters.length - 1) / 3)),
      sign: (fields, at) =>
        createSignedEnvelope<PbftBody>({ ...fields, corr: proposal.id }, privateKey, {
          clock: { now: () => at, setTimer: () => () => undefined },
          random: envelopeOptions.random,
        }),
      verify,
      validate: (candidate) => choice === "approve" && hashProposal(candidate) === hash,
      viewChangeTimeoutTicks: Math.max(2, Math.round(pbftViewChangeTicks(proposal) * 5)),
      now,
    });
    replica.propose(proposal, now);
    for (const envelope of early) replica.step(envelope, now, String(envelope.from));
    early = [];
    return [...send, ...drain()];
  };

  const onRequest = (request: ClusterVoteRequest): SimSend<unknown>[] => {
    const key = request.cluster.cluster;
    if (signed.has(key) || !request.cluster.representatives.includes(id)) return [];
    signed.add(key);
    let body: ClusterVoteBody = request.cluster.body;
    if (fault === "lying") {
      const outcome = body.outcome === "approved" ? "rejected" : "approved";
      body = { ...body, outcome, choice: outcome === "approved" ? "approve" : "reject" };
    }
    return [{ to: COORDINATOR, message: createClusterVote(body, id, privateKey, envelopeOptions) }];
  };

  let node: SimNode<unknown> = {
    id,
    step(message, at, from) {
      const now = ms(at);
      if (isProposal(message)) return { send: onProposal(now) };
      if (isRequest(message)) return { send: onRequest(message.request) };
      if (!isEnvelope(message) || proposal.protocol !== "pbft") return undefined;
      if (replica === undefined) {
        if (early.length < 512) early.push(message);
        return undefined;
      }
      replica.step(message, now, from);
      return { send: drain() };
    },
    tick(at) {
      const now = ms(at);
      if (replica === undefined) return undefined;
      replica.tick(now);
      return { send: drain() };
    },
  };
  const faultRandom = net.fork(`fault:${id}`);
  if (fault === "silent") node = silent(node);
  if (fault === "equivocating") {
    node = forging(node, {
      random: faultRandom,
      probability: 1,
      forge: (m) => {
        const body = (m as Envelope).body as { choice?: VoteChoice } | undefined;
        if (!isEnvelope(m) || m.type !== "consensus.vote" || body?.choice === undefined) {
          return undefined;
        }
        return vote(body.choice === "approve" ? "reject" : "approve");
      },
    });
  }
  if (fault === "forging") {
    const victim = voterId((Number(id.slice(1)) + 1) % options.n);
    node = forging(node, {
      random: faultRandom,
      probability: 1,
      forge: (m) => (isEnvelope(m) ? forgeSender(m, victim) : undefined),
    });
  }
  if (fault === "replaying") {
    node = replaying(node, { random: faultRandom, peers: [COORDINATOR], probability: 0.5 });
  }
  return node;
}
