/**
 * An agent admitted by a credential is refused once the credential expires,
 * for what it sends and for its votes, not only when its next card is
 * heard. Before, the grant stayed until then: `Gatekeeper.expire` dropped
 * expired grants but nothing called it, so an agent whose node stopped
 * heartbeating at the expiry kept its tasks accepted and its votes counted
 * (consensus reads `grant`) until the registry dropped it, `leftAfterMs`
 * later (ten heartbeats by default). The registry entry of such an agent
 * also lingered until then; the node's heartbeat now drops it at the expiry.
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
import { sharedBrokerNodes } from "../helpers/shared-broker.js";
import { until } from "../helpers/until.js";

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
  // Noticed on a message, not by the heartbeat's sweep: the sweep still
  // names it once, so its registry entry is dropped (before, it was not).
  assert.deepEqual(gate.expire(clock.now()), ["guest-1"]);
  assert.deepEqual(gate.expire(clock.now()), []);
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

test("between nodes: an agent whose credential expires leaves the registry at its expiry, not after leftAfterMs", async () => {
  const operator = generateAgentKeyPair();
  const guestKeys = generateAgentKeyPair();
  const { node, cleanup } = sharedBrokerNodes({
    name: "expnodes",
    roles: { dev: { tasks: ["code"] }, lead: {} },
    // Silence would drop the guest only after a minute.
    defaults: { heartbeatMs: 50, suspectAfterMs: 30_000, leftAfterMs: 60_000 },
    admission: { mode: "credential", declared: [], operatorKey: operator.publicKey },
  });
  try {
    const a = node("node-a");
    const events: SwarmEvent[] = [];
    a.on((e) => events.push(e));
    a.agent({ id: "lead", role: "lead" });
    await a.start();
    const notAfter = Date.now() + 1500;
    const credential = issueCredential(
      {
        swarm: "expnodes",
        agent: "guest-1",
        role: "dev",
        publicKey: encodePublicKey(guestKeys.publicKey),
        issuedAt: Date.now(),
        notAfter,
      },
      operator.privateKey,
    );
    const g = node("node-g", () => guestKeys);
    g.agent({ id: "guest-1", role: "dev", credential });
    await g.start();
    await until(() => a.registry.get("guest-1") !== undefined, 3000, "guest-1 admitted");
    // It keeps heartbeating past its expiry: each card is refused, and the
    // entry it had must go within a heartbeat or two of the expiry.
    await until(
      () => a.registry.get("guest-1") === undefined,
      10_000,
      "guest-1 dropped at its expiry",
    );
    assert.ok(Date.now() < notAfter + 10_000, "dropped long before leftAfterMs (a minute)");
    const left = events.find((e) => e.type === "agent.left" && e.card.id === "guest-1");
    assert.ok(left, "agent.left emitted");
    assert.ok(
      events.some(
        (e) =>
          e.type === "agent.refused" && e.agent === "guest-1" && e.code === "E_CREDENTIAL_EXPIRED",
      ),
    );
  } finally {
    await cleanup();
  }
});
