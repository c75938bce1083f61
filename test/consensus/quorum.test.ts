import assert from "node:assert/strict";
import type { KeyObject } from "node:crypto";
import { describe, test } from "node:test";
import fc from "fast-check";
import { createQuorumRound, type QuorumRoundConfig } from "../../src/consensus/quorum.js";
import type { Proposal, VoteChoice, Voter } from "../../src/consensus/types.js";
import { createVote, hashProposal, VOTE_TYPE, verifierFromKeys } from "../../src/consensus/vote.js";
import { ManualClock } from "../../src/core/clock.js";
import { ConfigError } from "../../src/errors/index.js";
import { type AgentKeyPair, agentKeyPairFromSeed } from "../../src/identity/keys.js";
import { createEnvelope, type Envelope } from "../../src/wire/envelope.js";
import { signEnvelope } from "../../src/wire/signature.js";

const T0 = 1_700_000_000_000;

function keyPair(n: number): AgentKeyPair {
  const seed = new Uint8Array(32);
  new DataView(seed.buffer).setUint32(0, n);
  return agentKeyPairFromSeed(seed);
}

/** Seed 000's registry, with real Ed25519 keys instead of shared secrets. */
const SEED_VOTERS: readonly Voter[] = [
  { id: "agent_architect", weight: 2.5, role: "lead-architect" },
  { id: "agent_developer", weight: 1.0, role: "core-developer" },
  { id: "agent_security", weight: 2.0, role: "security-sentinel" },
  { id: "agent_auditor", weight: 1.5, role: "financial-auditor" },
];
const keys = new Map<string, AgentKeyPair>(
  [...SEED_VOTERS.map((v) => v.id), "agent_mallory", "agent_revoked"].map((id, i) => [
    id,
    keyPair(i + 1),
  ]),
);
const publicKeys = new Map<string, KeyObject>(
  [...keys].filter(([id]) => id !== "agent_revoked").map(([id, k]) => [id, k.publicKey]),
);
const verify = verifierFromKeys(publicKeys);

function proposal(overrides: Partial<Proposal> = {}): Proposal {
  return {
    id: "01JD0000000000000000000001",
    action: "funds.transfer",
    data: { amount: 250, to: "acct-7" },
    proposer: "agent_architect",
    ts: T0,
    deadline: T0 + 60_000,
    protocol: "quorum",
    ...overrides,
  };
}

const clock = new ManualClock(T0);

function vote(from: string, choice: VoteChoice, p: Proposal = proposal(), signer = from): Envelope {
  return createVote(
    { proposal: p, from, choice, privateKey: (keys.get(signer) as AgentKeyPair).privateKey },
    { clock },
  );
}

function round(overrides: Partial<QuorumRoundConfig> = {}) {
  return createQuorumRound({
    proposal: proposal(),
    voters: SEED_VOTERS,
    threshold: { weight: 4.0 },
    verify,
    ...overrides,
  });
}

