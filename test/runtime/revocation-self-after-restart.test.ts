/**
 * A node that starts after an agent revoked itself learns it from the audit
 * log, but checks a self-revocation with the agent's key, which a fresh
 * node does not know before the agent is heard (no key pinned in the swarm
 * file, none proved in an earlier run). It kept the revocation for its next
 * read of the log, and meanwhile admitted the revoked agent's card: whoever
 * held the key the agent revoked itself for (a leaked key, say) was back in
 * the registry, trusted and routed to, until the next read seconds later.
 * Now a card is checked against the self-revocations waiting for its key
 * before it is admitted.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { systemClock } from "../../src/core/clock.js";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";
import { signCard, signHeartbeat } from "../../src/registry/gossip.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { subjects } from "../../src/runtime/subjects.js";
import { encodeEnvelope } from "../../src/wire/codec.js";
import { sharedBrokerNodes } from "../helpers/shared-broker.js";
import { until } from "../helpers/until.js";

const roles = { lead: {}, dev: { tasks: ["code"] } };
const defaults = { heartbeatMs: 50 };
const declared = [
  { id: "lead", role: "lead", weight: 1 },
  { id: "x", role: "dev", weight: 1 },
];

test("a node started after an agent revoked itself never admits that agent's card", async () => {
  const leaked = generateAgentKeyPair();
  const nodes = sharedBrokerNodes({
    name: "selfrev",
    roles,
    defaults,
    admission: { mode: "declared", declared },
  });
  try {
    const first = nodes.node("node-home");
    first.agent({ id: "lead", role: "lead" });
    const host = nodes.node("node-x", () => leaked);
    host.agent({ id: "x", role: "dev" });
    await first.start();
    await host.start();
    await until(() => first.registry.get("x") !== undefined, 5000, "x heard");
    await host.revoke("x", { as: "x" }, "key leaked");
    await until(() => first.registry.get("x") === undefined, 5000, "x dropped");
    await host.close();
    await first.close();

    // A node started now, and the holder of the leaked key announcing x.
    const late = nodes.node("node-late");
    late.agent({ id: "lead", role: "lead" });
    const events: SwarmEvent[] = [];
    late.on((e) => events.push(e));
    await late.start();
    const card = {
      id: "x",
      role: "dev",
      tags: [],
      capabilities: [],
      weight: 1,
      publicKey: encodePublicKey(leaked.publicKey),
      node: "node-evil",
    };
    const heartbeat = signHeartbeat(
      { id: "x", privateKey: leaked.privateKey },
      { node: "node-evil", cards: [signCard(card, leaked.privateKey)] },
      systemClock,
    );
    const raw = nodes.raw();
    raw.publish(subjects.heartbeat("selfrev"), encodeEnvelope(heartbeat));
    await until(
      () =>
        late.registry.get("x") !== undefined ||
        events.some((e) => e.type === "agent.refused" && e.agent === "x"),
      5000,
      "the card judged",
    );
    assert.equal(late.registry.get("x"), undefined, "the revoked agent was admitted");
    assert.ok(
      events.some((e) => e.type === "agent.refused" && e.agent === "x" && e.code === "E_REVOKED"),
    );
    await raw.close();
  } finally {
    await nodes.cleanup();
  }
});
