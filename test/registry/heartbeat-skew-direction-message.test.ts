/**
 * A heartbeat refused for its time said "was signed N s from now" with
 * N = now - ts: a heartbeat from 5 minutes ago (a replay, or a peer whose
 * clock is behind) read "signed 300 s from now", and one from the future
 * "-300 s from now". Which clock to fix is the first thing an operator
 * needs to know: the message must say behind or ahead.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../src/core/clock.js";
import { StaleHeartbeatError } from "../../src/errors/index.js";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";
import { CardProofs, checkHeartbeat, signCard, signHeartbeat } from "../../src/registry/gossip.js";

const keys = generateAgentKeyPair();
const card = signCard(
  {
    id: "lead",
    role: "lead",
    tags: [],
    capabilities: [],
    weight: 1,
    publicKey: encodePublicKey(keys.publicKey),
    node: "n1",
  },
  keys.privateKey,
);
const signedAt = (ms: number) =>
  signHeartbeat(
    { id: "lead", privateKey: keys.privateKey },
    { node: "n1", cards: [card] },
    new ManualClock(ms),
  );
const check = (ms: number, now: number) =>
  checkHeartbeat(signedAt(ms), {
    keyOf: () => undefined,
    revoked: () => false,
    proofs: new CardProofs(),
    now,
  });

test("a heartbeat signed long ago is reported as behind this node's clock", () => {
  assert.throws(
    () => check(1_000_000, 1_300_000),
    (error: unknown) =>
      error instanceof StaleHeartbeatError &&
      /300 s behind this node's clock/.test(error.message) &&
      !/-\d/.test(error.message),
  );
});

test("a heartbeat signed in the future is reported as ahead of this node's clock", () => {
  assert.throws(
    () => check(1_300_000, 1_000_000),
    (error: unknown) =>
      error instanceof StaleHeartbeatError &&
      /300 s ahead of this node's clock/.test(error.message) &&
      !/-\d/.test(error.message),
  );
});
