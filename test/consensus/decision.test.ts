import assert from "node:assert/strict";
import type { KeyObject } from "node:crypto";
import { describe, test } from "node:test";
import fc from "fast-check";
import { requireApproval } from "../../src/consensus/approval.js";
import { verifyChain } from "../../src/consensus/audit-verify.js";
import { createClusterVote } from "../../src/consensus/cluster-vote.js";
import { type VerifyDecisionOptions, verifyDecision } from "../../src/consensus/decision.js";
import { type ClusterDecision, createHierarchicalRound } from "../../src/consensus/hierarchical.js";
import { createQuorumRound } from "../../src/consensus/quorum.js";
import { computeSeal, type Decision, sealDecision } from "../../src/consensus/seal.js";
import type { Proposal, VoteChoice, Voter } from "../../src/consensus/types.js";
import { createVote, verifierFromKeys } from "../../src/consensus/vote.js";
import { ManualClock } from "../../src/core/clock.js";
import {
  AuditChainError,
  QuorumNotReachedError,
  UnapprovedActionError,
} from "../../src/errors/index.js";
import { type AgentKeyPair, agentKeyPairFromSeed } from "../../src/identity/keys.js";
import type { Envelope } from "../../src/wire/envelope.js";

const T0 = 1_700_000_000_000;
const clock = new ManualClock(T0);

const VOTERS: readonly Voter[] = [
  { id: "agent_architect", weight: 2.5, role: "lead-architect" },
  { id: "agent_developer", weight: 1.0, role: "core-developer" },
  { id: "agent_security", weight: 2.0, role: "security-sentinel" },
  { id: "agent_auditor", weight: 1.5, role: "financial-auditor" },
];
const keys = new Map<string, AgentKeyPair>();
function keysOf(id: string): AgentKeyPair {
  let pair = keys.get(id);
  if (pair === undefined) {
    const seed = new Uint8Array(32);
    new TextEncoder().encodeInto(id, seed);
    pair = agentKeyPairFromSeed(seed);
    keys.set(id, pair);
  }
  return pair;
}
for (const v of VOTERS) keysOf(v.id);
const publicKeys = (): Map<string, KeyObject> =>
  new Map([...keys].map(([id, k]) => [id, k.publicKey]));
const verify = verifierFromKeys((id) => keys.get(id)?.publicKey);

const OPTIONS: VerifyDecisionOptions = {
  publicKeys: publicKeys(),
  voters: VOTERS,
  threshold: { weight: 4 },
};

function proposal(n: number, overrides: Partial<Proposal> = {}): Proposal {
  return {
    id: `01JD00000000000000000000${String(n).padStart(2, "0")}`,
    action: "funds.transfer",
    data: { amount: 100 * n, to: `acct-${n}` },
    proposer: "agent_architect",
    ts: T0,
    deadline: T0 + 60_000,
    protocol: "quorum",
    ...overrides,
  };
}

/** Runs a quorum round with these choices (in this order) and returns the result. */
function decide(p: Proposal, choices: readonly [string, VoteChoice][], closeAtDeadline = false) {
  const round = createQuorumRound({
    proposal: p,
    voters: VOTERS,
    threshold: { weight: 4 },
    verify,
  });
  choices.forEach(([from, choice], i) => {
    round.step(
      createVote({ proposal: p, from, choice, privateKey: keysOf(from).privateKey }, { clock }),
      T0 + i + 1,
    );
  });
  // An equivocation, so the record carries evidence.
  const [first] = choices;
  if (first !== undefined) {
    const flip: VoteChoice = first[1] === "approve" ? "reject" : "approve";
    round.step(
      createVote(
        { proposal: p, from: first[0], choice: flip, privateKey: keysOf(first[0]).privateKey },
        { clock },
      ),
      T0 + 10,
    );
  }
  const result = closeAtDeadline ? round.tick(p.deadline) : round.result();
  assert.ok(result, "the round is decided");
  return result;
}

