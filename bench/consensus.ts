/**
 * Consensus benchmarks.
 *
 * - `consensus.quorum.100`: one quorum round with 100 signing voters on the
 *   in-process transport: each voter builds and signs its vote envelope,
 *   encodes it and publishes it on the proposal's vote subject; the
 *   coordinator decodes each one, verifies its signature and counts it, until
 *   the round is decided (unanimity, so all 100 votes are counted). Baseline
 *   in the same run: the bare crypto floor, 100 Ed25519 signs and 100
 *   verifies of the same bytes. Goal: ratio ≤ 1.3.
 * - `consensus.pbft.4` / `consensus.pbft.31`: decision latency of PBFT
 *   (pre-prepare, prepare, commit; every message signed and verified) with
 *   n replicas exchanging encoded envelopes over the in-process transport:
 *   from `propose` at every replica until every replica holds a commit
 *   certificate. p50 (value) and p99 (notes). Goal for n = 4: p50 ≤ 3 ms.
 *   The replicas share one process, which checks each message's signature
 *   once (verifyEnvelope remembers verified text, signature and key); the
 *   notes give the figure with every replica checking every message itself,
 *   as replicas in separate processes do.
 * - `consensus.hierarchical.sim.10000`: one hierarchical round of 10,000
 *   simulated voters (clusters of 5) on the deterministic simulator with
 *   1 ms latency: the proposal is broadcast, every voter signs its vote, the
 *   coordinator counts them cluster by cluster, representatives sign their
 *   cluster's vote, level by level. Wall time of the round (key generation
 *   excluded, reported in notes). Goal ≤ 10 s.
 */
import type { KeyObject } from "node:crypto";
import type { ClusterVoteBody } from "../src/consensus/cluster-vote.js";
import { createClusterVote } from "../src/consensus/cluster-vote.js";
import { createHierarchicalRound } from "../src/consensus/hierarchical.js";
import {
  createPbftReplica,
  type PbftBody,
  type PbftReplica,
  verifyPbftCertificate,
} from "../src/consensus/pbft.js";
import { createQuorumRound } from "../src/consensus/quorum.js";
import type { Proposal, Voter } from "../src/consensus/types.js";
import { createVote, hashProposal, verifierFromKeys } from "../src/consensus/vote.js";
import type { Clock } from "../src/core/clock.js";
import { type AgentKeyPair, generateAgentKeyPair } from "../src/identity/keys.js";
import { createSimNetwork, type SimNode, type SimOutput } from "../src/sim/index.js";
import { createMemoryTransport } from "../src/transport/memory/memory-transport.js";
import { decodeEnvelope, encodeEnvelope } from "../src/wire/codec.js";
import { ed25519, signEd25519, verifyEd25519 } from "../src/wire/ed25519.js";
import type { Envelope } from "../src/wire/envelope.js";
import {
  createSignedEnvelope,
  forgetVerifiedSignatures,
  signingBytes,
} from "../src/wire/signature.js";
import { type Bench, type BenchResult, percentile, timed } from "./harness.js";

type Result = Omit<BenchResult, "machine" | "ratio">;

const T0 = 1_700_000_000_000;

function keysFor(ids: readonly string[]): Map<string, AgentKeyPair> {
  return new Map(ids.map((id) => [id, generateAgentKeyPair()]));
}

function proposalOf(id: string, protocol: Proposal["protocol"], now: number): Proposal {
  return {
    id,
    action: "funds.transfer",
    data: { to: "dev-1", amount: 500 },
    proposer: "v0",
    ts: now,
    deadline: now + 60_000,
    protocol,
  };
}

// ---- consensus.quorum.100 ----------------------------------------------------------

const QUORUM_VOTERS = 100;
const QUORUM_RUNS = 30;

