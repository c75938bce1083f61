/**
 * What reaches a node over the bus must not change who may vote for people
 * there, unless it is signed by whom it must be.
 *
 * - A `consensus.decided` event closes a proposal to people's votes on
 *   every node (observer nodes learn what other coordinators decided). The
 *   engine took any envelope on that subject at its word, signed or not:
 *   a bare bus client, with no key, could close any open proposal to its
 *   human voters (`awaitingHumans()` empty, `castHumanVote` refused), so
 *   the round ended `no-quorum` without them.
 * - A proposal whose rule gives a person another key than the swarm file
 *   does is refused by every node's voters, but it was still offered to
 *   people (`awaitingHumans()`), and `castHumanVote` checked a person's
 *   vote against the key the rule gives: a vote "from alice" signed by
 *   whoever wrote that rule was checked and published as hers.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createVote } from "../../src/consensus/vote.js";
import { VoteRefusedError } from "../../src/errors/index.js";
import {
  type AgentKeyPair,
  encodePublicKey,
  generateAgentKeyPair,
} from "../../src/identity/keys.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { encodeEnvelope } from "../../src/wire/codec.js";
import { createEnvelope } from "../../src/wire/envelope.js";
import { createSignedEnvelope } from "../../src/wire/signature.js";
import { sharedBrokerNodes } from "../helpers/shared-broker.js";
import { until } from "../helpers/until.js";

const alice = generateAgentKeyPair();
const mallory = generateAgentKeyPair();

function humanSwarm(keys?: (id: string) => AgentKeyPair) {
  const t = createTestSwarm({
    roles: { lead: {}, ops: { tasks: ["funds.transfer"] } },
    ...(keys === undefined ? {} : { keys }),
    privileged: {
      "funds.transfer": {
        protocol: "quorum",
        threshold: { weight: 3 },
        voters: ["lead"],
        deadlineMs: 4000,
        humans: [{ id: "alice", weight: 2, publicKey: encodePublicKey(alice.publicKey) }],
      },
    },
  });
  t.swarm.agent({ id: "lead-1", role: "lead", weight: 1 });
  return t;
}

/** Publishes raw bytes on `subject` and waits until a subscriber of that subject got them. */
async function publishAndWait(
  t: ReturnType<typeof humanSwarm>,
  subject: string,
  data: Uint8Array,
): Promise<void> {
  let seen = false;
  const sub = t.swarm.transport.subscribe(subject, () => {
    seen = true;
  });
  t.swarm.transport.publish(subject, data);
  await until(() => seen, 5000, `${subject} delivered`);
  sub.unsubscribe();
  await new Promise((resolve) => setImmediate(resolve));
}

test("a forged or unsigned consensus.decided event does not close a proposal to its human voters", async () => {
  const t = humanSwarm();
  try {
    await t.swarm.start();
    const decided = t.swarm.propose("funds.transfer", { amount: 1 }, { as: "lead-1" });
    decided.catch(() => undefined); // awaited below; closed early if an assertion fails
    await until(() => t.swarm.awaitingHumans().length === 1, 5000, "the proposal to wait");
    const id = t.swarm.awaitingHumans()[0]?.proposal.id ?? "";
    const body = {
      proposal: id,
      action: "funds.transfer",
      outcome: "rejected",
      tally: { approve: 0, reject: 3, abstain: 0, threshold: 3, total: 3 },
      seal: "0".repeat(64),
      seq: 1,
      byzantine: 0,
    };
    const subject = "test.event.consensus.decided";
    // Unsigned, from nobody in particular.
    const unsigned = createEnvelope({ type: "consensus.decided", from: "lead-1", corr: id, body });
    await publishAndWait(t, subject, encodeEnvelope(unsigned));
    // Signed, but with a key that is not the proposer's.
    const forged = createSignedEnvelope(
      { type: "consensus.decided", from: "lead-1", corr: id, body },
      mallory.privateKey,
    );
    await publishAndWait(t, subject, encodeEnvelope(forged));
    assert.equal(t.swarm.awaitingHumans().length, 1, "the proposal is still open to alice");
    const ballot = t.swarm.humanBallot(id, "alice", "approve");
    const vote = createSignedEnvelope(ballot.envelope as never, alice.privateKey);
    t.swarm.castHumanVote(id, vote);
    const decision = await decided;
    assert.equal(decision.outcome, "approved", "alice's weight 2 and lead-1's 1 reach 3");
  } finally {
    await t.cleanup();
  }
});