/** A log of five decisions: approved, rejected, no-quorum, approved, vetoed-free rejected. */
function chain(): Decision[] {
  const results = [
    decide(proposal(1), [
      ["agent_architect", "approve"],
      ["agent_auditor", "approve"],
    ]),
    decide(proposal(2), [
      ["agent_developer", "reject"],
      ["agent_security", "reject"],
      ["agent_auditor", "reject"],
    ]),
    decide(proposal(3), [["agent_architect", "approve"]], true),
    decide(proposal(4), [
      ["agent_security", "approve"],
      ["agent_auditor", "approve"],
      ["agent_developer", "approve"],
    ]),
    decide(proposal(5), [
      ["agent_architect", "reject"],
      ["agent_security", "abstain"],
      ["agent_auditor", "reject"],
    ]),
  ];
  const out: Decision[] = [];
  let prev: string | null = null;
  for (const result of results) {
    const decision = sealDecision(result, prev);
    out.push(decision);
    prev = decision.seal;
  }
  return out;
}

const LOG = chain();

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function reseal(decision: Decision): Decision {
  return { ...decision, seal: computeSeal(decision) };
}

/** Every path to a leaf value (string, number, boolean, null) of a JSON value. */
function leafPaths(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== "object" || value === null) return [path];
  const entries: [string | number, unknown][] = Array.isArray(value)
    ? value.map((v, i) => [i, v])
    : Object.entries(value);
  return entries.flatMap(([k, v]) => leafPaths(v, [...path, k]));
}

function setAt(
  root: unknown,
  path: readonly (string | number)[],
  update: (old: unknown) => unknown,
): void {
  let node = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path.at(-1) as string | number;
  node[last] = update(node[last]);
}

function mutate(old: unknown): unknown {
  if (typeof old === "number") return old + 1;
  if (typeof old === "string") return `${old}x`;
  if (typeof old === "boolean") return !old;
  return 0;
}

describe("sealDecision", () => {
  test("the seal is SHA-256 over the canonical record, chained to the previous seal", () => {
    const [first, second] = LOG;
    assert.ok(first && second);
    assert.match(first.seal, /^[0-9a-f]{64}$/);
    assert.equal(first.prevSeal, null);
    assert.equal(second.prevSeal, first.seal);
    assert.equal(computeSeal(first), first.seal);
    // Deterministic, and independent of the key order of the stored JSON.
    const reordered = Object.fromEntries(
      Object.entries(clone(first)).reverse(),
    ) as unknown as Decision;
    assert.equal(computeSeal(reordered), first.seal);
    // A round result's extra fields (proposalHash) are not sealed.
    assert.equal("proposalHash" in first, false);
  });

  test("every decision of the log verifies, and so does the chain", () => {
    let prev: string | null = null;
    for (const decision of LOG) {
      assert.deepEqual(verifyDecision(decision, { ...OPTIONS, prevSeal: prev }), { ok: true });
      prev = decision.seal;
    }
    assert.deepEqual(
      LOG.map((d) => d.outcome),
      ["approved", "rejected", "no-quorum", "approved", "rejected"],
    );
    assert.deepEqual(verifyChain(LOG, { decisions: OPTIONS, head: prev as string }), {
      ok: true,
      count: 5,
      head: prev,
    });
    assert.deepEqual(verifyChain([]), { ok: true, count: 0, head: null });
  });
});

