/**
 * What a node's handshake endpoint does with bad input from anyone who may
 * publish on `<swarm>.handshake.<node>`. Both were defects:
 *
 * - A body that is `null` (or not an object) threw a TypeError reading
 *   `body.card` from a handler whose promise nobody awaits: an unhandled
 *   rejection, which ends a Node process. It is answered `handshake.error`
 *   (`E_BAD_HANDSHAKE`).
 * - The card a challenge carries went to the registry (`learn`) after only
 *   its id and key were looked at: `tags: null` or `capabilities: 5`, which
 *   a heartbeat's card check (`isAgentCard`) refuses, reached the registry.
 *   A carried card must have the shape of an agent card, or the challenger
 *   is unknown.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { systemClock } from "../../src/core/clock.js";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";
import type { NodeContext } from "../../src/runtime/node-context.js";
import { TrustManager } from "../../src/runtime/trust.js";
import type { Message } from "../../src/transport/port.js";
import { decodeEnvelope, encodeEnvelope } from "../../src/wire/codec.js";
import { createEnvelope, type Envelope } from "../../src/wire/envelope.js";
import { signEnvelope } from "../../src/wire/signature.js";

/** A started TrustManager on a stub node hosting agent "x": what it answers, and what it learnt. */
async function handshakeEndpoint() {
  const local = generateAgentKeyPair();
  let handler: ((message: Message) => void) | undefined;
  const replies: Uint8Array[] = [];
  const learnt: unknown[] = [];
  const node = {
    swarm: "s",
    nodeId: "node-b",
    clock: systemClock,
    limits: { maxEnvelopeBytes: 1024 * 1024, signing: "required", heartbeatMs: 100 },
    transport: {
      subscribe: (_subject: string, h: (message: Message) => void) => {
        handler = h;
        return { unsubscribe() {} };
      },
      publish: (_subject: string, data: Uint8Array) => replies.push(data),
      request: () => new Promise(() => {}),
    },
    agents: {
      first: () => ({ id: "x", signer: { id: "x", privateKey: local.privateKey } }),
      get: (id: string) =>
        id === "x" ? { id: "x", signer: { id: "x", privateKey: local.privateKey } } : undefined,
    },
    registry: { isRevoked: () => false, get: () => undefined },
    admission: {
      admitsRemembered: async () => true,
      assertAdmitted() {},
      refusal: () => undefined,
    },
    events: { emit() {} },
  } as unknown as NodeContext;
  const trust = new TrustManager(node, {
    timeoutMs: 1000,
    settleMs: 0,
    learn: async (card) => {
      learnt.push(card);
      return true;
    },
  });
  await trust.start();
  assert.ok(handler);
  const deliver = handler;
  const send = (envelope: Envelope) =>
    deliver({
      subject: "s.handshake.node-b",
      data: encodeEnvelope(envelope),
      reply: "inbox",
    } as Message);
  return { send, replies, learnt };
}

test("a handshake with a null or non-object body is answered E_BAD_HANDSHAKE, not a crash", async () => {
  const { send, replies } = await handshakeEndpoint();
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  try {
    for (const body of [null, 7, "text"]) {
      send(createEnvelope({ type: "handshake.challenge", from: "c", to: "x", body }));
    }
    await sleep(50);
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
  assert.deepEqual(unhandled, [], "no unhandled rejection");
  assert.equal(replies.length, 3, "each is answered");
  for (const reply of replies) {
    const answer = decodeEnvelope(reply);
    assert.equal(answer.type, "handshake.error");
    assert.deepEqual(answer.body, { code: "E_BAD_HANDSHAKE" });
  }
});

test("a challenge carrying a malformed card is refused, and the card is not learnt", async () => {
  const { send, replies, learnt } = await handshakeEndpoint();
  const challenger = generateAgentKeyPair();
  const card = {
    id: "c",
    role: "dev",
    tags: null,
    capabilities: [],
    weight: 1,
    publicKey: encodePublicKey(challenger.publicKey),
    node: "node-a",
  };
  send(
    signEnvelope(
      createEnvelope({
        type: "handshake.challenge",
        from: "c",
        to: "x",
        body: { nonce: "n".repeat(43), card },
      }),
      challenger.privateKey,
    ),
  );
  await sleep(50);
  assert.deepEqual(learnt, [], "the malformed card was not learnt");
  assert.equal(replies.length, 1);
  const answer = decodeEnvelope(replies[0] as Uint8Array);
  assert.equal(answer.type, "handshake.error");
  assert.deepEqual(answer.body, { code: "E_UNKNOWN_CHALLENGER" });
});