/** One round: sign, encode, publish, decode, verify, count; resolves when decided. */
async function quorumRound(
  run: number,
  voters: readonly Voter[],
  keys: ReadonlyMap<string, AgentKeyPair>,
  verifier: ReturnType<typeof verifierFromKeys>,
): Promise<void> {
  const transport = createMemoryTransport();
  const now = Date.now();
  const proposal = proposalOf(`01JQ${String(run).padStart(22, "0")}`, "quorum", now);
  const proposalHash = hashProposal(proposal);
  const round = createQuorumRound({
    proposal,
    proposalHash,
    voters,
    threshold: { fraction: 1 },
    verify: verifier,
  });
  const subject = `bench.consensus.vote.${proposal.id}`;
  const decided = new Promise<void>((resolve, reject) => {
    transport.subscribe(subject, (message) => {
      try {
        const receipt = round.step(decodeEnvelope(message.data), now);
        if (!receipt.accepted) reject(new Error(`vote refused: ${receipt.message}`));
        else if (receipt.outcome !== undefined) resolve();
      } catch (error) {
        reject(error);
      }
    });
  });
  for (const voter of voters) {
    const vote = createVote({
      proposal,
      proposalHash,
      from: voter.id,
      choice: "approve",
      privateKey: (keys.get(voter.id) as AgentKeyPair).privateKey,
    });
    transport.publish(subject, encodeEnvelope(vote));
  }
  await decided;
  await transport.close();
}

export const quorum100: Bench = async () => {
  const voters: Voter[] = Array.from({ length: QUORUM_VOTERS }, (_, i) => ({
    id: `v${i}`,
    weight: 1 + (i % 3),
    role: "council",
  }));
  const keys = keysFor(voters.map((v) => v.id));
  const verifier = verifierFromKeys(new Map([...keys].map(([id, k]) => [id, k.publicKey])));
  // The crypto floor signs and verifies exactly the bytes the round signs.
  const proposal = proposalOf("01JQ0000000000000000000000", "quorum", T0);
  const payloads = voters.map((v) =>
    signingBytes(
      createVote({
        proposal,
        from: v.id,
        choice: "approve",
        privateKey: (keys.get(v.id) as AgentKeyPair).privateKey,
      }),
    ),
  );
  const floor = () => {
    for (let i = 0; i < voters.length; i++) {
      const pair = keys.get(`v${i}`) as AgentKeyPair;
      const data = payloads[i] as Uint8Array;
      const signature = signEd25519(data, pair.privateKey);
      if (!verifyEd25519(data, signature, pair.publicKey)) throw new Error("verify failed");
    }
  };
  // Warm both paths, then alternate so drift hits both alike; best of each.
  for (let i = 0; i < 3; i++) {
    floor();
    await quorumRound(-1 - i, voters, keys, verifier);
  }
  let bestRound = Number.POSITIVE_INFINITY;
  let bestFloor = Number.POSITIVE_INFINITY;
  for (let run = 0; run < QUORUM_RUNS; run++) {
    bestFloor = Math.min(bestFloor, await timed(floor));
    bestRound = Math.min(bestRound, await timed(() => quorumRound(run, voters, keys, verifier)));
  }
  const ratio = bestRound / bestFloor;
  return {
    name: "consensus.quorum.100",
    value: round2(bestRound),
    unit: "ms/round",
    baseline: `100 Ed25519 signs + 100 verifies of the same vote bytes (${ed25519().name}, as the round)`,
    baselineValue: round2(bestFloor),
    goal: "≤ 1.3 × the crypto floor",
    met: ratio <= 1.3,
    notes: `best of ${QUORUM_RUNS}: ${QUORUM_VOTERS} voters build, sign and encode vote envelopes and publish them on the memory transport; the coordinator decodes, verifies and counts every one (unanimity threshold, so all 100 count)`,
  };
};

// ---- consensus.pbft.n ---------------------------------------------------------------

/** A clock pinned to one instant, for `createEnvelope` inside `sign`. */
function at(now: number): Clock {
  return { now: () => now, setTimer: () => () => undefined };
}

