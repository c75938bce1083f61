import assert from "node:assert/strict";
import type { KeyObject } from "node:crypto";
import { cpus } from "node:os";
import { describe, test } from "node:test";
import fc from "fast-check";
import { type ClusterVoteBody, createClusterVote } from "../../src/consensus/cluster-vote.js";
import { verifyDecision } from "../../src/consensus/decision.js";
import {
  type ClusterDecision,
  createHierarchicalRound,
  type HierarchicalRound,
  type HierarchicalRoundConfig,
} from "../../src/consensus/hierarchical.js";
import { planHierarchy } from "../../src/consensus/hierarchy-plan.js";
import { createQuorumRound } from "../../src/consensus/quorum.js";
import type { QuorumThreshold } from "../../src/consensus/quorum-math.js";
import { sealDecision } from "../../src/consensus/seal.js";
import type { Proposal, VoteChoice, Voter } from "../../src/consensus/types.js";
import { createVote, hashProposal, verifierFromKeys } from "../../src/consensus/vote.js";
import { ManualClock } from "../../src/core/clock.js";
import { ConfigError } from "../../src/errors/index.js";
import { type AgentKeyPair, generateAgentKeyPair } from "../../src/identity/keys.js";
import type { Envelope } from "../../src/wire/envelope.js";

const T0 = 1_700_000_000_000;
const clock = new ManualClock(T0);

/** Key pairs, generated on first use and kept: key generation is the slow part of a big swarm. */
const keyCache = new Map<string, AgentKeyPair>();
function keysOf(id: string): AgentKeyPair {
  let pair = keyCache.get(id);
  if (pair === undefined) {
    pair = generateAgentKeyPair();
    keyCache.set(id, pair);
  }
  return pair;
}
const verify = verifierFromKeys((id: string): KeyObject | undefined => keyCache.get(id)?.publicKey);

function makeVoters(n: number, weight: (i: number) => number = () => 1): Voter[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `agent-${i}`,
    weight: weight(i),
    role: "worker",
  }));
}

function proposal(overrides: Partial<Proposal> = {}): Proposal {
  return {
    id: "01JD00000000000000000000H1",
    action: "backup.delete",
    data: { backup: "nightly-2026-11-20" },
    proposer: "agent-0",
    ts: T0,
    deadline: T0 + 60_000,
    protocol: "hierarchical",
    ...overrides,
  };
}

/** Signs the cluster votes a step or tick asks for, with the first representative, and feeds them back. */
function relay(round: HierarchicalRound, decided: readonly ClusterDecision[], now: number): number {
  let cast = 0;
  const queue = [...decided];
  while (queue.length > 0 && round.result() === undefined) {
    const d = queue.shift() as ClusterDecision;
    const rep = d.representatives[0] as string;
    const envelope = createClusterVote(d.body, rep, keysOf(rep).privateKey, { clock });
    cast++;
    queue.push(...round.step(envelope, now).decided);
  }
  return cast;
}

function castAll(round: HierarchicalRound, votes: readonly Envelope[], now: number): number {
  let clusterVotes = 0;
  for (const vote of votes) {
    if (round.result() !== undefined) break;
    clusterVotes += relay(round, round.step(vote, now).decided, now);
  }
  return clusterVotes;
}

/** Closes the levels one by one, relaying the cluster votes each closing asks for. */
function runToDeadline(round: HierarchicalRound): void {
  for (const deadline of round.plan.levelDeadlines) {
    if (round.result() !== undefined) return;
    relay(round, round.tick(deadline).decided, deadline);
  }
}

function config(overrides: Partial<HierarchicalRoundConfig> = {}): HierarchicalRoundConfig {
  return {
    proposal: proposal(),
    voters: makeVoters(23),
    threshold: { fraction: 0.5, strict: true },
    verify,
    ...overrides,
  };
}