describe("tampering is detected", () => {
  test("changing any value of any entry breaks its seal (property over every field)", () => {
    const paths = LOG.map((d) => leafPaths(clone(d)));
    fc.assert(
      fc.property(fc.nat(LOG.length - 1), fc.nat(), (index, pick) => {
        const entryPaths = paths[index] as (string | number)[][];
        const path = entryPaths[pick % entryPaths.length] as (string | number)[];
        const log = LOG.map(clone);
        setAt(log[index], path, mutate);
        const verdict = verifyDecision(log[index] as Decision, OPTIONS);
        assert.equal(verdict.ok, false, `changing ${path.join(".")} went unnoticed`);
        const chained = verifyChain(log);
        assert.equal(chained.ok, false);
        assert.equal(!chained.ok && chained.index, index);
      }),
      { numRuns: 500 },
    );
  });

  test("resealing after a change still fails: the record no longer adds up, and the next link breaks", () => {
    const approved = LOG[0] as Decision;
    const cases: [string, (d: Decision) => Decision, RegExp][] = [
      [
        "proposal data",
        (d) => ({ ...d, proposal: { ...d.proposal, data: { amount: 1_000_000, to: "acct-666" } } }),
        /another proposal/,
      ],
      [
        "a vote's choice",
        (d) => {
          const votes = clone(d.votes) as Envelope[];
          (votes[0] as { body: { choice: string } }).body.choice = "reject";
          return { ...d, votes };
        },
        /signature/,
      ],
      ["the tally", (d) => ({ ...d, tally: { ...d.tally, approve: 7 } }), /tally/],
      ["the outcome", (d) => ({ ...d, outcome: "rejected" }), /the votes give approved/],
      ["a removed vote", (d) => ({ ...d, votes: d.votes.slice(1) }), /still open|give/],
      [
        "a vote by an agent with no key",
        (d) => ({
          ...d,
          votes: [
            ...d.votes,
            createVote(
              {
                proposal: d.proposal,
                from: "agent_developer",
                choice: "approve",
                privateKey: keysOf("mallory").privateKey,
              },
              { clock },
            ),
          ],
        }),
        /signature/,
      ],
      [
        "a duplicated vote",
        (d) => ({ ...d, votes: [...d.votes, d.votes[0] as Envelope] }),
        /twice/,
      ],
      [
        "the decision time",
        (d) => ({ ...d, outcome: "no-quorum", decidedAt: T0 + 5 }),
        /give approved/,
      ],
      ["the protocol", (d) => ({ ...d, protocol: "hierarchical" }), /asks for quorum/],
    ];
    for (const [what, change, reason] of cases) {
      const tampered = reseal(change(clone(approved)));
      const verdict = verifyDecision(tampered, OPTIONS);
      assert.equal(verdict.ok, false, what);
      assert.match(!verdict.ok ? verdict.reason : "", reason, what);
      const log = [tampered, ...LOG.slice(1)];
      const chained = verifyChain(log);
      assert.equal(!chained.ok && chained.index, 1, `${what}: the next entry's link breaks`);
      assert.equal(verifyChain(log, { decisions: OPTIONS }).ok, false);
    }
  });

  test("removed, reordered, inserted and truncated entries are named", () => {
    const [a, b, c, d, e] = LOG as [Decision, Decision, Decision, Decision, Decision];
    const cases: [string, Decision[], number][] = [
      ["first removed", [b, c, d, e], 0],
      ["middle removed", [a, b, d, e], 2],
      ["two swapped", [a, c, b, d, e], 1],
      ["one repeated", [a, b, b, c, d, e], 2],
      ["reversed", [e, d, c, b, a], 0],
    ];
    for (const [what, log, index] of cases) {
      const verdict = verifyChain(log);
      assert.equal(verdict.ok, false, what);
      assert.equal(!verdict.ok && verdict.index, index, what);
      assert.match(!verdict.ok ? verdict.reason : "", /removed, inserted, altered or reordered/);
    }
    // Truncation is invisible without an anchor, caught with one.
    assert.equal(verifyChain([a, b, c]).ok, true);
    const truncated = verifyChain([a, b, c], { head: e.seal });
    assert.equal(!truncated.ok && truncated.index, 3);
    // A segment verifies from its own genesis.
    assert.equal(verifyChain([c, d, e], { genesis: b.seal }).ok, true);
  });

  test("verification against the wrong configuration fails", () => {
    const approved = LOG[0] as Decision;
    assert.equal(verifyDecision(approved, { ...OPTIONS, threshold: { weight: 5 } }).ok, false);
    const noKeys = verifyDecision(approved, { ...OPTIONS, publicKeys: new Map() });
    assert.match(!noKeys.ok ? noKeys.reason : "", /no public key/);
    assert.equal(verifyDecision(approved, { ...OPTIONS, voters: VOTERS.slice(1) }).ok, false);
    assert.equal(verifyDecision(approved, { ...OPTIONS, prevSeal: "0".repeat(64) }).ok, false);
  });
});

