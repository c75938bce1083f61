/**
 * A round's Byzantine evidence is bounded. Anyone who can publish on the
 * bus can replay an honest voter's signed vote (no key needed) or send
 * forgeries in its name: every copy used to be pushed into the round's
 * evidence and sealed into the decision (2,000 replays, a 1.2 MB decision,
 * each copy blaming the honest voter). Now exact repeats of kept evidence
 * are dropped silently (no evidence on the receipt, so nobody reports them
 * again), a round keeps at most `EVIDENCE_PER_SENDER_KIND` pieces per
 * claimed sender and kind and `EVIDENCE_MAX` in all, and the last piece says
 * how many were not kept. The same bounds hold for quorum, hierarchical and
 * PBFT rounds, and the sealed decision still verifies.
 */
import assert from "node:assert/strict";
import type { KeyObject } from "node:crypto";
import { describe, test } from "node:test";
import { verifyDecision } from "../../src/consensus/decision.js";
import { EVIDENCE_MAX, EVIDENCE_PER_SENDER_KIND } from "../../src/consensus/evidence-log.js";
import { createHierarchicalRound } from "../../src/consensus/hierarchical.js";
import { createPbftRound } from "../../src/consensus/pbft-round.js";
import { createQuorumRound } from "../../src/consensus/quorum.js";
import { sealDecision } from "../../src/consensus/seal.js";
import type { Proposal, Voter } from "../../src/consensus/types.js";
import { createVote, verifierFromKeys } from "../../src/consensus/vote.js";
import { ManualClock } from "../../src/core/clock.js";
import { type AgentKeyPair, agentKeyPairFromSeed } from "../../src/identity/keys.js";
import type { Envelope } from "../../src/wire/envelope.js";

const T0 = 1_700_000_000_000;
const clock = new ManualClock(T0);
const IDS = ["alice", "bob", "carol", "dave", "erin", "frank"] as const;
const VOTERS: readonly Voter[] = IDS.map((id) => ({ id, weight: 1, role: "council" }));
const keys = new Map<string, AgentKeyPair>(
  [...IDS, "mallory"].map((id) => {
    const seed = new Uint8Array(32);
    new TextEncoder().encodeInto(`evidence-bounds/${id}`, seed);
    return [id, agentKeyPairFromSeed(seed)];
  }),
);
const publicKeys = new Map<string, KeyObject>(
  [...keys].filter(([id]) => id !== "mallory").map(([id, k]) => [id, k.publicKey]),
);
const verify = verifierFromKeys(publicKeys);

function proposal(protocol: Proposal["protocol"]): Proposal {
  return {
    id: "01JD00000000000000000000E1",
    action: "funds.transfer",
    data: { amount: 5 },
    proposer: "alice",
    ts: T0,
    deadline: T0 + 60_000,
    protocol,
  };
}

function vote(p: Proposal, from: string, choice: "approve" | "reject", signer = from): Envelope {
  const privateKey = (keys.get(signer) as AgentKeyPair).privateKey;
  return createVote({ proposal: p, from, choice, reason: "r", privateKey }, { clock });
}

/** How many receipts carried evidence, for `copies` steps of the same envelope. */
function replay(step: (e: Envelope) => object, envelope: Envelope, copies: number): number {
  let reported = 0;
  for (let i = 0; i < copies; i++) {
    const receipt = step(envelope);
    if ("evidence" in receipt && receipt.evidence !== undefined) reported++;
  }
  return reported;
}

describe("bounded evidence", () => {
  test("quorum: 2,000 replays of an honest vote leave one piece of evidence, reported once", () => {
    const p = proposal("quorum");
    const round = createQuorumRound({
      proposal: p,
      voters: VOTERS,
      threshold: { weight: 6 },
      verify,
    });
    const honest = vote(p, "bob", "approve");
    assert.equal(round.step(honest, T0 + 1).accepted, true);
    const reported = replay((e) => round.step(e, T0 + 2), honest, 2000);
    assert.equal(reported, 1, "only the first copy is reported");
    round.tick(p.deadline);
    const result = round.result();
    assert.ok(result);
    assert.deepEqual(
      result.evidence.map((e) => [e.kind, e.agent]),
      [["replay", "bob"]],
    );
    assert.ok(JSON.stringify(result).length < 10_000);
  });

  test("quorum: forgeries in one name and strangers are capped per sender and kind and in all", () => {
    const p = proposal("quorum");
    const round = createQuorumRound({
      proposal: p,
      voters: VOTERS,
      threshold: { weight: 6 },
      verify,
    });
    // Distinct forgeries under carol's name, signed by mallory.
    for (let i = 0; i < 20; i++) round.step(vote(p, "carol", "reject", "mallory"), T0 + 1);
    // Votes from 200 ids nobody made a voter.
    for (let i = 0; i < 200; i++) round.step(vote(p, `ghost-${i}`, "approve", "mallory"), T0 + 1);
    round.tick(p.deadline);
    const result = round.result();
    assert.ok(result);
    const forged = result.evidence.filter((e) => e.kind === "bad-signature" && e.agent === "carol");
    assert.equal(forged.length, EVIDENCE_PER_SENDER_KIND);
    assert.equal(result.evidence.length, EVIDENCE_MAX);
    const notKept = 20 - EVIDENCE_PER_SENDER_KIND + 200 - (EVIDENCE_MAX - EVIDENCE_PER_SENDER_KIND);
    assert.match(
      result.evidence.at(-1)?.detail ?? "",
      new RegExp(
        `and ${notKept} more pieces of evidence not kept \\(bad-signature 16, unknown-voter 140\\)`,
      ),
    );
    const sealed = sealDecision(result, null);
    assert.equal(
      verifyDecision(sealed, { publicKeys, voters: VOTERS, threshold: { weight: 6 } }).ok,
      true,
      "the decision with bounded evidence still verifies",
    );
  });

  test("hierarchical: replays of a member's vote leave one piece of evidence", () => {
    const p = proposal("hierarchical");
    const round = createHierarchicalRound({
      proposal: p,
      voters: VOTERS,
      clusterSize: 3,
      threshold: { fraction: 0.5, strict: true },
      verify,
    });
    const member = round.plan.levels[0]?.[0]?.members[0] as string;
    const honest = vote(p, member, "approve");
    assert.equal(round.step(honest, T0 + 1).accepted, true);
    const reported = replay((e) => round.step(e, T0 + 2), honest, 500);
    assert.equal(reported, 1);
    for (const deadline of round.plan.levelDeadlines) round.tick(deadline);
    const result = round.result();
    assert.ok(result);
    assert.deepEqual(
      result.evidence.map((e) => [e.kind, e.agent]),
      [["replay", member]],
    );
  });

  test("pbft: replays of a replica's refusal leave one piece of evidence", () => {
    const p = proposal("pbft");
    const round = createPbftRound({ proposal: p, replicas: VOTERS.slice(0, 4), verify });
    const refusal = vote(p, "bob", "reject");
    round.step(refusal, T0 + 1);
    const reported = replay((e) => round.step(e, T0 + 2), refusal, 500);
    assert.equal(reported, 1);
    round.tick(p.deadline);
    const result = round.result();
    assert.ok(result);
    assert.deepEqual(
      result.evidence.map((e) => [e.kind, e.agent]),
      [["replay", "bob"]],
    );
  });
});
