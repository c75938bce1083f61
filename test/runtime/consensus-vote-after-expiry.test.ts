/**
 * A vote from an agent this node refuses is not counted, even while its key
 * is still in the node's trust table. The coordinator checked votes against
 * that table and revocation only: an agent admitted by a credential that
 * expired while the round was open (its node not heard since, so its key
 * not dropped yet) still had its vote counted, and the round sealed an
 * approval that the guard in front of the action then refused ("refused
 * here (E_CREDENTIAL_EXPIRED)"). The round now counts no vote from an agent
 * refused here, by the same rule as the guard.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { RuntimeProposal } from "../../src/consensus/rule.js";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";
import { issueCredential } from "../../src/registry/admission.js";
import { sharedBrokerNodes } from "../helpers/shared-broker.js";
import { until } from "../helpers/until.js";

test("a vote cast after its voter's credential expired is not counted", async () => {
  const operator = generateAgentKeyPair();
  const guestKeys = generateAgentKeyPair();
  const nodes = sharedBrokerNodes({
    name: "voteexp",
    roles: { lead: {}, ops: { tasks: ["funds.transfer"] } },
    // Rare heartbeat sweeps: the guest's key stays trusted a while after its expiry.
    defaults: { heartbeatMs: 2000, suspectAfterMs: 60_000, leftAfterMs: 120_000 },
    admission: {
      mode: "credential",
      declared: [{ id: "lead-1", role: "lead", weight: 1 }],
      operatorKey: operator.publicKey,
    },
    privileged: {
      "funds.transfer": {
        protocol: "quorum",
        threshold: { weight: 2 },
        voters: ["lead"],
        deadlineMs: 4000,
      },
    },
  });
  try {
    const a = nodes.node("node-a");
    a.agent({ id: "lead-1", role: "lead", weight: 1 });
    await a.start();
    const notAfter = Date.now() + 6000;
    const credential = issueCredential(
      {
        swarm: "voteexp",
        agent: "guest-1",
        role: "lead",
        publicKey: encodePublicKey(guestKeys.publicKey),
        issuedAt: Date.now(),
        notAfter,
      },
      operator.privateKey,
    );
    const g = nodes.node("node-g", () => guestKeys);
    g.agent({ id: "guest-1", role: "lead", weight: 1, credential }).vote(async () => {
      // Votes just after its credential ran out.
      await sleep(Math.max(0, notAfter + 20 - Date.now()));
      return { choice: "approve", reasons: ["late in my term"] };
    });
    await g.start();
    await until(
      () => a.registry.find().some((e) => e.card.id === "guest-1"),
      3000,
      "guest-1 admitted on node a",
    );
    await sleep(2500); // the handshake between the nodes
    assert.ok(Date.now() < notAfter - 300, "the round starts while the credential is valid");
    const decision = await a.propose("funds.transfer", { amount: 1 }, { as: "lead-1" });
    assert.ok(
      (decision.proposal as RuntimeProposal).rule.voters.some((v) => v.id === "guest-1"),
      "guest-1 was a voter when the round started",
    );
    assert.equal(
      decision.votes.some((v) => v.from === "guest-1"),
      false,
      "its vote after the expiry is not counted",
    );
    assert.equal(decision.outcome, "no-quorum");
  } finally {
    await nodes.cleanup();
  }
});

test("an agent whose credential expired is not put in a new round's electorate", async () => {
  // Listed, it would make the round's approval one this node's own guard
  // refuses ("voter guest-1, refused here (E_CREDENTIAL_EXPIRED)"), whether
  // or not it voted.
  const operator = generateAgentKeyPair();
  const guestKeys = generateAgentKeyPair();
  const nodes = sharedBrokerNodes({
    name: "electexp",
    roles: { lead: {}, ops: { tasks: ["funds.small"] } },
    defaults: { heartbeatMs: 2000, suspectAfterMs: 60_000, leftAfterMs: 120_000 },
    admission: {
      mode: "credential",
      declared: [{ id: "lead-1", role: "lead", weight: 1 }],
      operatorKey: operator.publicKey,
    },
    privileged: {
      "funds.small": { protocol: "quorum", threshold: { weight: 1 }, voters: ["lead"] },
    },
  });
  try {
    const a = nodes.node("node-a");
    a.agent({ id: "lead-1", role: "lead", weight: 1 });
    await a.start();
    const notAfter = Date.now() + 4500;
    const credential = issueCredential(
      {
        swarm: "electexp",
        agent: "guest-1",
        role: "lead",
        publicKey: encodePublicKey(guestKeys.publicKey),
        issuedAt: Date.now(),
        notAfter,
      },
      operator.privateKey,
    );
    const g = nodes.node("node-g", () => guestKeys);
    g.agent({ id: "guest-1", role: "lead", weight: 1, credential });
    await g.start();
    await until(
      () => a.registry.find().some((e) => e.card.id === "guest-1"),
      3000,
      "guest-1 admitted on node a",
    );
    await sleep(Math.max(0, notAfter + 20 - Date.now()));
    const decision = await a.propose("funds.small", { amount: 1 }, { as: "lead-1" });
    assert.deepEqual(
      (decision.proposal as RuntimeProposal).rule.voters.map((v) => v.id),
      ["lead-1"],
      "guest-1's credential ran out before the round",
    );
  } finally {
    await nodes.cleanup();
  }
});
