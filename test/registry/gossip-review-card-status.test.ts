import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ManualClock } from "../../src/core/clock.js";
import { InvalidEnvelopeError } from "../../src/errors/index.js";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";
import type { AgentCard } from "../../src/registry/agent-card.js";
import {
  CardProofs,
  checkHeartbeat,
  isAgentCard,
  signCard,
  signHeartbeat,
} from "../../src/registry/gossip.js";

const keys = generateAgentKeyPair();
const card = (extra: Record<string, unknown>): AgentCard & { node: string } =>
  ({
    id: "py-1",
    role: "dev",
    tags: [],
    capabilities: [],
    weight: 1,
    publicKey: encodePublicKey(keys.publicKey),
    node: "n1",
    ...extra,
  }) as AgentCard & { node: string };

describe("an agent card's status", () => {
  // PROTOCOL.md ("Subjects"): status is "active", "draining" or "halted".
  // Any other value was accepted, and the agent silently never got requests
  // (routing asks for status "active") with nothing saying why.
  test("a card with another status is not a well-formed card", () => {
    for (const status of ["paused", "Active", 5, null, ""]) {
      assert.equal(isAgentCard(card({ status })), false, `status ${JSON.stringify(status)}`);
    }
    for (const status of ["active", "draining", "halted", undefined]) {
      assert.equal(isAgentCard(card({ status })), true, `status ${JSON.stringify(status)}`);
    }
  });

  test("a heartbeat carrying one is refused with a reason naming status", () => {
    const clock = new ManualClock(1_732_200_000_000);
    const signed = signCard(card({ status: "busy" }), keys.privateKey);
    const heartbeat = signHeartbeat(
      { id: "py-1", privateKey: keys.privateKey },
      { node: "n1", cards: [signed] },
      clock,
    );
    assert.throws(
      () =>
        checkHeartbeat(heartbeat, {
          keyOf: () => undefined,
          revoked: () => false,
          proofs: new CardProofs(),
          now: clock.now(),
        }),
      (err: unknown) => {
        assert.ok(err instanceof InvalidEnvelopeError, String(err));
        assert.match(err.message, /status/);
        return true;
      },
    );
  });
});