describe("hierarchical decisions", () => {
  const voters: Voter[] = Array.from({ length: 30 }, (_, i) => ({
    id: `h-${i}`,
    weight: 1 + (i % 2),
    role: "w",
  }));
  for (const v of voters) keysOf(v.id);
  const p = proposal(9, { protocol: "hierarchical" });
  const threshold = { fraction: 0.5, strict: true } as const;
  const round = createHierarchicalRound({ proposal: p, voters, threshold, verify });
  const relay = (decided: readonly ClusterDecision[], now: number): void => {
    const queue = [...decided];
    while (queue.length > 0) {
      const d = queue.shift() as ClusterDecision;
      const rep = d.representatives[0] as string;
      queue.push(
        ...round.step(createClusterVote(d.body, rep, keysOf(rep).privateKey, { clock }), now)
          .decided,
      );
    }
  };
  voters.forEach((v, i) => {
    const vote = createVote(
      {
        proposal: p,
        from: v.id,
        choice: i % 3 === 0 ? "reject" : "approve",
        privateKey: keysOf(v.id).privateKey,
      },
      { clock },
    );
    relay(round.step(vote, T0 + 1).decided, T0 + 1);
  });
  for (const deadline of round.plan.levelDeadlines) relay(round.tick(deadline).decided, deadline);
  const result = round.result();
  assert.ok(result);
  const decision = sealDecision(result, null);
  const options: VerifyDecisionOptions = { publicKeys: publicKeys(), voters, threshold };

  test("verify offline, every cluster recomputed", () => {
    assert.ok(decision.hierarchy);
    assert.ok(decision.votes.some((v) => v.type === "consensus.cluster-vote"));
    assert.deepEqual(verifyDecision(decision, options), { ok: true });
  });

  test("a removed member vote, a swapped representative or another seed is caught even when resealed", () => {
    const leafVote = decision.votes.findIndex((v) => v.type === "consensus.vote");
    const cases: [string, Decision, RegExp][] = [
      [
        "removed member vote",
        reseal({ ...decision, votes: decision.votes.filter((_, i) => i !== leafVote) }),
        /lists other votes|give/,
      ],
      [
        "representatives rewritten",
        reseal({
          ...decision,
          hierarchy: {
            ...(decision.hierarchy as NonNullable<Decision["hierarchy"]>),
            representatives: Object.fromEntries(
              Object.entries(decision.hierarchy?.representatives ?? {}).map(([id, reps]) => [
                id,
                [...reps].reverse(),
              ]),
            ),
          },
        }),
        /represent|does not fit/,
      ],
      [
        "another seed",
        reseal({
          ...decision,
          hierarchy: { ...(decision.hierarchy as NonNullable<Decision["hierarchy"]>), seed: 7 },
        }),
        /seed/,
      ],
    ];
    for (const [what, tampered, reason] of cases) {
      const verdict = verifyDecision(tampered, options);
      assert.equal(verdict.ok, false, what);
      assert.match(!verdict.ok ? verdict.reason : "", reason, what);
    }
  });
});

describe("requireApproval and pluggable rules", () => {
  const [approved, rejected, noQuorum] = LOG as [Decision, Decision, Decision];
  const guard = { ...OPTIONS, action: "funds.transfer" };

  test("returns a verified approval of exactly this action", () => {
    assert.equal(requireApproval(approved, guard), approved);
  });

  test("refuses everything else with the matching error", () => {
    assert.throws(() => requireApproval(undefined, guard), UnapprovedActionError);
    assert.throws(() => requireApproval(rejected, guard), UnapprovedActionError);
    // Every refusal is UnapprovedActionError, as from the engine's guard; a
    // missing quorum is its cause.
    assert.throws(
      () => requireApproval(noQuorum, guard),
      (err: unknown) =>
        err instanceof UnapprovedActionError && err.cause instanceof QuorumNotReachedError,
    );
    assert.throws(
      () => requireApproval(approved, { ...guard, action: "backup.delete" }),
      (err: unknown) => err instanceof UnapprovedActionError && err.code === "E_UNAPPROVED_ACTION",
    );
    const tampered = reseal({
      ...clone(approved),
      outcome: "approved",
      tally: { ...approved.tally, approve: 6 },
    });
    assert.throws(
      () => requireApproval(tampered, guard),
      (err: unknown) =>
        err instanceof UnapprovedActionError &&
        err.cause instanceof AuditChainError &&
        /does not verify/.test(err.message),
    );
  });

  test("a pbft decision is checked by the built-in certificate rule, which can be replaced", () => {
    const pbft = sealDecision(
      {
        ...clone(approved),
        protocol: "pbft",
        proposal: { ...approved.proposal, protocol: "pbft" },
      },
      null,
    );
    // Quorum votes are no commit certificate.
    const builtIn = verifyDecision(pbft, OPTIONS);
    assert.match(!builtIn.ok ? builtIn.reason : "", /is for another proposal|only commits approve/);
    assert.deepEqual(verifyDecision(pbft, { ...OPTIONS, rules: { pbft: () => undefined } }), {
      ok: true,
    });
    const refused = verifyDecision(pbft, {
      ...OPTIONS,
      rules: { pbft: () => "2 commits; a certificate needs 3" },
    });
    assert.deepEqual(refused, { ok: false, reason: "2 commits; a certificate needs 3" });
  });
});