describe("quorum round: seed 000's example (weights 2.5/1.0/2.0/1.5, threshold 4.0)", () => {
  test("architect and auditor approving reach 4.0 exactly and approve", () => {
    const r = round();
    assert.deepEqual(r.step(vote("agent_architect", "approve"), T0 + 1), { accepted: true });
    assert.equal(r.status(), "pending");
    assert.deepEqual(r.step(vote("agent_auditor", "approve"), T0 + 2), {
      accepted: true,
      outcome: "approved",
    });
    const result = r.result();
    assert.ok(result);
    assert.equal(result.outcome, "approved");
    assert.equal(result.decidedAt, T0 + 2);
    assert.deepEqual(result.tally, { approve: 4, reject: 0, abstain: 0, threshold: 4, total: 7 });
    assert.deepEqual(
      result.votes.map((v) => v.from),
      ["agent_architect", "agent_auditor"],
    );
    assert.deepEqual(result.evidence, []);
  });

  test("short of the threshold it stays pending, not rejected (the seed's bug)", () => {
    const r = round();
    r.step(vote("agent_architect", "approve"), T0 + 1);
    assert.equal(r.status(), "pending");
    assert.equal(r.result(), undefined);
    r.step(vote("agent_developer", "reject"), T0 + 2);
    r.step(vote("agent_security", "reject"), T0 + 3);
    // approve 2.5 + pending 1.5 = 4.0: the auditor can still carry it.
    assert.equal(r.status(), "pending");
    assert.equal(r.tick(T0 + 59_999), undefined);
    assert.deepEqual(r.step(vote("agent_auditor", "approve"), T0 + 4), {
      accepted: true,
      outcome: "approved",
    });
  });

  test("rejected as soon as approval is impossible, before the deadline", () => {
    const r = round();
    r.step(vote("agent_developer", "reject"), T0 + 1);
    r.step(vote("agent_security", "reject"), T0 + 2);
    assert.equal(r.status(), "pending", "approve 0 + pending 4.0 can still reach 4.0");
    assert.deepEqual(r.step(vote("agent_auditor", "reject"), T0 + 3), {
      accepted: true,
      outcome: "rejected",
    });
    assert.equal(r.result()?.decidedAt, T0 + 3);
  });

  test("abstentions count for nothing but end the wait", () => {
    const r = round();
    r.step(vote("agent_architect", "approve"), T0 + 1);
    assert.deepEqual(r.step(vote("agent_security", "abstain"), T0 + 2), { accepted: true });
    assert.deepEqual(r.step(vote("agent_auditor", "abstain"), T0 + 3), {
      accepted: true,
      outcome: "rejected",
    });
    assert.deepEqual(r.result()?.tally, {
      approve: 2.5,
      reject: 0,
      abstain: 3.5,
      threshold: 4,
      total: 7,
    });
  });
});

describe("quorum round: deadline", () => {
  test("at the deadline an undecided round ends no-quorum; silent voters are in no column", () => {
    const r = round();
    r.step(vote("agent_architect", "approve"), T0 + 1);
    assert.equal(r.tick(T0 + 59_999), undefined);
    const result = r.tick(T0 + 60_000);
    assert.equal(result?.outcome, "no-quorum");
    assert.equal(result?.decidedAt, T0 + 60_000);
    assert.deepEqual(result?.tally, {
      approve: 2.5,
      reject: 0,
      abstain: 0,
      threshold: 4,
      total: 7,
    });
  });

  test("a vote received at or after the deadline is late, even if sent before", () => {
    const r = round();
    const early = vote("agent_architect", "approve");
    const receipt = r.step(early, T0 + 60_000);
    assert.equal(receipt.accepted, false);
    assert.equal(!receipt.accepted && receipt.reason, "late");
    assert.equal(r.result()?.outcome, "no-quorum");
    assert.equal(r.result()?.votes.length, 0);
  });

  test("a decided round takes no more votes", () => {
    const r = round();
    r.step(vote("agent_architect", "approve"), T0 + 1);
    r.step(vote("agent_auditor", "approve"), T0 + 2);
    const receipt = r.step(vote("agent_security", "reject"), T0 + 3);
    assert.equal(!receipt.accepted && receipt.reason, "decided");
    assert.equal(r.result()?.votes.length, 2);
  });
});

