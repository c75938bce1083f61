/**
 * One randomised PBFT run for the safety property: n = 3f + 1 replicas, up to
 * f of them Byzantine with a random mix of behaviours (silent, equivocating
 * with validly signed conflicting messages, forging, replaying, sending
 * garbage), over a network that drops, duplicates, reorders, partitions and
 * pauses replicas. Everything is drawn from the seed, so a failing seed
 * replays exactly.
 */
import {
  PBFT_MESSAGE_TYPES,
  type PbftPrePrepareBody,
  type PbftViewChangeBody,
  type PbftVoteBody,
  pbftDigest,
  verifyPbftCertificate,
} from "../../src/consensus/pbft.js";
import type { Proposal } from "../../src/consensus/types.js";
import { type Random, seededRandom } from "../../src/core/random.js";
import {
  deriveSeed,
  equivocating,
  forgeSender,
  forging,
  garbage,
  garbageEnvelope,
  type LatencyModel,
  replaying,
  type SimNode,
  silent,
  tamperBody,
} from "../../src/sim/index.js";
import type { Envelope } from "../../src/wire/envelope.js";
import {
  type ByzantineContext,
  createCluster,
  fieldsOf,
  makeProposal,
  PBFT_TYPES,
  type ReplicaLog,
  replicaId,
  START_MS,
  summary,
} from "./pbft-harness.js";

export interface SafetyRun {
  readonly seed: number;
  readonly f: number;
  /** Broken invariants; empty when the run was safe. */
  readonly violations: readonly string[];
  /** Sequence numbers committed by at least one honest replica. */
  readonly committedSeqs: number;
  readonly byzantine: readonly string[];
  readonly behaviours: readonly string[];
  readonly viewChanges: number;
  readonly evidence: number;
  readonly description: string;
}

/** Virtual time each run lasts; deadlines fall well inside it. */
const HORIZON_MS = 2_000;

const BEHAVIOURS = ["silent", "equivocating", "forging", "replaying", "garbage"] as const;
type Behaviour = (typeof BEHAVIOURS)[number];

/** Evidence kinds that are proof: an honest replica must never be named in them. */
const PROOF_KINDS = new Set(["equivocation", "out-of-view", "wrong-proposal"]);

