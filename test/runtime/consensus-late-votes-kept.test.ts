/**
 * Late votes are kept for what they are: votes that came after their round
 * closed. Three things were wrong with what the coordinator kept:
 *
 * - a copy of a vote the round counted, republished by anyone after the
 *   decision, was kept as that voter's late vote (with a `consensus.late_vote`
 *   event and metric): the record said the voter came late while the sealed
 *   decision counts its vote;
 * - a vote on another version of the proposal (another `proposalHash`) was
 *   kept as a late vote on this one;
 * - a late vote from someone not a voter of the rule was dead-lettered with
 *   a plain `Error` (code `E_INVALID_ENVELOPE` in the `message.rejected`
 *   event), not the typed `SignatureError` of a sender without a key there.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createVote } from "../../src/consensus/vote.js";
import { type AgentKeyPair, generateAgentKeyPair } from "../../src/identity/keys.js";
import { lateVotesKey } from "../../src/runtime/consensus/late-votes.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { encodeEnvelope } from "../../src/wire/codec.js";
import { until } from "../helpers/until.js";

test("a counted vote republished after the decision, or a vote on another version, is not kept as a late vote; a stranger's gets a typed error", async () => {
  const keys = new Map<string, AgentKeyPair>();
  const keyOf = (id: string) => {
    const known = keys.get(id) ?? generateAgentKeyPair();
    keys.set(id, known);
    return known;
  };
  const t = createTestSwarm({
    roles: { lead: {}, ops: { tasks: ["funds.transfer"] } },
    keys: keyOf,
    privileged: {
      "funds.transfer": {
        protocol: "quorum",
        threshold: { weight: 1 },
        voters: ["lead"],
        deadlineMs: 3000,
      },
    },
  });
  t.swarm.agent({ id: "lead-1", role: "lead", weight: 1 });
  // Silent in the round: its vote comes late, by hand.
  t.swarm.agent({ id: "lead-2", role: "lead", weight: 1 }).vote(() => null);
  const events: SwarmEvent[] = [];
  t.swarm.on((e) => events.push(e));
  try {
    await t.swarm.start();
    const counted: Uint8Array[] = [];
    t.swarm.transport.subscribe("test.consensus.vote.>", (m) => {
      if (new TextDecoder().decode(m.data).includes('"from":"lead-1"')) counted.push(m.data);
    });
    const decision = await t.swarm.propose("funds.transfer", { amount: 1 }, { as: "lead-1" });
    assert.equal(decision.outcome, "approved");
    assert.equal(counted.length, 1);
    const subject = `test.consensus.vote.${decision.proposal.id}`;
    // A copy of the counted vote, after the decision.
    t.swarm.transport.publish(subject, counted[0] as Uint8Array);
    // lead-2's vote on another version of the proposal.
    const otherVersion = createVote({
      proposal: { ...decision.proposal, data: { amount: 1_000_000 } },
      from: "lead-2",
      choice: "approve",
      privateKey: keyOf("lead-2").privateKey,
    });
    t.swarm.transport.publish(subject, encodeEnvelope(otherVersion));
    // A stranger's vote.
    const stranger = createVote({
      proposal: decision.proposal,
      from: "mallory",
      choice: "approve",
      privateKey: generateAgentKeyPair().privateKey,
    });
    t.swarm.transport.publish(subject, encodeEnvelope(stranger));
    // lead-2's real late vote, last: once it is kept, the others were handled.
    const late = createVote({
      proposal: decision.proposal,
      from: "lead-2",
      choice: "reject",
      privateKey: keyOf("lead-2").privateKey,
    });
    t.swarm.transport.publish(subject, encodeEnvelope(late));
    await until(
      () => events.some((e) => e.type === "message.rejected" && e.reason.includes("mallory")),
      5000,
      "the stranger's vote handled",
    );
    await until(
      async () => (await t.swarm.store.getMeta(lateVotesKey(decision.proposal.id))) !== undefined,
      5000,
      "the late vote to be kept",
    );
    await new Promise((resolve) => setTimeout(resolve, 100)); // any later write
    const kept = JSON.parse(
      (await t.swarm.store.getMeta(lateVotesKey(decision.proposal.id))) ?? "[]",
    ) as { voter: string; vote: { id: string } }[];
    assert.deepEqual(
      kept.map((k) => [k.voter, k.vote.id]),
      [["lead-2", late.id]],
      "only lead-2's late vote on this proposal is kept",
    );
    assert.deepEqual(
      events.filter((e) => e.type === "consensus.late_vote").map((e) => "agent" in e && e.agent),
      ["lead-2"],
    );
    const rejected = events.find(
      (e) => e.type === "message.rejected" && e.reason.includes("mallory"),
    );
    assert.ok(rejected && "code" in rejected, "the stranger's vote is dead-lettered");
    assert.equal(rejected.code, "E_SIGNATURE");
  } finally {
    await t.cleanup();
  }
});