describe("quorum round: bad votes are refused with evidence", () => {
  test("a forged vote (signed with another key) is not counted", () => {
    const r = round();
    const forged = vote("agent_architect", "approve", proposal(), "agent_mallory");
    const receipt = r.step(forged, T0 + 1);
    assert.equal(receipt.accepted, false);
    assert.equal(!receipt.accepted && receipt.reason, "bad-signature");
    assert.equal(!receipt.accepted && receipt.evidence?.kind, "bad-signature");
    assert.equal(!receipt.accepted && receipt.evidence?.agent, "agent_architect");
    assert.deepEqual(r.tally().approve, 0);
  });

  test("an unsigned vote and a vote changed after signing are refused", () => {
    const r = round();
    const { sig: _sig, ...unsigned } = vote("agent_architect", "approve");
    assert.equal(r.step(unsigned, T0 + 1).accepted, false);
    const signed = vote("agent_developer", "reject");
    const flipped = { ...signed, body: { ...(signed.body as object), choice: "approve" } };
    const receipt = r.step(flipped, T0 + 2);
    assert.equal(!receipt.accepted && receipt.reason, "bad-signature");
    assert.equal(r.tally().approve, 0);
    assert.equal(r.result(), undefined);
    // The genuine vote still counts afterwards.
    assert.equal(r.step(signed, T0 + 3).accepted, true);
    assert.equal(r.tally().reject, 1);
  });

  test("a vote from an agent that is not a voter is refused", () => {
    const r = round();
    const receipt = r.step(vote("agent_mallory", "approve"), T0 + 1);
    assert.equal(!receipt.accepted && receipt.reason, "unknown-voter");
    assert.equal(!receipt.accepted && receipt.evidence?.kind, "unknown-voter");
    assert.equal(r.result(), undefined);
  });

  test("a vote whose key was revoked is refused", () => {
    const r = round({
      voters: [...SEED_VOTERS, { id: "agent_revoked", weight: 5, role: "ops" }],
    });
    const receipt = r.step(vote("agent_revoked", "approve"), T0 + 1);
    assert.equal(!receipt.accepted && receipt.reason, "bad-signature");
    assert.equal(r.tally().approve, 0);
  });

  test("a replayed vote is refused, the first copy counts", () => {
    const r = round();
    const v = vote("agent_architect", "approve");
    assert.equal(r.step(v, T0 + 1).accepted, true);
    const receipt = r.step(v, T0 + 2);
    assert.equal(!receipt.accepted && receipt.reason, "replay");
    assert.equal(!receipt.accepted && receipt.evidence?.kind, "replay");
    assert.equal(r.tally().approve, 2.5);
  });

  test("a second vote is a duplicate; a conflicting one is equivocation; the first stands", () => {
    const r = round();
    r.step(vote("agent_architect", "approve"), T0 + 1);
    const again = r.step(vote("agent_architect", "approve"), T0 + 2);
    assert.equal(!again.accepted && again.reason, "duplicate-vote");
    const flip = r.step(vote("agent_architect", "reject"), T0 + 3);
    assert.equal(!flip.accepted && flip.reason, "equivocation");
    assert.equal(!flip.accepted && flip.evidence?.messages.length, 2);
    assert.deepEqual(r.tally(), { approve: 2.5, reject: 0, abstain: 0, threshold: 4, total: 7 });
    r.step(vote("agent_auditor", "approve"), T0 + 4);
    const result = r.result();
    assert.equal(result?.outcome, "approved");
    assert.deepEqual(
      result?.evidence.map((e) => e.kind),
      ["duplicate-vote", "equivocation"],
    );
  });

  test("a vote for another proposal, or for a changed version of this one, is refused", () => {
    const r = round();
    const other = r.step(
      vote("agent_architect", "approve", proposal({ id: "01JD0000000000000000000002" })),
      T0 + 1,
    );
    assert.equal(!other.accepted && other.reason, "wrong-proposal");
    const changed = proposal({ data: { amount: 1_000_000, to: "acct-666" } });
    const stale = r.step(vote("agent_auditor", "approve", changed), T0 + 2);
    assert.equal(!stale.accepted && stale.reason, "wrong-proposal");
    assert.equal(r.tally().approve, 0);
    // Signed for another proposal, it may have been put here by anyone: no
    // evidence against its signer. A vote on another version of this one is.
    assert.equal(!other.accepted && other.evidence, undefined);
    assert.equal(!stale.accepted && stale.evidence?.agent, "agent_auditor");
  });

  test("malformed envelopes are refused without evidence and never throw", () => {
    const r = round();
    const key = (keys.get("agent_architect") as AgentKeyPair).privateKey;
    const wrongType = signEnvelope(
      createEnvelope({ type: "task.review", from: "agent_architect", body: {} }, { clock }),
      key,
    );
    const badBody = signEnvelope(
      createEnvelope(
        { type: VOTE_TYPE, from: "agent_architect", body: { proposal: "x", choice: "yes" } },
        { clock },
      ),
      key,
    );
    for (const env of [wrongType, badBody]) {
      const receipt = r.step(env, T0 + 1);
      assert.equal(!receipt.accepted && receipt.reason, "malformed");
      assert.equal(!receipt.accepted && receipt.evidence, undefined);
    }
    assert.equal(r.result(), undefined);
  });
});

