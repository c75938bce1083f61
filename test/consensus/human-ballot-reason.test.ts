/**
 * The ballot the dashboard hands a person to sign (`humanBallot`, behind
 * POST /api/approvals/<id>/ballot) keeps their reason as given: the
 * coordinator counts a reason of up to `VOTE_REASON_MAX_LENGTH` UTF-16 code
 * units, as `conclave approve --reason` sends it. It used to cut the reason
 * to 500 code units without a word — and when the cut fell inside a
 * character above U+FFFF (an emoji), the ballot had a lone surrogate and
 * could not even be built. A longer reason is refused, saying so.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { RuntimeProposal } from "../../src/consensus/rule.js";
import { parseVoteBody, VOTE_REASON_MAX_LENGTH } from "../../src/consensus/vote.js";
import { ManualClock } from "../../src/core/clock.js";
import { VoteRefusedError } from "../../src/errors/index.js";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";
import { humanBallot } from "../../src/runtime/consensus/human-votes.js";

const alice = generateAgentKeyPair();
const clock = new ManualClock(1_732_000_000_000);
const proposal: RuntimeProposal = {
  id: "01JD3Q0Z6C2S3V7X8Y9Z0A1B2C",
  action: "funds.transfer",
  data: { to: "dev-1", amount: 500 },
  proposer: "lead-1",
  ts: 1_732_000_000_000,
  deadline: 1_732_000_060_000,
  protocol: "quorum",
  rule: {
    threshold: { weight: 3 },
    vetoRoles: [],
    voters: [
      { id: "alice", role: "human", weight: 2, publicKey: encodePublicKey(alice.publicKey) },
    ],
  },
} as unknown as RuntimeProposal;

test("a reason the coordinator would count is kept whole on the ballot", () => {
  const reason = `${"checked the invoice. ".repeat(50)}ok`;
  assert.ok(reason.length > 500 && reason.length <= VOTE_REASON_MAX_LENGTH);
  const { envelope } = humanBallot(proposal, "alice", "reject", clock, reason);
  assert.equal(envelope.body.reason, reason);
  assert.equal(typeof parseVoteBody(envelope.body), "object");
});

test("a reason with an emoji across the old 500 cut still makes a ballot", () => {
  const reason = `${"x".repeat(499)}😀 fine`;
  const { envelope } = humanBallot(proposal, "alice", "approve", clock, reason);
  assert.equal(envelope.body.reason, reason);
});

test("a reason longer than the coordinator counts is refused, saying how long it may be", () => {
  assert.throws(
    () => humanBallot(proposal, "alice", "approve", clock, "x".repeat(VOTE_REASON_MAX_LENGTH + 1)),
    (err: unknown) =>
      err instanceof VoteRefusedError && new RegExp(`${VOTE_REASON_MAX_LENGTH}`).test(err.message),
  );
});
