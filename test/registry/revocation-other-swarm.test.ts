/**
 * A revocation said nothing of the swarm it was for: the operator's
 * revocation of "dev" in one swarm, replayed on another swarm's
 * `<swarm>.registry.revoke` (or appended to its audit log) where the same
 * operator key is configured (a credential names its swarm precisely
 * because one operator key may serve several), revoked that swarm's "dev"
 * for good. Revocations now name their swarm, and a node refuses one for
 * another swarm.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { systemClock } from "../../src/core/clock.js";
import { SignatureError } from "../../src/errors/index.js";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import { checkRevocation, OPERATOR_ID, signRevocation } from "../../src/registry/revocation.js";
import { REVOKED_AUDIT_KIND } from "../../src/runtime/revocations.js";
import { sharedBrokerNodes } from "../helpers/shared-broker.js";

const operator = generateAgentKeyPair();

test("a revocation signed for another swarm is refused", () => {
  const staging = signRevocation(
    { agent: "dev", authority: "operator", swarm: "staging" },
    { id: OPERATOR_ID, privateKey: operator.privateKey },
    systemClock,
  );
  const context = { operatorKey: operator.publicKey, keyOf: () => undefined };
  assert.equal(checkRevocation(staging, { ...context, swarm: "staging" }).agent, "dev");
  assert.throws(
    () => checkRevocation(staging, { ...context, swarm: "prod" }),
    (error: unknown) =>
      error instanceof SignatureError && /for swarm "staging", not "prod"/.test(error.message),
  );
});

test("a node's revocation names its swarm", async () => {
  const { node, cleanup } = sharedBrokerNodes({
    name: "revswarm",
    roles: { dev: {} },
    defaults: { heartbeatMs: 100 },
    admission: { mode: "open", operatorKey: operator.publicKey },
  });
  try {
    const a = node("node-a");
    a.agent({ id: "dev", role: "dev" });
    await a.start();
    await a.revoke("dev", { operatorKey: operator.privateKey });
    const logged = (await a.store.auditLog({ fromSeq: 1, limit: 100 })).find(
      (e) => e.kind === REVOKED_AUDIT_KIND,
    );
    const data = logged?.data as { body?: { swarm?: unknown } } | undefined;
    assert.equal(data?.body?.swarm, "revswarm");
  } finally {
    await cleanup();
  }
});