describe("quorum round: vetoes and fractions", () => {
  test("a veto role's reject vetoes at once", () => {
    const r = round({ vetoRoles: ["security-sentinel"] });
    r.step(vote("agent_architect", "approve"), T0 + 1);
    assert.deepEqual(r.step(vote("agent_security", "reject"), T0 + 2), {
      accepted: true,
      outcome: "vetoed",
    });
  });

  test("approval waits for a pending veto holder, until it answers or the deadline passes", () => {
    const withVeto = { vetoRoles: ["security-sentinel"] };
    const r = round(withVeto);
    r.step(vote("agent_architect", "approve"), T0 + 1);
    r.step(vote("agent_auditor", "approve"), T0 + 2);
    assert.equal(r.status(), "pending");
    assert.deepEqual(r.step(vote("agent_security", "approve"), T0 + 3), {
      accepted: true,
      outcome: "approved",
    });
    const silent = round(withVeto);
    silent.step(vote("agent_architect", "approve"), T0 + 1);
    silent.step(vote("agent_auditor", "approve"), T0 + 2);
    assert.equal(silent.tick(T0 + 60_000)?.outcome, "approved");
  });

  test("a fractional threshold: two thirds of 7.0 is 4.666667", () => {
    const r = round({ threshold: { fraction: 2 / 3 } });
    r.step(vote("agent_architect", "approve"), T0 + 1);
    r.step(vote("agent_security", "approve"), T0 + 2);
    assert.equal(r.status(), "pending", "4.5 < 4.666667");
    assert.equal(r.step(vote("agent_developer", "approve"), T0 + 3).accepted, true);
    assert.equal(r.result()?.outcome, "approved");
    assert.equal(r.result()?.tally.threshold, 4.666667);
  });

  test("invalid configurations are refused", () => {
    assert.throws(() => round({ voters: [] }), ConfigError);
    assert.throws(
      () => round({ voters: [...SEED_VOTERS, SEED_VOTERS[0] as Voter] }),
      /listed twice/,
    );
    assert.throws(() => round({ threshold: { weight: 7.5 } }), /exceeds the voters' total weight/);
    assert.throws(() => round({ voters: [{ id: "a", weight: -1, role: "r" }] }), ConfigError);
  });
});

describe("quorum round: properties", () => {
  test("the outcome, once decided, is what any later votes would have led to", () => {
    const p = proposal();
    const hash = hashProposal(p);
    const signed = new Map<string, Envelope>();
    const signedVote = (from: string, choice: VoteChoice): Envelope => {
      const key = `${from}/${choice}`;
      let env = signed.get(key);
      if (env === undefined) {
        env = createVote(
          {
            proposal: p,
            proposalHash: hash,
            from,
            choice,
            privateKey: (keys.get(from) as AgentKeyPair).privateKey,
          },
          { clock },
        );
        signed.set(key, env);
      }
      return env;
    };
    fc.assert(
      fc.property(
        fc.shuffledSubarray(
          SEED_VOTERS.map((v) => v.id),
          { minLength: 0 },
        ),
        fc.array(fc.constantFrom<VoteChoice>("approve", "reject", "abstain"), {
          minLength: 4,
          maxLength: 4,
        }),
        fc.subarray(["security-sentinel", "lead-architect"]),
        (order, choices, vetoRoles) => {
          const r = createQuorumRound({
            proposal: p,
            proposalHash: hash,
            voters: SEED_VOTERS,
            threshold: { weight: 4 },
            vetoRoles,
            verify,
          });
          let decidedAt: number | undefined;
          order.forEach((from, i) => {
            const receipt = r.step(signedVote(from, choices[i] as VoteChoice), T0 + i + 1);
            if (receipt.accepted && receipt.outcome !== undefined) decidedAt = i;
          });
          r.tick(T0 + 60_000);
          const result = r.result();
          assert.ok(result);
          // Recompute with every vote of the order counted, no early stop.
          let approve = 0;
          let vetoed = false;
          order.forEach((from, i) => {
            const voter = SEED_VOTERS.find((v) => v.id === from) as Voter;
            if (choices[i] === "approve") approve += voter.weight;
            if (choices[i] === "reject" && vetoRoles.includes(voter.role)) vetoed = true;
          });
          if (decidedAt !== undefined) {
            const everyone = order.length === SEED_VOTERS.length;
            if (everyone) {
              const final = vetoed ? "vetoed" : approve >= 4 ? "approved" : "rejected";
              assert.equal(result.outcome === "approved", final === "approved");
            }
            assert.equal(result.votes.length, decidedAt + 1);
          } else {
            assert.ok(result.outcome === "no-quorum" || result.outcome === "approved");
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