interface PbftCluster {
  /** Signatures made and checked so far. */
  readonly crypto: { signs: number; verifies: number };
  /** A signed PBFT commit, for the crypto floor. */
  sample(): { bytes: Uint8Array; key: AgentKeyPair };
  readonly replicas: Map<string, PbftReplica>;
  readonly ids: readonly string[];
  readonly transport: ReturnType<typeof createMemoryTransport>;
  /** Resolves once every replica committed `proposalId`. */
  decide(proposal: Proposal): Promise<void>;
  close(): Promise<void>;
}

function pbftCluster(n: number, shared: boolean): PbftCluster {
  const f = Math.floor((n - 1) / 3);
  const ids = Array.from({ length: n }, (_, i) => `r${String(i).padStart(2, "0")}`);
  const replicasList: Voter[] = ids.map((id) => ({ id, weight: 1, role: "replica" }));
  const keys = keysFor(ids);
  const crypto = { signs: 0, verifies: 0 };
  const checkSignature = verifierFromKeys(new Map([...keys].map(([id, k]) => [id, k.publicKey])));
  // Counts the signature checks that run the arithmetic. Shared: the
  // replicas share this process, so each message's signature is checked
  // once, whichever replica sees it first (verifyEnvelope remembers it).
  // Not shared: every replica checks every message itself, as replicas in
  // separate processes do. A commit certificate re-checks messages its
  // replica already verified either way, answered from the envelope itself.
  const checkedObjects = new WeakSet<Envelope>();
  const checkedSignatures = new Set<string>();
  const verifier = (envelope: Envelope) => {
    if (shared) {
      if (!checkedSignatures.has(envelope.sig as string)) {
        checkedSignatures.add(envelope.sig as string);
        crypto.verifies++;
      }
    } else if (!checkedObjects.has(envelope)) {
      checkedObjects.add(envelope);
      forgetVerifiedSignatures();
      crypto.verifies++;
    }
    return checkSignature(envelope);
  };
  let sample: Envelope | undefined;
  const transport = createMemoryTransport();
  const replicas = new Map<string, PbftReplica>();
  const waiting = new Map<string, { left: Set<string>; resolve: () => void }>();
  const flush = (replica: PbftReplica) => {
    if (!replica.hasReady()) return;
    const ready = replica.ready();
    for (const { to, envelope } of ready.send) {
      const data = encodeEnvelope(envelope);
      if (to === "*") {
        for (const other of ids) {
          if (other !== replica.id) transport.publish(`bench.pbft.${other}`, data);
        }
      } else {
        transport.publish(`bench.pbft.${to}`, data);
      }
    }
    for (const committed of ready.committed) {
      const wait = waiting.get(committed.proposal.id);
      if (wait === undefined) continue;
      wait.left.delete(replica.id);
      if (wait.left.size === 0) {
        waiting.delete(committed.proposal.id);
        const check = verifyPbftCertificate(committed.certificate, {
          replicas: replicasList,
          f,
          verify: verifier,
          proposal: committed.proposal,
        });
        if (!check.ok) throw new Error(`bad certificate: ${check.reason}`);
        wait.resolve();
      }
    }
  };
  for (const id of ids) {
    const key = (keys.get(id) as AgentKeyPair).privateKey;
    const replica = createPbftReplica({
      id,
      replicas: replicasList,
      f,
      sign: (fields, now) => {
        crypto.signs++;
        const signed = createSignedEnvelope<PbftBody>(fields, key, { clock: at(now) });
        if (signed.type === "consensus.pbft.commit") sample = signed;
        return signed;
      },
      verify: verifier,
      validate: () => true,
      viewChangeTimeoutTicks: 1_000_000,
      now: Date.now(),
      window: 100_000,
    });
    replicas.set(id, replica);
    transport.subscribe(`bench.pbft.${id}`, (message) => {
      replica.step(decodeEnvelope(message.data), Date.now());
      flush(replica);
    });
  }
  return {
    crypto,
    sample: () => ({
      bytes: signingBytes(sample as Envelope),
      key: keys.get((sample as Envelope).from) as AgentKeyPair,
    }),
    replicas,
    ids,
    transport,
    decide(proposal) {
      const done = new Promise<void>((resolve) => {
        waiting.set(proposal.id, { left: new Set(ids), resolve });
      });
      const now = Date.now();
      for (const replica of replicas.values()) {
        replica.propose(proposal, now);
        flush(replica);
      }
      return done;
    },
    close: () => transport.close(),
  };
}

