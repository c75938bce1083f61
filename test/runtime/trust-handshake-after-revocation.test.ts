import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { systemClock } from "../../src/core/clock.js";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";
import type { AgentCard } from "../../src/registry/agent-card.js";
import type { NodeContext } from "../../src/runtime/node-context.js";
import { TrustManager } from "../../src/runtime/trust.js";
import type { Message } from "../../src/transport/port.js";
import { decodeEnvelope, encodeEnvelope } from "../../src/wire/codec.js";
import { createEnvelope } from "../../src/wire/envelope.js";
import { signEnvelope } from "../../src/wire/signature.js";

// A handshake this node started with an agent that is revoked while the
// challenge is in flight must not make the revoked agent trusted again when
// its (valid) response arrives: its key would be back in the key ring (bids,
// voters, approvals read it) and remembered in the proved-signers file.
test("a handshake answered after its agent was revoked does not trust the agent again", async () => {
  const local = generateAgentKeyPair();
  const remote = generateAgentKeyPair();
  const revoked = new Set<string>();
  const events: { type: string; agent?: string }[] = [];
  const remembered: string[] = [];
  let answer: ((message: Message) => void) | undefined;
  let challenge: Uint8Array | undefined;
  const node = {
    swarm: "s",
    nodeId: "node-a",
    clock: systemClock,
    limits: { maxEnvelopeBytes: 1024 * 1024, signing: "required", heartbeatMs: 100 },
    transport: {
      subscribe: () => ({ unsubscribe() {} }),
      publish() {},
      request: (_subject: string, data: Uint8Array) => {
        challenge = data;
        return new Promise<Message>((resolve) => {
          answer = resolve;
        });
      },
    },
    agents: {
      first: () => ({ id: "a1", signer: { id: "a1", privateKey: local.privateKey } }),
      get: () => undefined,
    },
    registry: { isRevoked: (id: string) => revoked.has(id), get: () => undefined },
    admission: {
      admitsRemembered: async () => true,
      assertAdmitted() {},
      refusal: () => undefined,
    },
    events: { emit: (e: { type: string; agent?: string }) => events.push(e) },
  } as unknown as NodeContext;
  const trust = new TrustManager(node, {
    timeoutMs: 5000,
    settleMs: 0,
    learn: async () => true,
    proved: {
      remember: (id: string) => remembered.push(id),
      forget() {},
      load: async () => new Map(),
    } as never,
  });
  await trust.start();
  const card: AgentCard = {
    id: "x",
    role: "dev",
    tags: [],
    capabilities: [],
    weight: 1,
    publicKey: encodePublicKey(remote.publicKey),
    node: "node-b",
  };
  trust.consider(card);
  await sleep(10);
  assert.ok(challenge !== undefined && answer !== undefined, "the challenge was sent");

  // The revocation arrives while the challenge waits for its answer.
  revoked.add("x");
  trust.forget("x");

  const sent = decodeEnvelope(challenge);
  const response = signEnvelope(
    createEnvelope({
      type: "handshake.response",
      from: "x",
      to: "a1",
      body: { nonce: (sent.body as { nonce: string }).nonce, counter: "c".repeat(43) },
    }),
    remote.privateKey,
  );
  answer({ subject: "reply", data: encodeEnvelope(response) } as Message);
  await sleep(20);

  assert.equal(trust.key("x"), undefined, "the revoked agent's key is not trusted again");
  assert.ok(!events.some((e) => e.type === "agent.trusted" && e.agent === "x"));
  assert.deepEqual(remembered, [], "the revoked agent's key is not written to the proved signers");
});
