/**
 * People among the voters of a privileged action: `{ human: alice, weight: 2 }`
 * in the swarm file, with alice's public key under `humans:`. The round waits
 * for her (a `consensus.waiting` event, `swarm.awaitingHumans()`); her vote,
 * signed with her key outside the node (as a browser does, from the ballot's
 * signing input), is counted by the same quorum rule, sealed, and re-checked
 * by the offline audit; votes that are not hers to cast are refused.
 */
import assert from "node:assert/strict";
import { sign } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseSwarmConfig } from "../../src/config/load.js";
import { createVote } from "../../src/consensus/vote.js";
import { ConfigError, VoteRefusedError } from "../../src/errors/index.js";
import {
  type AgentKeyPair,
  encodePublicKey,
  generateAgentKeyPair,
} from "../../src/identity/keys.js";
import { verifyStoredAuditLog } from "../../src/runtime/consensus/audit-log.js";
import { lateVotesKey } from "../../src/runtime/consensus/late-votes.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { openSwarm } from "../../src/runtime/from-config.js";
import type { Swarm } from "../../src/runtime/swarm.js";
import { encodeEnvelope } from "../../src/wire/codec.js";
import { until } from "../helpers/until.js";

const alice = generateAgentKeyPair();
const mallory = generateAgentKeyPair();

function swarmFile(humanKey: string, extra = ""): string {
  return `swarm: approvals
dataDir: ./data
roles: { lead: {}, ops: { tasks: [funds.transfer, funds.small] } }
agents:
  - { id: lead, role: lead, weight: 1 }
  - { id: ops-1, role: ops, weight: 1 }
humans:
  alice: { publicKey: ${humanKey} }
privileged:
  funds.transfer:
    threshold: { weight: 3 }
    voters: [lead, { human: alice, weight: 2 }]
    deadlineMs: 30000
  funds.small:
    threshold: { weight: 1 }
    voters: [lead, { human: alice, weight: 2 }]
${extra}`;
}

/** Signs a ballot as the browser does: Ed25519 over the signing input, outside the node. */
function signBallot(ballot: { envelope: object; signingInput: string }, keys: AgentKeyPair) {
  const sig = sign(null, Buffer.from(ballot.signingInput, "base64url"), keys.privateKey);
  return { ...ballot.envelope, sig: sig.toString("base64url") };
}