/** p50 and p99 decision latency, and the crypto floor of one decision. */
async function pbftRun(
  n: number,
  decisions: number,
  shared: boolean,
): Promise<{ p50: number; p99: number; signs: number; verifies: number; floor: number }> {
  forgetVerifiedSignatures();
  const cluster = pbftCluster(n, shared);
  const samples: number[] = [];
  const warmup = Math.max(3, Math.floor(decisions / 10));
  let before = { signs: 0, verifies: 0 };
  for (let i = 0; i < warmup + decisions; i++) {
    if (i === warmup) before = { ...cluster.crypto };
    const proposal = proposalOf(`01JP${String(i).padStart(22, "0")}`, "pbft", Date.now());
    const ms = await timed(() => cluster.decide(proposal));
    if (i >= warmup) samples.push(ms);
  }
  await cluster.close();
  samples.sort((a, b) => a - b);
  // The crypto floor of one decision: as many raw signs and verifies as it made.
  const signs = Math.round((cluster.crypto.signs - before.signs) / decisions);
  const verifies = Math.round((cluster.crypto.verifies - before.verifies) / decisions);
  const { bytes, key } = cluster.sample();
  const signature = signEd25519(bytes, key.privateKey);
  let floor = Number.POSITIVE_INFINITY;
  for (let run = 0; run < 20; run++) {
    floor = Math.min(
      floor,
      await timed(() => {
        for (let i = 0; i < signs; i++) signEd25519(bytes, key.privateKey);
        for (let i = 0; i < verifies; i++) verifyEd25519(bytes, signature, key.publicKey);
      }),
    );
  }
  return {
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    signs,
    verifies,
    floor,
  };
}

function pbftBench(n: number, decisions: number, goalMs?: number): Bench {
  return async () => {
    const cold = await pbftRun(n, decisions, false);
    const warm = await pbftRun(n, decisions, true);
    const result: Result = {
      name: `consensus.pbft.${n}`,
      value: round2(warm.p50),
      unit: "ms p50",
      baseline: `${warm.signs} Ed25519 signs + ${warm.verifies} verifies (the messages one decision signs and checks, ${ed25519().name}, as the replicas)`,
      baselineValue: round2(warm.floor),
      notes:
        `p99 ${round2(warm.p99)} ms over ${decisions} decisions; n = ${n}, f = ${Math.floor((n - 1) / 3)}; every message signed, encoded, published on the memory transport, decoded and verified; until every replica holds a 2f+1 commit certificate. ` +
        `The replicas share one process, which checks each message's signature once (the first replica to receive it; the others find the same text, signature and key verified). ` +
        `With every replica checking every message itself, as replicas in separate processes do: p50 ${round2(cold.p50)} ms, p99 ${round2(cold.p99)} ms, against a floor of ${round2(cold.floor)} ms (${cold.signs} signs + ${cold.verifies} verifies)`,
      ...(goalMs === undefined ? {} : { goal: `p50 ≤ ${goalMs} ms`, met: warm.p50 <= goalMs }),
    };
    return result;
  };
}

export const pbft4: Bench = pbftBench(4, 300, 3);
export const pbft31: Bench = pbftBench(31, 30);

// ---- consensus.hierarchical.sim.10000 ------------------------------------------------

const HIERARCHY_VOTERS = 10_000;

type HierMessage =
  | { readonly kind: "proposal" }
  | { readonly kind: "vote"; readonly envelope: Envelope }
  | { readonly kind: "sign-cluster"; readonly body: ClusterVoteBody };