describe("hierarchy plan", () => {
  test("partitions every voter into exactly one cluster of k±1, up to one root", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 2, max: 9 }), (n, k) => {
        const plan = planHierarchy({
          proposal: proposal(),
          voters: makeVoters(n),
          threshold: { fraction: 0.5 },
          clusterSize: k,
        });
        const seen = plan.levels[0]?.flatMap((node) => node.members) ?? [];
        assert.equal(seen.length, n);
        assert.equal(new Set(seen).size, n);
        for (const level of plan.levels) {
          for (const node of level) {
            assert.ok(node.members.length <= k && node.members.length >= 1);
            if (level.length > 1) assert.ok(node.members.length >= Math.floor(k / 2));
          }
        }
        assert.equal(plan.levels.at(-1)?.length, 1);
        assert.equal(plan.root.weight, n);
        assert.equal(plan.root.representatives.length, 0);
      }),
      { numRuns: 200 },
    );
  });

  test("is deterministic, independent of the order voters are listed in, and moved by the seed", () => {
    const voters = makeVoters(60);
    const base = { proposal: proposal(), threshold: { fraction: 0.5 } } as const;
    const a = planHierarchy({ ...base, voters });
    const b = planHierarchy({ ...base, voters: [...voters].reverse() });
    assert.deepEqual(
      a.levels.map((l) => l.map((n) => n.members)),
      b.levels.map((l) => l.map((n) => n.members)),
    );
    assert.deepEqual(a.record, b.record);
    const c = planHierarchy({ ...base, voters, seed: (a.seed + 1) >>> 0 });
    assert.notDeepEqual(
      a.levels[0]?.map((n) => n.members),
      c.levels[0]?.map((n) => n.members),
    );
  });

  test("representatives are the best-scored members, then the clusters' primaries above", () => {
    const voters = makeVoters(30);
    const score = (v: Voter) => Number(v.id.split("-")[1]);
    const plan = planHierarchy({
      proposal: proposal(),
      voters,
      threshold: { fraction: 0.5 },
      score,
    });
    for (const leaf of plan.levels[0] ?? []) {
      const best = [...leaf.members].sort(
        (x, y) => Number(y.split("-")[1]) - Number(x.split("-")[1]),
      );
      assert.deepEqual(leaf.representatives, best.slice(0, 2));
    }
    for (const node of plan.levels[1] ?? []) {
      if (node.parent === undefined) continue;
      const primaries = node.members.map((id) => plan.nodes.get(id)?.representatives[0]);
      for (const rep of node.representatives) assert.ok(primaries.includes(rep));
    }
  });

  test("refuses bad configurations", () => {
    const base = {
      proposal: proposal(),
      voters: makeVoters(10),
      threshold: { fraction: 0.5 },
    } as const;
    assert.throws(() => planHierarchy({ ...base, clusterSize: 1 }), ConfigError);
    assert.throws(() => planHierarchy({ ...base, voters: [] }), ConfigError);
    assert.throws(() => planHierarchy({ ...base, levelDeadlines: [T0] }), /level deadlines/);
    assert.throws(
      () => planHierarchy({ ...base, representatives: { "0.0": ["nobody"] } }),
      ConfigError,
    );
  });
});

