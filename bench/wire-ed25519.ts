/**
 * `wire.ed25519`: Ed25519 signs and verifies per second with the
 * implementation the wire module adopted (sodium-native where it loads, see
 * src/wire/ed25519.ts) against node:crypto, measured in the same run on the
 * signing bytes of a real vote envelope. Value: verifies/s adopted;
 * baseline: verifies/s node:crypto; signs/s of both in the notes. The two
 * are measured in alternation, best run of each, so load on the machine
 * hits both alike.
 */
import type { Proposal } from "../src/consensus/types.js";
import { createVote } from "../src/consensus/vote.js";
import { generateAgentKeyPair } from "../src/identity/keys.js";
import { type Ed25519Implementation, ed25519, nodeCryptoEd25519 } from "../src/wire/ed25519.js";
import { signingBytes } from "../src/wire/signature.js";
import { type Bench, bestRate } from "./harness.js";

const OPS = 2_000;
const RUNS = 7;

export const ed25519Bench: Bench = async () => {
  const keys = generateAgentKeyPair();
  const proposal: Proposal = {
    id: "01JQ0000000000000000000000",
    action: "funds.transfer",
    data: { to: "dev-1", amount: 500 },
    proposer: "v0",
    ts: 1_700_000_000_000,
    deadline: 1_700_000_060_000,
    protocol: "quorum",
  };
  const message = signingBytes(
    createVote({ proposal, from: "v1", choice: "approve", privateKey: keys.privateKey }),
  );
  const adopted = ed25519();
  const signature = nodeCryptoEd25519.sign(message, keys.privateKey);
  const rates = (implementation: Ed25519Implementation) => ({
    sign: () => {
      for (let i = 0; i < OPS; i++) implementation.sign(message, keys.privateKey);
    },
    verify: () => {
      for (let i = 0; i < OPS; i++) {
        if (!implementation.verify(message, signature, keys.publicKey)) {
          throw new Error(`${implementation.name} refused a valid signature`);
        }
      }
    },
  });
  const runs = { node: rates(nodeCryptoEd25519), adopted: rates(adopted) };
  const best = { nodeSign: 0, nodeVerify: 0, adoptedSign: 0, adoptedVerify: 0 };
  for (let run = 0; run < RUNS; run++) {
    // One run of each in turn: drift in the machine's load reaches both.
    best.nodeSign = Math.max(best.nodeSign, await bestRate(1, OPS, runs.node.sign));
    best.adoptedSign = Math.max(best.adoptedSign, await bestRate(1, OPS, runs.adopted.sign));
    best.nodeVerify = Math.max(best.nodeVerify, await bestRate(1, OPS, runs.node.verify));
    best.adoptedVerify = Math.max(best.adoptedVerify, await bestRate(1, OPS, runs.adopted.verify));
  }
  const micros = (rate: number) => Math.round((1e6 / rate) * 10) / 10;
  return {
    name: "wire.ed25519",
    value: best.adoptedVerify,
    unit: "verifies/s",
    baseline: "node:crypto verify of the same bytes",
    baselineValue: best.nodeVerify,
    notes: `adopted: ${adopted.name}; ${message.byteLength}-byte vote signing text, best of ${RUNS} × ${OPS} ops. verify ${micros(best.adoptedVerify)} µs (node:crypto ${micros(best.nodeVerify)} µs); sign ${best.adoptedSign}/s = ${micros(best.adoptedSign)} µs (node:crypto ${best.nodeSign}/s = ${micros(best.nodeSign)} µs, ratio ${Math.round((best.adoptedSign / best.nodeSign) * 100) / 100})`,
  };
};