describe("human approvals", () => {
  const work = mkdtempSync(join(tmpdir(), "conclave-humans-"));
  const config = parseSwarmConfig(swarmFile(encodePublicKey(alice.publicKey)), { baseDir: work });
  let swarm: Swarm;
  const events: SwarmEvent[] = [];

  before(async () => {
    swarm = await openSwarm(config, {
      module: { setup: (agent) => void agent.handle("funds.transfer", () => ({ sent: true })) },
    });
    swarm.on((e) => events.push(e));
    await swarm.start();
  });
  after(async () => {
    await swarm.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("the round waits for alice, counts her signed approval, and the audit verifies it", async () => {
    const decided = swarm.propose("funds.transfer", { to: "ops-1", amount: 50 }, { as: "lead" });
    await until(() => swarm.awaitingHumans().length === 1, 5000, "the proposal to wait");
    const [open] = swarm.awaitingHumans();
    assert.deepEqual(
      open?.humans.map((h) => [h.id, h.weight]),
      [["alice", 2]],
    );
    await until(
      () => events.some((e) => e.type === "consensus.waiting"),
      5000,
      "the waiting event",
    );
    const waiting = events.find((e) => e.type === "consensus.waiting");
    assert.deepEqual(waiting && "humans" in waiting ? waiting.humans : [], ["alice"]);
    const id = open?.proposal.id ?? "";
    swarm.castHumanVote(id, signBallot(swarm.humanBallot(id, "alice", "approve"), alice));
    const decision = await decided;
    assert.equal(decision.outcome, "approved");
    assert.equal(decision.tally.approve, 3);
    assert.ok(decision.votes.some((v) => v.from === "alice"));
    assert.equal(swarm.awaitingHumans().length, 0);
    const verdict = await verifyStoredAuditLog(swarm.store, config);
    assert.equal(verdict.ok, true, JSON.stringify(verdict));
    const ran = await swarm.submitAndWait("ops", "funds.transfer", decision.proposal.data, {
      as: "lead",
      approval: decision.seal,
      timeoutMs: 10_000,
    });
    assert.deepEqual(ran, { sent: true });
  });

  test("alice's rejection is counted: without her weight the threshold cannot be met", async () => {
    const decided = swarm.propose("funds.transfer", { to: "ops-1", amount: 5000 }, { as: "lead" });
    await until(() => swarm.awaitingHumans().length === 1, 5000, "the proposal to wait");
    const id = swarm.awaitingHumans()[0]?.proposal.id ?? "";
    const ballot = swarm.humanBallot(id, "alice", "reject", "too much at once");
    swarm.castHumanVote(id, signBallot(ballot, alice));
    const decision = await decided;
    assert.equal(decision.outcome, "rejected");
    assert.equal(decision.tally.reject, 2);
  });

  test("votes that are not alice's to cast are refused before they reach the bus", async () => {
    const decided = swarm.propose("funds.transfer", { to: "ops-1", amount: 1 }, { as: "lead" });
    await until(() => swarm.awaitingHumans().length === 1, 5000, "the proposal to wait");
    const id = swarm.awaitingHumans()[0]?.proposal.id ?? "";
    // Signed with another key than the one the swarm file gives alice.
    assert.throws(
      () => swarm.castHumanVote(id, signBallot(swarm.humanBallot(id, "alice", "approve"), mallory)),
      (error: Error) =>
        error instanceof VoteRefusedError && /not signed with alice's key/.test(error.message),
    );
    // Someone who is not a human voter of the action.
    assert.throws(() => swarm.humanBallot(id, "mallory", "approve"), VoteRefusedError);
    assert.throws(() => swarm.humanBallot(id, "lead", "approve"), /not a human voter/);
    // A proposal that does not exist.
    assert.throws(() => swarm.castHumanVote("01NOTAPROPOSAL", {}), /no open proposal/);
    swarm.castHumanVote(id, signBallot(swarm.humanBallot(id, "alice", "approve"), alice));
    assert.equal((await decided).outcome, "approved");
    // Closed now: a late vote is refused.
    assert.throws(
      () => swarm.castHumanVote(id, signBallot({ envelope: {}, signingInput: "" }, alice)),
      /no open proposal/,
    );
  });

  test("a vote that comes after its round closed is kept, signed, as a late vote, not dropped", async () => {
    // The lead's weight meets this action's threshold alone: decided before alice votes.
    const decision = await swarm.propose("funds.small", { to: "ops-1", amount: 1 }, { as: "lead" });
    assert.equal(decision.outcome, "approved");
    const late = createVote({
      proposal: decision.proposal,
      from: "alice",
      choice: "reject",
      reason: "I was not asked in time",
      privateKey: alice.privateKey,
    });
    const id = decision.proposal.id;
    swarm.transport.publish(`approvals.consensus.vote.${id}`, encodeEnvelope(late));
    await until(
      async () => (await swarm.store.getMeta(lateVotesKey(id))) !== undefined,
      5000,
      "the late vote to be kept",
    );
    const kept = JSON.parse((await swarm.store.getMeta(lateVotesKey(id))) ?? "[]") as {
      voter: string;
      choice: string;
      vote: { sig: string };
    }[];
    assert.deepEqual(
      kept.map((k) => [k.voter, k.choice, k.vote.sig]),
      [["alice", "reject", late.sig]],
    );
    assert.ok(events.some((e) => e.type === "consensus.late_vote" && e.agent === "alice"));
    assert.equal(
      await swarm.metrics.get("conclave_consensus_late_votes_total", { choice: "reject" }),
      1,
    );
  });

  test("the swarm file is checked: an undeclared human, a human in a pbft round, a name shared with an agent", () => {
    const key = encodePublicKey(alice.publicKey);
    const problems = (text: string) => {
      try {
        parseSwarmConfig(text, { baseDir: work });
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        return error.message;
      }
      return assert.fail("expected a configuration error");
    };
    assert.match(
      problems(swarmFile(key).replace("{ human: alice, weight: 2 }", "{ human: alise }")),
      /no human "alise" under humans: \(did you mean "alice"\?\)/,
    );
    assert.match(
      problems(
        swarmFile(key).replace(
          "threshold: { weight: 3 }",
          "protocol: pbft\n    threshold: { weight: 3 }",
        ),
      ),
      /a human votes in a quorum round only/,
    );
    assert.match(
      problems(
        swarmFile(key)
          .replace("alice: { publicKey", "ops-1: { publicKey")
          .replace("human: alice", "human: ops-1"),
      ),
      /"ops-1" is both an agent and a human/,
    );
  });
});