test("a proposal whose rule gives a person another key is not offered to people, and a vote signed with that key is refused", async () => {
  const rogue = generateAgentKeyPair();
  const t = humanSwarm((id) => (id === "rogue" ? rogue : generateAgentKeyPair()));
  t.swarm.agent({ id: "rogue", role: "lead", weight: 1 });
  try {
    await t.swarm.start();
    const now = Date.now();
    const proposal = {
      id: "01JD3Q0Z6C2S3V7X8Y9Z0A1B2C",
      action: "funds.transfer",
      data: { amount: 1_000_000 },
      proposer: "rogue",
      ts: now,
      deadline: now + 4000,
      protocol: "quorum",
      rule: {
        threshold: { weight: 3 },
        vetoRoles: [],
        voters: [
          // Alice listed with mallory's key.
          { id: "alice", role: "human", weight: 2, publicKey: encodePublicKey(mallory.publicKey) },
          { id: "rogue", role: "lead", weight: 1, publicKey: encodePublicKey(rogue.publicKey) },
        ],
      },
    };
    const envelope = createSignedEnvelope(
      { type: "consensus.proposal", from: "rogue", corr: proposal.id, body: proposal },
      rogue.privateKey,
    );
    await publishAndWait(t, "test.consensus.proposal", encodeEnvelope(envelope));
    assert.deepEqual(
      t.swarm.awaitingHumans().map((a) => a.proposal.id),
      [],
      "a proposal this node refuses is not offered to people",
    );
    const asAlice = createVote({
      proposal: proposal as never,
      from: "alice",
      choice: "approve",
      privateKey: mallory.privateKey,
    });
    assert.throws(() => t.swarm.castHumanVote(proposal.id, asAlice), VoteRefusedError);
    assert.throws(() => t.swarm.humanBallot(proposal.id, "alice", "approve"), VoteRefusedError);
  } finally {
    await t.cleanup();
  }
});

test("the proposer's own signed consensus.decided still closes the proposal on an observer node", async () => {
  const nodes = sharedBrokerNodes({
    name: "observer",
    roles: { lead: {}, ops: { tasks: ["funds.transfer"] } },
    defaults: { heartbeatMs: 100 },
    privileged: {
      "funds.transfer": {
        protocol: "quorum",
        threshold: { weight: 3 },
        voters: ["lead"],
        deadlineMs: 20_000,
        humans: [{ id: "alice", weight: 2, publicKey: encodePublicKey(alice.publicKey) }],
      },
    },
  });
  try {
    const a = nodes.node("a");
    a.agent({ id: "lead-1", role: "lead", weight: 1 });
    const b = nodes.node("b");
    b.agent({ id: "ops-1", role: "ops", weight: 1 });
    await a.start();
    await b.start();
    await until(
      () => b.registry.find().some((e) => e.card.id === "lead-1"),
      10_000,
      "lead-1 known",
    );
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the handshake between the nodes
    const decided = a.propose("funds.transfer", { amount: 3 }, { as: "lead-1" });
    decided.catch(() => undefined);
    await until(() => b.awaitingHumans().length === 1, 5000, "the proposal seen on b");
    const id = b.awaitingHumans()[0]?.proposal.id ?? "";
    const ballot = b.humanBallot(id, "alice", "approve");
    b.castHumanVote(id, createSignedEnvelope(ballot.envelope as never, alice.privateKey));
    assert.equal((await decided).outcome, "approved");
    await until(() => b.awaitingHumans().length === 0, 5000, "b to close the decided proposal");
  } finally {
    await nodes.cleanup();
  }
});
