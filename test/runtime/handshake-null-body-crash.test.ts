/**
 * A handshake request whose body is `null` (valid envelope, unsigned, sent
 * by anyone who may publish on `<swarm>.handshake.<node>`) threw a
 * TypeError reading `body.card` before any check, from a handler whose
 * promise nobody awaits: an unhandled rejection, which ends a Node process.
 * A rejected message must never crash a node: it is answered
 * `handshake.error` (`E_BAD_HANDSHAKE`).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { systemClock } from "../../src/core/clock.js";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import type { NodeContext } from "../../src/runtime/node-context.js";
import { TrustManager } from "../../src/runtime/trust.js";
import type { Message } from "../../src/transport/port.js";
import { decodeEnvelope, encodeEnvelope } from "../../src/wire/codec.js";
import { createEnvelope } from "../../src/wire/envelope.js";

test("a handshake with a null or non-object body is answered E_BAD_HANDSHAKE, not a crash", async () => {
  const local = generateAgentKeyPair();
  let handler: ((message: Message) => void) | undefined;
  const replies: Uint8Array[] = [];
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
  const trust = new TrustManager(node, { timeoutMs: 1000, settleMs: 0, learn: async () => true });
  await trust.start();
  assert.ok(handler);

  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  try {
    for (const body of [null, 7, "text"]) {
      const envelope = createEnvelope({ type: "handshake.challenge", from: "c", to: "x", body });
      handler({
        subject: "s.handshake.node-b",
        data: encodeEnvelope(envelope),
        reply: "inbox",
      } as Message);
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
