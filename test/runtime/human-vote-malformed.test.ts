/**
 * A person's vote the coordinator would refuse as malformed must be refused
 * before it goes on the bus, with a typed error saying what to fix.
 * `checkHumanVote` (behind `swarm.castHumanVote`, the dashboard's
 * POST /api/approvals/<id>/vote and `conclave approve`) never parsed the
 * vote body, so a reason longer than `VOTE_REASON_MAX_LENGTH` or a choice
 * other than approve/reject/abstain was reported as cast, then dropped by
 * the coordinator, and the round ended no-quorum. `conclave approve` now
 * also checks `--reason` before it signs anything.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { approveProposal } from "../../src/cli/approve.js";
import { createVote, VOTE_REASON_MAX_LENGTH } from "../../src/consensus/vote.js";
import { VoteRefusedError } from "../../src/errors/index.js";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";
import { checkHumanVote } from "../../src/runtime/consensus/human-votes.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { createSignedEnvelope } from "../../src/wire/signature.js";
import { until } from "../helpers/until.js";

const alice = generateAgentKeyPair();

function humanSwarm() {
  const t = createTestSwarm({
    roles: { lead: {}, ops: { tasks: ["funds.transfer"] } },
    privileged: {
      "funds.transfer": {
        protocol: "quorum",
        threshold: { weight: 3 },
        voters: ["lead"],
        deadlineMs: 1500,
        humans: [{ id: "alice", weight: 2, publicKey: encodePublicKey(alice.publicKey) }],
      },
    },
  });
  t.swarm.agent({ id: "lead-1", role: "lead", weight: 1 });
  return t;
}

test("a human vote with a reason over the limit is refused before it is published; one at the limit counts", async () => {
  const t = humanSwarm();
  try {
    await t.swarm.start();
    const decided = t.swarm.propose("funds.transfer", { amount: 1 }, { as: "lead-1" });
    await until(() => t.swarm.awaitingHumans().length === 1, 5000, "the proposal to wait");
    const proposal = t.swarm.awaitingHumans()[0]!.proposal;
    const vote = (reason: string) =>
      createVote({
        proposal,
        from: "alice",
        choice: "approve",
        reason,
        privateKey: alice.privateKey,
      });
    const tooLong = vote("x".repeat(VOTE_REASON_MAX_LENGTH + 1));
    assert.throws(() => checkHumanVote(proposal, tooLong, Date.now()), VoteRefusedError);
    assert.throws(
      () => t.swarm.castHumanVote(proposal.id, tooLong),
      (error: unknown) =>
        error instanceof VoteRefusedError &&
        /reason must be a string of at most 4096/.test(error.message),
    );
    t.swarm.castHumanVote(proposal.id, vote("x".repeat(VOTE_REASON_MAX_LENGTH)));
    const decision = await decided;
    assert.equal(decision.outcome, "approved", "alice's weight 2 and lead-1's 1 reach 3");
  } finally {
    await t.cleanup();
  }
});

test("a signed human vote whose choice is not approve, reject or abstain is refused", async () => {
  const t = humanSwarm();
  try {
    await t.swarm.start();
    void t.swarm.propose("funds.transfer", { amount: 2 }, { as: "lead-1" }).catch(() => {});
    await until(() => t.swarm.awaitingHumans().length === 1, 5000, "the proposal to wait");
    const id = t.swarm.awaitingHumans()[0]!.proposal.id;
    const ballot = t.swarm.humanBallot(id, "alice", "approve");
    const body = { ...(ballot.envelope.body as object), choice: "yes" };
    const vote = createSignedEnvelope({ ...ballot.envelope, body } as never, alice.privateKey);
    assert.throws(
      () => t.swarm.castHumanVote(id, vote),
      (error: unknown) =>
        error instanceof VoteRefusedError && /body\.choice must be/.test(error.message),
    );
  } finally {
    await t.cleanup();
  }
});

test("conclave approve refuses a --reason over the limit before reading anything or signing", async () => {
  await assert.rejects(
    approveProposal("/nonexistent/swarm.yaml", "01PROPOSAL", {
      key: "/nonexistent/alice.key",
      reject: false,
      reason: "x".repeat(VOTE_REASON_MAX_LENGTH + 1),
      json: false,
    }),
    (error: unknown) =>
      error instanceof VoteRefusedError && /--reason is 4097 characters/.test(error.message),
  );
});
