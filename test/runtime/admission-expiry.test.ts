/**
 * An agent admitted by a credential is refused once the credential expires,
 * for what it sends and for its votes, not only when its next card is
 * heard. Before, the grant stayed until then: `Gatekeeper.expire` dropped
 * expired grants but nothing called it, so an agent whose node stopped
 * heartbeating at the expiry kept its tasks accepted and its votes counted
 * (consensus reads `grant`) until the registry dropped it, `leftAfterMs`
 * later (ten heartbeats by default).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../src/core/index.js";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";
import { AdmissionError, issueCredential } from "../../src/registry/admission.js";
import type { AgentCard } from "../../src/registry/agent-card.js";
import { Gatekeeper } from "../../src/runtime/admission.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import type { NodeContext } from "../../src/runtime/node-context.js";

test("a credential's expiry refuses its agent at once, its grant gone", async () => {
  const clock = new ManualClock(1_800_000_000_000);
  const operator = generateAgentKeyPair();
  const agentKeys = generateAgentKeyPair();
  const publicKey = encodePublicKey(agentKeys.publicKey);
  const events: SwarmEvent[] = [];
  const node = {
    clock,
    events: { emit: (e: SwarmEvent) => events.push(e) },
    registry: { get: () => undefined },
    store: {
      claimIdempotencyKey: async () => ({ first: true }),
    },
  } as unknown as NodeContext;
  const gate = new Gatekeeper(node, {
    mode: "credential",
    swarm: "exp",
    declared: new Map(),
    operatorKey: operator.publicKey,
  });
  const credential = issueCredential(
    {
      swarm: "exp",
      agent: "guest-1",
      role: "dev",
      publicKey,
      issuedAt: clock.now(),
      notAfter: clock.now() + 60_000,
    },
    operator.privateKey,
  );
  const card: AgentCard = {
    id: "guest-1",
    role: "dev",
    tags: [],
    capabilities: [],
    weight: 1,
    publicKey,
    credential,
  };
  assert.ok(await gate.admit(card), "admitted with its credential");
  gate.assertAdmitted("guest-1");
  assert.equal(gate.grant("guest-1")?.via, "credential");

  // The credential expires; no card of the agent is heard since.
  clock.advance(60_001);
  assert.throws(
    () => gate.assertAdmitted("guest-1"),
    (error: unknown) =>
      error instanceof AdmissionError &&
      error.refusal === "E_CREDENTIAL_EXPIRED" &&
      /ask the operator for a new one \(conclave admit\)/.test(error.message),
  );
  assert.equal(gate.grant("guest-1"), undefined, "an expired grant still counts its votes");
  assert.equal(gate.refusal("guest-1")?.code, "E_CREDENTIAL_EXPIRED");
  assert.equal(
    events.filter((e) => e.type === "agent.refused" && e.code === "E_CREDENTIAL_EXPIRED").length,
    1,
  );

  // A renewed credential admits it again.
  const renewed = issueCredential(
    {
      swarm: "exp",
      agent: "guest-1",
      role: "dev",
      publicKey,
      issuedAt: clock.now(),
      notAfter: clock.now() + 60_000,
    },
    operator.privateKey,
  );
  assert.ok(await gate.admit({ ...card, credential: renewed }));
  gate.assertAdmitted("guest-1");
  assert.equal(gate.grant("guest-1")?.expiresAt, clock.now() + 60_000);
});
