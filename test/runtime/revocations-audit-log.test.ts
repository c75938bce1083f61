/**
 * Revocations read from the audit log are checked like those heard on the
 * bus: only the operator's key, or the agent's own, may revoke. Before, a
 * node applied every `registry.revoked` entry of the log as it stood: any
 * process that can append to the shared store (any node of the swarm, a
 * malicious agent's included) revoked whom it liked with an unsigned or
 * forged entry, and every node, including those started later, obeyed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { systemClock } from "../../src/core/index.js";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import { OPERATOR_ID, signRevocation } from "../../src/registry/revocation.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { REVOKED_AUDIT_KIND } from "../../src/runtime/revocations.js";
import { sharedBrokerNodes } from "../helpers/shared-broker.js";
import { until } from "../helpers/until.js";

const roles = { lead: {}, dev: { tasks: ["code"] } };
const defaults = {
  heartbeatMs: 50,
  ackWaitMs: 2000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};
const operator = generateAgentKeyPair();
const declared = [
  { id: "lead", role: "lead", weight: 1 },
  { id: "dev", role: "dev", weight: 1 },
  { id: "mole", role: "dev", weight: 1 },
];

const revokedHere = (events: SwarmEvent[], agent: string) =>
  events.some((e) => e.type === "agent.refused" && e.agent === agent && e.code === "E_REVOKED");

test("forged revocations in the audit log revoke nobody; signed ones still do", async () => {
  const { node, cleanup } = sharedBrokerNodes({
    name: "revlog",
    roles,
    defaults,
    admission: { mode: "declared", declared, operatorKey: operator.publicKey },
  });
  try {
    const moleKeys = generateAgentKeyPair();
    const a = node("node-a", (id) => (id === "mole" ? moleKeys : generateAgentKeyPair()));
    const events: SwarmEvent[] = [];
    a.on((e) => events.push(e));
    a.agent({ id: "dev", role: "dev" });
    a.agent({ id: "mole", role: "dev" });
    a.agent({ id: "lead", role: "lead" });

    // Written straight into the shared store, as any process with access to it could.
    const stranger = generateAgentKeyPair();
    const forged = [
      // Unsigned, claiming the operator's authority.
      { body: { agent: "dev", authority: "operator" } },
      // Signed, but not with the operator's key.
      signRevocation(
        { agent: "dev", authority: "operator" },
        { id: OPERATOR_ID, privateKey: stranger.privateKey },
        systemClock,
      ),
      // A self-revocation of "dev" signed with another key than dev's.
      signRevocation(
        { agent: "dev", authority: "self" },
        { id: "dev", privateKey: stranger.privateKey },
        systemClock,
      ),
      // "lead" revoking "dev".
      {
        ...signRevocation(
          { agent: "lead", authority: "self" },
          { id: "lead", privateKey: stranger.privateKey },
          systemClock,
        ),
        body: { agent: "dev", authority: "self" },
      },
    ];
    for (const data of forged) await a.store.appendAudit({ kind: REVOKED_AUDIT_KIND, data });
    // A genuine self-revocation of "mole", made in an earlier run.
    await a.store.appendAudit({
      kind: REVOKED_AUDIT_KIND,
      data: signRevocation(
        { agent: "mole", authority: "self", reason: "retired" },
        { id: "mole", privateKey: moleKeys.privateKey },
        systemClock,
      ),
    });

    await a.start();
    await until(() => revokedHere(events, "mole"), 3000, "mole's own revocation applied");
    assert.ok(!revokedHere(events, "dev"), "a forged revocation revoked dev");
    assert.ok(!revokedHere(events, "lead"), "a forged revocation revoked lead");

    // A node started later reads the same log: dev still stands there too.
    const b = node("node-b");
    const bEvents: SwarmEvent[] = [];
    b.on((e) => bEvents.push(e));
    await b.start();
    await until(() => b.registry.get("dev") !== undefined, 3000, "node-b hears dev");
    assert.ok(!revokedHere(bEvents, "dev"));

    // The operator's revocation, written to the log only (conclave revoke on the
    // embedded transport), is applied by the next read of the log.
    await a.store.appendAudit({
      kind: REVOKED_AUDIT_KIND,
      data: signRevocation(
        { agent: "dev", authority: "operator" },
        { id: OPERATOR_ID, privateKey: operator.privateKey },
        systemClock,
      ),
    });
    await until(() => revokedHere(events, "dev"), 5000, "the operator's revocation applied");
  } finally {
    await cleanup();
  }
});
