/**
 * `swarm.revoke(agent, { operatorKey })` with a key that is not the swarm's
 * operator key is refused (SignatureError), as every other node refuses the
 * revocation it signs. Before, the node applied it to itself at once (the
 * agent refused, dropped and stopped here), logged it and broadcast it, and
 * resolved: the caller believed the agent revoked, every other node (and
 * this one after a restart) ignored the revocation as forged.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SignatureError } from "../../src/errors/index.js";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { sharedBrokerNodes } from "../helpers/shared-broker.js";
import { until } from "../helpers/until.js";

const roles = { lead: {}, dev: { tasks: ["code"] } };
const defaults = { heartbeatMs: 50 };
const operator = generateAgentKeyPair();
const declared = [
  { id: "lead", role: "lead", weight: 1 },
  { id: "dev", role: "dev", weight: 1 },
];

const revoked = (events: SwarmEvent[], agent: string) =>
  events.some((e) => e.type === "agent.refused" && e.agent === agent && e.code === "E_REVOKED");

test("a revocation signed with another key than the operator's revokes nobody, here included", async () => {
  const { node, cleanup } = sharedBrokerNodes({
    name: "revwrong",
    roles,
    defaults,
    admission: { mode: "declared", declared, operatorKey: operator.publicKey },
  });
  try {
    const a = node("node-a");
    const events: SwarmEvent[] = [];
    a.on((e) => events.push(e));
    a.agent({ id: "lead", role: "lead" });
    a.agent({ id: "dev", role: "dev" });
    await a.start();
    await until(() => a.registry.get("dev") !== undefined, 5000, "dev announced");

    await assert.rejects(
      a.revoke("dev", { operatorKey: generateAgentKeyPair().privateKey }, "not the operator"),
      (e: Error) => e instanceof SignatureError && /operator key/.test(e.message),
    );
    assert.equal(revoked(events, "dev"), false, "revoked here with a stranger's key");

    // The genuine operator key still revokes.
    await a.revoke("dev", { operatorKey: operator.privateKey }, "retired");
    await until(() => revoked(events, "dev"), 5000, "dev revoked");
  } finally {
    await cleanup();
  }
});