describe("hierarchical round", () => {
  test("10,000 voters decide in one round, with every vote signed and verified", () => {
    const n = 10_000;
    const voters = makeVoters(n, (i) => 1 + (i % 3) * 0.5);
    const t0 = performance.now();
    for (const v of voters) keysOf(v.id);
    const tKeys = performance.now();
    const p = proposal();
    const proposalHash = hashProposal(p);
    const round = createHierarchicalRound({
      proposal: p,
      proposalHash,
      voters,
      threshold: { fraction: 0.5, strict: true },
      verify,
    });
    const tPlan = performance.now();
    const votes = voters.map((v, i) =>
      createVote(
        {
          proposal: p,
          proposalHash,
          from: v.id,
          choice: i % 5 === 0 ? "reject" : "approve",
          privateKey: keysOf(v.id).privateKey,
        },
        { clock },
      ),
    );
    const tSign = performance.now();
    const clusterVotes = castAll(round, votes, T0 + 1_000);
    const tRound = performance.now();
    const result = round.result();
    assert.ok(result);
    assert.equal(result.outcome, "approved");
    assert.deepEqual(result.evidence, []);
    const decision = sealDecision(result, null);
    const tSeal = performance.now();
    const verdict = verifyDecision(decision, {
      publicKeys: new Map([...keyCache].map(([id, k]) => [id, k.publicKey])),
      voters,
      threshold: { fraction: 0.5, strict: true },
    });
    const tVerify = performance.now();
    assert.deepEqual(verdict, { ok: true });
    const ms = (a: number, b: number) => `${(b - a).toFixed(0)} ms`;
    console.log(
      [
        `hierarchical, ${n} voters, clusters of 5, levels ${round.plan.levels.map((l) => l.length).join("/")} on ${cpus()[0]?.model ?? "?"}:`,
        `  keys ${ms(t0, tKeys)} (not part of a round)`,
        `  plan ${ms(tKeys, tPlan)}`,
        `  sign ${n} votes ${ms(tPlan, tSign)}`,
        `  step votes until decided + sign ${clusterVotes} cluster votes ${ms(tSign, tRound)}`,
        `  seal ${ms(tRound, tSeal)}; verify offline (${result.votes.length} envelopes) ${ms(tSeal, tVerify)}`,
        `  one round (plan + sign + step) ${ms(tKeys, tRound)}`,
      ].join("\n"),
    );
    // How long it takes is measured by the consensus benchmarks, not asserted here.
  });

  test("when every cluster agrees internally, the outcome is the flat weighted quorum's", () => {
    const thresholds: QuorumThreshold[] = [
      { fraction: 0.5 },
      { fraction: 0.5, strict: true },
      { fraction: 2 / 3 },
      { fraction: 0.75 },
    ];
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 80 }),
        fc.integer({ min: 2, max: 6 }),
        fc.constantFrom(...thresholds),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 80, maxLength: 80 }),
        fc.array(fc.constantFrom<VoteChoice>("approve", "reject", "abstain"), {
          minLength: 40,
          maxLength: 40,
        }),
        (n, clusterSize, threshold, tenths, clusterChoices) => {
          const voters = makeVoters(n, (i) => (tenths[i] as number) / 10);
          const p = proposal();
          const hash = hashProposal(p);
          const round = createHierarchicalRound({
            proposal: p,
            proposalHash: hash,
            voters,
            threshold,
            clusterSize,
            verify,
          });
          // Every cluster below the root is unanimous: all voters under one child of
          // the root vote alike (with a single level, the root's members vote freely).
          const { plan } = round;
          const choiceOf = (id: string): VoteChoice => {
            let node = plan.leafOf.get(id);
            if (node === plan.root)
              return clusterChoices[Number(id.split("-")[1]) % 40] as VoteChoice;
            while (node?.parent !== undefined && node.parent !== plan.root.id) {
              node = plan.nodes.get(node.parent);
            }
            return clusterChoices[(node?.index ?? 0) % 40] as VoteChoice;
          };
          const votes = voters.map((v) =>
            createVote(
              {
                proposal: p,
                proposalHash: hash,
                from: v.id,
                choice: choiceOf(v.id),
                privateKey: keysOf(v.id).privateKey,
              },
              { clock },
            ),
          );
          castAll(round, votes, T0 + 1);
          runToDeadline(round);
          const flat = createQuorumRound({
            proposal: p,
            proposalHash: hash,
            voters,
            threshold,
            verify,
          });
          for (const vote of votes) flat.step(vote, T0 + 1);
          flat.tick(p.deadline);
          const hierarchical = round.result()?.outcome;
          const flatOutcome = flat.result()?.outcome;
          assert.equal(hierarchical === "approved", flatOutcome === "approved");
          assert.ok(hierarchical !== undefined && hierarchical !== "no-quorum");
        },
      ),
      { numRuns: 40 },
    );
  });

  test("split clusters: a vote of votes, so a minority of the weight can carry it (documented)", () => {
    // 9 voters of weight 1 in clusters of 3: two clusters approve 2-1, one rejects 0-3.
    const voters = makeVoters(9);
    const round = createHierarchicalRound(config({ voters, clusterSize: 3 }));
    const [a, b] = round.plan.levels[0] ?? [];
    const approvers = new Set([
      ...(a?.members.slice(0, 2) ?? []),
      ...(b?.members.slice(0, 2) ?? []),
    ]);
    const votes = voters.map((v) =>
      createVote(
        {
          proposal: round.plan.proposal,
          from: v.id,
          choice: approvers.has(v.id) ? "approve" : "reject",
          privateKey: keysOf(v.id).privateKey,
        },
        { clock },
      ),
    );
    castAll(round, votes, T0 + 1);
    assert.equal(approvers.size, 4, "4 of 9 approve: a flat majority rejects");
    assert.equal(round.result()?.outcome, "approved");
  });

  test("a forged, misreporting or foreign representative vote is caught; the honest one counts", () => {
    const round = createHierarchicalRound(config());
    const { plan } = round;
    const leaf = plan.levels[0]?.[0];
    assert.ok(leaf);
    let decision: ClusterDecision | undefined;
    for (const member of leaf.members) {
      const vote = createVote(
        {
          proposal: plan.proposal,
          from: member,
          choice: "approve",
          privateKey: keysOf(member).privateKey,
        },
        { clock },
      );
      decision = round.step(vote, T0 + 1).decided.find((d) => d.cluster === leaf.id) ?? decision;
    }
    assert.ok(decision, "the leaf cluster is decided once its members approved");
    const rep = decision.representatives[0] as string;
    const outsider = plan.levels[0]?.[1]?.members[0] as string;

    // 1. Signed by someone who does not represent the cluster.
    const foreign = round.step(
      createClusterVote(decision.body, outsider, keysOf(outsider).privateKey, { clock }),
      T0 + 2,
    );
    assert.equal(!foreign.accepted && foreign.reason, "unknown-voter");

    // 2. Claims to be from the representative but is signed with another key.
    const forged = round.step(
      createClusterVote(decision.body, rep, keysOf(outsider).privateKey, { clock }),
      T0 + 3,
    );
    assert.equal(!forged.accepted && forged.reason, "bad-signature");

    // 3. Properly signed by the representative, but lies about the cluster.
    const lie: ClusterVoteBody = { ...decision.body, outcome: "rejected", choice: "reject" };
    const lying = round.step(
      createClusterVote(lie, rep, keysOf(rep).privateKey, { clock }),
      T0 + 4,
    );
    assert.equal(!lying.accepted && lying.reason, "equivocation");
    assert.match(!lying.accepted ? lying.message : "", /misreports/);
    const inflated: ClusterVoteBody = {
      ...decision.body,
      tally: { ...decision.body.tally, approve: 99 },
    };
    const inflating = round.step(
      createClusterVote(inflated, rep, keysOf(rep).privateKey, { clock }),
      T0 + 5,
    );
    assert.equal(!inflating.accepted && inflating.reason, "equivocation");

    // The honest cluster vote is still counted.
    const honest = round.step(
      createClusterVote(decision.body, rep, keysOf(rep).privateKey, { clock }),
      T0 + 6,
    );
    assert.equal(honest.accepted, true);
    assert.equal(
      round.pendingClusterVotes().some((d) => d.cluster === leaf.id),
      false,
    );

    runToDeadline(round);
    const result = round.result();
    assert.ok(result);
    assert.deepEqual(
      result.evidence.map((e) => e.kind),
      ["unknown-voter", "bad-signature", "equivocation", "equivocation"],
    );
    // The sealed decision verifies offline, evidence included.
    const publicKeys = new Map([...keyCache].map(([id, k]) => [id, k.publicKey]));
    const sealed = sealDecision(result, null);
    assert.deepEqual(
      verifyDecision(sealed, {
        publicKeys,
        voters: makeVoters(23),
        threshold: { fraction: 0.5, strict: true },
      }),
      { ok: true },
    );
  });

  test("a cluster vote that arrives before its cluster's votes is held, then checked", () => {
    const round = createHierarchicalRound(config());
    const { plan } = round;
    const leaf = plan.levels[0]?.[0];
    assert.ok(leaf);
    // Work out the body on a twin round that saw the members' votes first.
    const twin = createHierarchicalRound(config());
    const votes = leaf.members.map((m) =>
      createVote(
        { proposal: plan.proposal, from: m, choice: "reject", privateKey: keysOf(m).privateKey },
        { clock },
      ),
    );
    let body: ClusterVoteBody | undefined;
    for (const v of votes) body = twin.step(v, T0 + 1).decided[0]?.body ?? body;
    assert.ok(body);
    const rep = leaf.representatives[0] as string;
    const early = round.step(
      createClusterVote(body, rep, keysOf(rep).privateKey, { clock }),
      T0 + 1,
    );
    assert.equal(!early.accepted && early.reason, "deferred");
    for (const v of votes) round.step(v, T0 + 1);
    assert.equal(
      round.pendingClusterVotes().some((d) => d.cluster === leaf.id),
      false,
    );
  });

  test("a silent representative is replaced by its backup", () => {
    const round = createHierarchicalRound(config());
    const leaf = round.plan.levels[0]?.[0];
    assert.ok(leaf);
    let decision: ClusterDecision | undefined;
    for (const m of leaf.members) {
      const vote = createVote(
        {
          proposal: round.plan.proposal,
          from: m,
          choice: "approve",
          privateKey: keysOf(m).privateKey,
        },
        { clock },
      );
      decision = round.step(vote, T0 + 1).decided[0] ?? decision;
    }
    assert.ok(decision);
    const backup = decision.representatives[1] as string;
    assert.ok(backup);
    const receipt = round.step(
      createClusterVote(decision.body, backup, keysOf(backup).privateKey, { clock }),
      T0 + 2,
    );
    assert.equal(receipt.accepted, true);
  });

  test("a cluster that does not reach quorum by its level deadline abstains upwards", () => {
    const voters = makeVoters(10);
    const round = createHierarchicalRound(config({ voters, clusterSize: 5 }));
    assert.equal(round.plan.levels.length, 2);
    const [left, right] = round.plan.levels[0] ?? [];
    assert.ok(left && right);
    for (const m of left.members) {
      const vote = createVote(
        {
          proposal: round.plan.proposal,
          from: m,
          choice: "approve",
          privateKey: keysOf(m).privateKey,
        },
        { clock },
      );
      relay(round, round.step(vote, T0 + 1).decided, T0 + 1);
    }
    const first = right.members[0] as string;
    round.step(
      createVote(
        {
          proposal: round.plan.proposal,
          from: first,
          choice: "approve",
          privateKey: keysOf(first).privateKey,
        },
        { clock },
      ),
      T0 + 2,
    );
    const levelDeadline = round.plan.levelDeadlines[0] as number;
    const { decided } = round.tick(levelDeadline);
    assert.deepEqual(
      decided.map((d) => [d.cluster, d.body.outcome, d.body.choice]),
      [[right.id, "no-quorum", "abstain"]],
    );
    relay(round, decided, levelDeadline);
    // 5 of 10 approve: not more than half.
    assert.equal(round.tick(round.plan.proposal.deadline).result?.outcome, "rejected");
  });

  test("votes from strangers and malformed messages are refused", () => {
    const round = createHierarchicalRound(config());
    const fromStranger = createVote(
      {
        proposal: round.plan.proposal,
        from: "mallory",
        choice: "approve",
        privateKey: keysOf("mallory").privateKey,
      },
      { clock },
    );
    const stranger = round.step(fromStranger, T0 + 1);
    assert.equal(!stranger.accepted && stranger.reason, "unknown-voter");
    const junk = round.step({ ...fromStranger, type: "consensus.cluster-vote" }, T0 + 1);
    assert.equal(!junk.accepted && junk.reason, "malformed");
    const other = round.step({ ...fromStranger, type: "task.review" }, T0 + 1);
    assert.equal(!other.accepted && other.reason, "malformed");
    assert.equal(round.result(), undefined);
  });
});
