/**
 * The three protocols' coordinator rounds, as the runtime's engine builds
 * and drives them (one `ConsensusRound` whatever the protocol), run on the
 * simulated network over many seeds: each run replays exactly from its
 * seed; a round never reports two outcomes, and whatever it decides
 * verifies offline; it decides before its deadline under the conditions
 * each protocol documents, and ends `no-quorum` at the deadline when too
 * few voters answer.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { verifyDecision } from "../../src/consensus/decision.js";
import { decisionParts, sealDecision } from "../../src/consensus/seal.js";
import type { VoteChoice } from "../../src/consensus/types.js";
import { PBFT_CLOSE_GRACE_MS } from "../../src/runtime/consensus/rounds.js";
import { keysOf } from "./pbft-harness.js";
import { type Fault, type RoundRun, runRound, type SimProtocol, voterId } from "./round-harness.js";

const PROTOCOLS: readonly SimProtocol[] = ["quorum", "hierarchical", "pbft"];
const SEEDS = Number(process.env.ROUND_SIM_SEEDS ?? 40);

/** Voters per protocol: a hierarchy needs several clusters (of 5) to be worth testing. */
function sizeOf(protocol: SimProtocol): number {
  return protocol === "hierarchical" ? 23 : 7;
}

/** The sealed record of a run verifies offline, with the keys and the rule alone. */
function assertVerifies(run: RoundRun): void {
  assert.ok(run.result, "decided");
  const { rule } = run.proposal;
  const verdict = verifyDecision(sealDecision(decisionParts(run.result), null), {
    publicKeys: new Map(rule.voters.map((v) => [v.id, keysOf(v.id).publicKey])),
    voters: rule.voters,
    threshold: rule.threshold,
    vetoRoles: rule.vetoRoles,
    prevSeal: null,
    ...(rule.clusterSize === undefined ? {} : { hierarchy: { clusterSize: rule.clusterSize } }),
  });
  assert.deepEqual(verdict, { ok: true });
}

/** When the round closes at the latest: its deadline (PBFT: plus the grace for commits in flight). */
function closesAt(run: RoundRun): number {
  return run.proposal.deadline + (run.proposal.protocol === "pbft" ? PBFT_CLOSE_GRACE_MS : 0);
}

/** A random run: some voters faulty (PBFT: at most f), a lossy, duplicating, reordering network. */
function chaoticRun(protocol: SimProtocol, seed: number): RoundRun {
  const n = sizeOf(protocol);
  const pick = (i: number, k: number) => (seed * 7919 + i * 104729) % k;
  const faults = new Map<string, Fault>();
  const kinds: readonly Fault[] =
    protocol === "pbft"
      ? ["silent", "forging", "replaying"]
      : protocol === "hierarchical"
        ? ["silent", "equivocating", "forging", "replaying", "lying"]
        : ["silent", "equivocating", "forging", "replaying"];
  const faulty = protocol === "pbft" ? Math.floor((n - 1) / 3) : 1 + pick(0, 3);
  for (let i = 0; i < faulty; i++) {
    faults.set(voterId(pick(i + 1, n)), kinds[pick(i + 2, kinds.length)] as Fault);
  }
  return runRound({
    seed,
    protocol,
    n,
    clusterSize: 5,
    threshold: { fraction: 0.5, strict: true },
    drop: pick(3, 4) * 0.03,
    duplicate: 0.05,
    latency: { kind: "exponential", meanMs: 15, minMs: 1 },
    faults,
    choose: (_voter, random) => {
      const r = random.next();
      return r < 0.7 ? "approve" : r < 0.9 ? "reject" : "abstain";
    },
  });
}

