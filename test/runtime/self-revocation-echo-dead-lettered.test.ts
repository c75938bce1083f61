/**
 * An agent that revokes itself drops its own key at once; the revocation it
 * broadcasts then comes back to its own node (and to any node that heard it
 * already), where it was parked in the dead-letter queue as "a
 * self-revocation from …, whose key is unknown here": a false alarm for a
 * revocation that was applied. A revocation of an agent already revoked
 * here has nothing left to do.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import { sharedBrokerNodes } from "../helpers/shared-broker.js";
import { until } from "../helpers/until.js";

const roles = { lead: {}, dev: { tasks: ["code"] } };
const defaults = {
  heartbeatMs: 50,
  ackWaitMs: 2000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};

test("a self-revocation applied here is not dead-lettered when its broadcast comes back", async () => {
  const { node, cleanup } = sharedBrokerNodes({
    name: "selfrev",
    roles,
    defaults,
    admission: { mode: "open", operatorKey: generateAgentKeyPair().publicKey },
  });
  try {
    const a = node("node-a");
    const b = node("node-b");
    a.agent({ id: "lead", role: "lead" });
    a.agent({ id: "lead-2", role: "lead" });
    b.agent({ id: "dev", role: "dev" });
    await a.start();
    await b.start();
    await until(() => b.registry.get("lead") !== undefined, 3000, "lead joined");
    await a.revoke("lead", { as: "lead" });
    await until(() => b.registry.isRevoked("lead"), 3000, "node-b applied the revocation");
    await sleep(300);
    assert.ok(a.registry.isRevoked("lead"));
    const parked = (await a.store.deadLetters()).filter((d) => d.subject.endsWith(".revoke"));
    assert.deepEqual(
      parked.map((d) => d.reason),
      [],
      "the revocation was applied everywhere: nothing to dead-letter",
    );
  } finally {
    await cleanup();
  }
});