export function runSafetySeed(seed: number, f: number): SafetyRun {
  const n = 3 * f + 1;
  const random = seededRandom(deriveSeed(seed, "scenario"));
  const pick = <T>(items: readonly T[]): T => items[random.int(items.length)] as T;
  const ids = Array.from({ length: n }, (_, i) => replicaId(i));

  // Who lies, and how.
  const byzantineCount = random.int(f + 1);
  const order = [...ids];
  for (let i = order.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [order[i], order[j]] = [order[j] as string, order[i] as string];
  }
  const liars = order.slice(0, byzantineCount);
  // The primary of view 0 lies in half the runs that have liars.
  if (byzantineCount > 0 && !liars.includes("r0") && random.next() < 0.5) liars[0] = "r0";
  const plans = new Map<string, Behaviour[]>();
  for (const id of liars) {
    const chosen = BEHAVIOURS.filter((b) => b !== "silent" && random.next() < 0.5);
    plans.set(id, random.next() < 0.15 || chosen.length === 0 ? ["silent"] : chosen);
  }

  // Proposals, and the alternatives a Byzantine primary swaps in.
  const proposalCount = 1 + random.int(5);
  const proposals: { proposal: Proposal; atMs: number; at: string[] }[] = [];
  for (let i = 0; i < proposalCount; i++) {
    const atMs = random.int(300);
    const ttl = 300 + random.int(1_500);
    const proposal = makeProposal(`${seed}-${i}`, START_MS + atMs, ttl, { amount: i });
    const at = random.next() < 0.8 ? ids : ids.filter(() => random.next() < 0.6);
    proposals.push({ proposal, atMs, at: at.length > 0 ? at : [pick(ids)] });
  }
  const alternatives = proposals.map(({ proposal }) => ({
    ...proposal,
    data: { amount: 1_000_000 },
  }));
  const digests = [
    ...proposals.map((p) => pbftDigest(p.proposal)),
    ...alternatives.map(pbftDigest),
  ];
  digests.push(pbftDigest(null));

  const wrappers = new Map<
    string,
    (node: SimNode<unknown>, c: ByzantineContext) => SimNode<unknown>
  >();
  for (const [id, behaviours] of plans) {
    wrappers.set(id, (node, context) => {
      let wrapped = node;
      for (const behaviour of behaviours) {
        wrapped = wrap(wrapped, behaviour, context, { ids, alternatives, digests });
      }
      return wrapped;
    });
  }

  // The network.
  const latency: LatencyModel = pick<LatencyModel>([
    { kind: "fixed", ms: 1 + random.int(10) },
    { kind: "uniform", minMs: 1, maxMs: 5 + random.int(40) },
    { kind: "normal", meanMs: 10 + random.int(20), stdDevMs: 1 + random.int(10), minMs: 1 },
    { kind: "exponential", meanMs: 5 + random.int(20), minMs: 1 },
  ]);
  const drop = pick([0, 0, 0.02, 0.05, 0.1]);
  const duplicate = pick([0, 0.02, 0.05, 0.1]);
  const accept = seededRandom(deriveSeed(seed, "policy"));
  const policy = new Map<string, boolean>();
  const cluster = createCluster({
    seed,
    n,
    f,
    latency,
    drop,
    duplicate,
    tickMs: 10,
    viewChangeTimeoutTicks: 10 + random.int(20),
    byzantine: wrappers,
    validate: (replica, proposal) => {
      const key = `${replica}|${proposal.id}|${pbftDigest(proposal)}`;
      let verdict = policy.get(key);
      if (verdict === undefined) {
        verdict = accept.next() < 0.9;
        policy.set(key, verdict);
      }
      return verdict;
    },
  });
  const net = cluster.net;
  const honest = cluster.honest;
  const events: string[] = [];
  // Targeted loss: for a while, lose many prepares and commits, so that some
  // replicas prepare or commit and others do not when the view changes: the
  // states a view change must get right.
  if (random.next() < 0.6) {
    const lossy = seededRandom(deriveSeed(seed, "targeted-loss"));
    const fromMs = START_MS + random.int(300);
    const toMs = fromMs + 100 + random.int(900);
    const prepareLoss = pick([0, 0.3, 0.6]);
    const commitLoss = pick([0.3, 0.6, 0.9]);
    net.filter((message) => {
      if (net.now < fromMs || net.now > toMs) return true;
      const type = (message as Envelope)?.type;
      if (type === PBFT_MESSAGE_TYPES.commit) return lossy.next() >= commitLoss;
      if (type === PBFT_MESSAGE_TYPES.prepare) return lossy.next() >= prepareLoss;
      return true;
    });
    events.push(
      `lose prepares ${prepareLoss} commits ${commitLoss} ${fromMs - START_MS}-${toMs - START_MS}ms`,
    );
  }
  for (const { proposal, atMs, at } of proposals) {
    net.at(START_MS + atMs, () => cluster.propose(proposal, at));
  }
  if (random.next() < 0.3) {
    const side = ids.filter(() => random.next() < 0.4);
    const from = random.int(600);
    const to = from + 100 + random.int(600);
    if (side.length > 0 && side.length < n) {
      net.at(START_MS + from, () => net.partition(side));
      net.at(START_MS + to, () => net.heal());
      events.push(`partition [${side.join(" ")}] ${from}-${to}ms`);
    }
  }
  if (random.next() < 0.2) {
    const victim = pick(honest);
    const from = random.int(600);
    const to = from + 50 + random.int(500);
    net.at(START_MS + from, () => net.crash(victim));
    net.at(START_MS + to, () => net.restart(victim));
    events.push(`pause ${victim} ${from}-${to}ms`);
  }
  net.run({ until: START_MS + HORIZON_MS });

  // The invariants.
  const violations: string[] = [];
  const bySeq = new Map<number, { id: string; digest: string; proposal: string }>();
  for (const id of honest) {
    const log = cluster.logs.get(id) as ReplicaLog;
    for (const committed of log.committed) {
      const known = bySeq.get(committed.seq);
      if (known === undefined) {
        bySeq.set(committed.seq, { id, digest: committed.digest, proposal: committed.proposal.id });
      } else if (known.digest !== committed.digest) {
        violations.push(
          `seq ${committed.seq}: ${known.id} committed ${known.proposal}, ${id} committed ${committed.proposal.id}`,
        );
      }
      const check = verifyPbftCertificate(committed.certificate, {
        replicas: cluster.voters,
        f,
        verify: cluster.verify,
        proposal: committed.proposal,
      });
      if (!check.ok || check.seq !== committed.seq) {
        violations.push(`${id}: certificate for seq ${committed.seq} does not check`);
      }
    }
    for (const evidence of log.evidence) {
      if (PROOF_KINDS.has(evidence.kind) && honest.includes(evidence.agent)) {
        violations.push(
          `${id} holds ${evidence.kind} evidence against honest ${evidence.agent}: ${evidence.detail}`,
        );
      }
    }
  }
  const viewChanges = Math.max(...honest.map((id) => cluster.replicas.get(id)?.status().view ?? 0));
  const evidence = honest.reduce(
    (sum, id) => sum + (cluster.logs.get(id)?.evidence.length ?? 0),
    0,
  );
  const behaviours = [...plans].map(([id, b]) => `${id}:${b.join("+")}`);
  const description = [
    `seed ${seed}, f ${f}`,
    `byzantine ${behaviours.join(" ") || "none"}`,
    `latency ${JSON.stringify(latency)} drop ${drop} duplicate ${duplicate}`,
    ...events,
    summary(cluster),
  ].join("\n  ");
  return {
    seed,
    f,
    violations,
    committedSeqs: bySeq.size,
    byzantine: liars,
    behaviours,
    viewChanges,
    evidence,
    description,
  };
}