for (const protocol of PROTOCOLS) {
  describe(`${protocol} on the simulator, through the engine's ConsensusRound`, () => {
    it("replays exactly from its seed (trace, outcome, evidence), and another seed differs", () => {
      const first = chaoticRun(protocol, 5);
      const again = chaoticRun(protocol, 5);
      assert.ok(first.trace.length > 10);
      assert.deepEqual(again.trace, first.trace);
      assert.deepEqual(again.outcomes, first.outcomes);
      assert.deepEqual(
        again.evidence.map((e) => e.detail),
        first.evidence.map((e) => e.detail),
      );
      assert.notDeepEqual(chaoticRun(protocol, 6).trace, first.trace);
    });

    it(`safety over ${SEEDS} seeds with faulty voters and a lossy network: one outcome, sealed by the deadline, verifiable offline`, () => {
      const seen = new Set<string>();
      for (let seed = 1; seed <= SEEDS; seed++) {
        const run = chaoticRun(protocol, seed);
        const context = `seed ${seed}: ${run.outcomes.join(" then ")}`;
        assert.equal(run.outcomes.length, 1, `exactly one outcome, ${context}`);
        assert.ok(run.result, context);
        assert.ok(run.result.decidedAt <= closesAt(run), `decided by the close, ${context}`);
        assertVerifies(run);
        seen.add(run.result.outcome);
      }
      // The seeds cover more than one outcome, so the property is not vacuous.
      assert.ok(seen.size >= 2, `outcomes seen: ${[...seen].join(", ")}`);
    });

    it("liveness: honest voters that approve, on a network that delivers, decide approved well before the deadline", () => {
      for (let seed = 1; seed <= 10; seed++) {
        const n = sizeOf(protocol);
        // The tolerated silence: PBFT's f; otherwise a minority the threshold does not need.
        const faults = new Map<string, Fault>([[voterId(seed % n), "silent"]]);
        if (protocol === "pbft") faults.set(voterId((seed + 3) % n), "silent");
        const run = runRound({
          seed,
          protocol,
          n,
          clusterSize: 5,
          duplicate: 0.1,
          latency: { kind: "uniform", minMs: 1, maxMs: 40 },
          faults,
        });
        assert.equal(run.result?.outcome, "approved", `seed ${seed}`);
        assert.ok(
          (run.result?.decidedAt ?? Number.POSITIVE_INFINITY) < run.proposal.ts + 1_000,
          `seed ${seed}: decided after ${(run.result?.decidedAt ?? 0) - run.proposal.ts} ms`,
        );
        assert.equal(run.outcomes.length, 1);
        assertVerifies(run);
      }
    });

    it("deadline: with too few voters answering, no-quorum once the round closes, not before", () => {
      for (let seed = 1; seed <= 5; seed++) {
        const n = sizeOf(protocol);
        const answering = protocol === "pbft" ? 2 : Math.floor(n / 2) - 1;
        const faults = new Map<string, Fault>();
        for (let i = answering; i < n; i++) faults.set(voterId((i + seed) % n), "silent");
        const run = runRound({ seed, protocol, n, clusterSize: 5, faults });
        assert.equal(run.result?.outcome, "no-quorum", `seed ${seed}`);
        assert.ok((run.result?.decidedAt ?? 0) >= closesAt(run), `seed ${seed}`);
        assert.equal(run.outcomes.length, 1);
        assertVerifies(run);
      }
    });

    it("a voter that forges another's votes is caught as evidence, and the honest majority still decides", () => {
      let caught = 0;
      for (let seed = 1; seed <= 10; seed++) {
        const run = runRound({
          seed,
          protocol,
          n: sizeOf(protocol),
          clusterSize: 5,
          faults: new Map([[voterId(2), "forging"]]),
        });
        assert.equal(run.result?.outcome, "approved", `seed ${seed}`);
        // A forgery that arrives after the decision (or its cluster's) is not counted at all.
        const forged = run.result?.evidence.filter((e) => e.kind === "bad-signature") ?? [];
        for (const e of forged) assert.equal(e.agent, voterId(3), "claimed as the victim's");
        if (forged.length > 0) caught++;
        assertVerifies(run);
      }
      assert.ok(caught > 0, "some forgery arrived before the decision and is in it");
    });
  });
}

describe("quorum and hierarchical on the simulator", () => {
  it("an equivocating voter: its first vote counts, the second is evidence", () => {
    for (const protocol of ["quorum", "hierarchical"] as const) {
      let caught = 0;
      for (let seed = 1; seed <= 10; seed++) {
        const run = runRound({
          seed,
          protocol,
          n: sizeOf(protocol),
          clusterSize: 5,
          faults: new Map([[voterId(4), "equivocating"]]),
        });
        const counted = run.result?.votes.filter((v) => v.from === voterId(4)) ?? [];
        assert.ok(counted.length <= 1, `${protocol} seed ${seed}: one vote counted`);
        const evidence = run.result?.evidence.filter((e) => e.agent === voterId(4)) ?? [];
        for (const e of evidence) assert.equal(e.kind, "equivocation", protocol);
        if (evidence.length > 0) caught++;
        assert.equal(run.result?.outcome, "approved", protocol);
        assertVerifies(run);
      }
      // A second vote that arrives after its cluster (or the round) is decided is not counted at all.
      assert.ok(caught > 0, `${protocol}: some second vote arrived in time to be evidence`);
    }
  });

  it("with every cluster unanimous, hierarchical decides what the flat quorum decides", () => {
    for (const choice of ["approve", "reject"] as const satisfies readonly VoteChoice[]) {
      const outcomes = (["quorum", "hierarchical"] as const).map(
        (protocol) =>
          runRound({ seed: 4, protocol, n: 23, clusterSize: 5, choose: () => choice }).result
            ?.outcome,
      );
      assert.equal(outcomes[0], choice === "approve" ? "approved" : "rejected");
      assert.equal(outcomes[1], outcomes[0]);
    }
  });
});

describe("hierarchical on the simulator: cluster votes", () => {
  it("a lying representative's cluster vote is refused as evidence; the other representative's counts", () => {
    let caught = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const honest = runRound({ seed, protocol: "hierarchical", n: 23, clusterSize: 5 });
      const record = (
        honest.result as { hierarchy?: { representatives: Record<string, string[]> } }
      ).hierarchy;
      const liar = record?.representatives["0.0"]?.[0] as string;
      const run = runRound({
        seed,
        protocol: "hierarchical",
        n: 23,
        clusterSize: 5,
        faults: new Map([[liar, "lying"]]),
      });
      assert.equal(run.result?.outcome, "approved", `seed ${seed}`);
      // When the honest representative's vote arrives first, the lie is merely superseded.
      const lies = run.result?.evidence.filter((e) => e.agent === liar) ?? [];
      for (const lie of lies) {
        assert.equal(lie.kind, "equivocation");
        assert.match(lie.detail, /misreports/);
      }
      if (lies.length > 0) caught++;
      assertVerifies(run);
    }
    assert.ok(caught > 0, "some lie arrived first and is in the decision");
  });

  it("cluster-vote requests lost on the way are asked for again until counted", () => {
    let resent = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const run = runRound({
        seed,
        protocol: "hierarchical",
        n: 23,
        clusterSize: 5,
        drop: 0.3,
        ttlMs: 6_000,
      });
      const clusters = Object.keys(
        (run.result as { hierarchy?: { representatives: object } }).hierarchy?.representatives ??
          {},
      ).length;
      if (run.requests > clusters) resent++;
      assert.equal(run.outcomes.length, 1, `seed ${seed}`);
      assertVerifies(run);
    }
    assert.ok(resent > 0, "some run had to ask again");
  });
});