export const hierarchical10000: Bench = async () => {
  const ids = Array.from({ length: HIERARCHY_VOTERS }, (_, i) => `a${i}`);
  let keys: Map<string, AgentKeyPair> = new Map();
  const keygenMs = await timed(() => {
    keys = keysFor(ids);
  });
  const voters: Voter[] = ids.map((id, i) => ({ id, weight: 1 + (i % 4), role: "worker" }));
  const publicKeys = new Map<string, KeyObject>([...keys].map(([id, k]) => [id, k.publicKey]));
  const verifier = verifierFromKeys(publicKeys);
  let outcome = "";
  let levels = 0;
  let clusterVotes = 0;
  let virtualMs = 0;
  let events = 0;
  const wallMs = await timed(() => {
    const network = createSimNetwork<HierMessage>({
      seed: 10_000,
      latency: { kind: "fixed", ms: 1 },
      tickMs: 100,
      startMs: T0,
    });
    const proposal = proposalOf("01JH0000000000000000000000", "hierarchical", T0);
    const proposalHash = hashProposal(proposal);
    const round = createHierarchicalRound({
      proposal,
      proposalHash,
      voters,
      threshold: { fraction: 0.5 },
      clusterSize: 5,
      verify: verifier,
    });
    levels = round.plan.levels.length;
    const ask = (
      decided: readonly { representatives: readonly string[]; body: ClusterVoteBody }[],
    ) =>
      decided.map((d) => ({
        to: d.representatives[0] as string,
        message: { kind: "sign-cluster", body: d.body } as HierMessage,
      }));
    const coordinator: SimNode<HierMessage> = {
      id: "coordinator",
      step(message, now): SimOutput<HierMessage> | undefined {
        if (message.kind !== "vote") return undefined;
        const receipt = round.step(message.envelope, now);
        return { send: ask(receipt.decided) };
      },
      tick(now) {
        const { decided } = round.tick(now);
        return { send: ask(decided) };
      },
    };
    network.add(coordinator);
    for (const voter of voters) {
      const privateKey = (keys.get(voter.id) as AgentKeyPair).privateKey;
      network.add({
        id: voter.id,
        step(message, now) {
          if (message.kind === "proposal") {
            const envelope = createVote(
              {
                proposal,
                proposalHash,
                from: voter.id,
                choice: voter.weight === 4 ? "reject" : "approve",
                privateKey,
              },
              { clock: at(now) },
            );
            return { send: [{ to: "coordinator", message: { kind: "vote", envelope } }] };
          }
          if (message.kind === "sign-cluster") {
            clusterVotes++;
            const envelope = createClusterVote(message.body, voter.id, privateKey, {
              clock: at(now),
            });
            return { send: [{ to: "coordinator", message: { kind: "vote", envelope } }] };
          }
          return undefined;
        },
      });
    }
    network.send("coordinator", "*", { kind: "proposal" });
    const result = network.run({
      until: () => round.result() !== undefined,
      maxTimeMs: T0 + 120_000,
    });
    virtualMs = result.now - T0;
    events = network.stats.events;
    outcome = round.result()?.outcome ?? "undecided";
  });
  return {
    name: "consensus.hierarchical.sim.10000",
    value: Math.round(wallMs),
    unit: "ms wall",
    baseline: null,
    baselineValue: null,
    goal: "≤ 10000 ms",
    met: wallMs <= 10_000 && outcome !== "undecided",
    notes: `${HIERARCHY_VOTERS} voters, clusters of 5, ${levels} levels, ${clusterVotes} cluster votes signed; outcome ${outcome} after ${virtualMs} virtual ms, ${events} simulator events; key generation (${Math.round(keygenMs)} ms) excluded`,
  };
};

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

/** The consensus benchmarks, by name (merged into bench/run.ts by the lead). */
export const consensusBenches: Record<string, Bench> = {
  "consensus.quorum.100": quorum100,
  "consensus.pbft.4": pbft4,
  "consensus.pbft.31": pbft31,
  "consensus.hierarchical.sim.10000": hierarchical10000,
};