interface Pools {
  readonly ids: readonly string[];
  readonly alternatives: readonly Proposal[];
  readonly digests: readonly string[];
}

function wrap(
  node: SimNode<unknown>,
  behaviour: Behaviour,
  context: ByzantineContext,
  pools: Pools,
): SimNode<unknown> {
  const { random, peers } = context;
  switch (behaviour) {
    case "silent":
      return silent(node);
    case "equivocating":
      return equivocating(node, {
        random,
        peers,
        probability: 0.5,
        conflict: (message, r) => conflicting(message as Envelope, r, context, pools),
      });
    case "forging":
      return forging(node, {
        random,
        probability: 0.3,
        forge: (message, r) => {
          const envelope = message as Envelope;
          if (typeof envelope?.type !== "string") return undefined;
          if (r.next() < 0.5) return tamperBody(envelope, r);
          const victim = peers[Math.floor(r.next() * peers.length)] as string;
          return forgeSender(envelope, victim, (forged) => context.resign(fieldsOf(forged)));
        },
      });
    case "replaying":
      return replaying(node, { random, peers, probability: 0.1, capacity: 64 });
    case "garbage":
      return garbage(node, {
        random,
        peers,
        probability: 0.05,
        make: (r) =>
          garbageEnvelope(r, {
            from: context.id,
            types: PBFT_TYPES,
            now: context.now(),
            sign: (envelope) => context.resign(fieldsOf(envelope)),
          }),
      });
  }
}

/** A validly signed message that contradicts `message` (the liar's own signature). */
function conflicting(
  message: Envelope,
  random: Random,
  context: ByzantineContext,
  pools: Pools,
): Envelope | undefined {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random.next() * items.length)] as T;
  switch (message?.type) {
    case PBFT_MESSAGE_TYPES.prePrepare: {
      const body = message.body as PbftPrePrepareBody;
      const proposal = random.next() < 0.2 ? null : pick(pools.alternatives);
      return context.resign({
        ...fieldsOf(message),
        body: { ...body, proposal, digest: pbftDigest(proposal) },
      });
    }
    case PBFT_MESSAGE_TYPES.prepare:
    case PBFT_MESSAGE_TYPES.commit: {
      const body = message.body as PbftVoteBody;
      return context.resign({
        ...fieldsOf(message),
        body: { ...body, digest: pick(pools.digests) },
      });
    }
    case PBFT_MESSAGE_TYPES.viewChange: {
      // Hides what it prepared.
      const body = message.body as PbftViewChangeBody;
      const prepared = body.prepared.filter(() => random.next() < 0.3);
      return context.resign({ ...fieldsOf(message), body: { ...body, prepared, prePrepared: [] } });
    }
    case PBFT_MESSAGE_TYPES.newView: {
      const body = message.body as { prePrepares: unknown[] };
      return context.resign({
        ...fieldsOf(message),
        body: { ...body, prePrepares: body.prePrepares.slice(1) },
      });
    }
    default:
      return undefined;
  }
}
