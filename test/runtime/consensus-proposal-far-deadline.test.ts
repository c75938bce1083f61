/**
 * A proposal open for longer than any node would propose (its deadline more
 * than `ROUND_DEADLINE_RANGE_MS.max`, a day, after its `ts` or after now) is
 * refused by the voters' side, not voted on. Such a proposal, from any
 * agent this node trusts, was voted on and kept until its deadline: each one
 * stayed in memory (and, under `pbft`, its hosted replicas ticked every 50 ms)
 * for as long as its signer liked, years.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { createTestSwarm } from "../../src/testkit/index.js";
import { encodeEnvelope } from "../../src/wire/codec.js";
import { createSignedEnvelope } from "../../src/wire/signature.js";
import { until } from "../helpers/until.js";

const YEAR_MS = 365 * 86_400_000;

test("a proposal whose deadline is years away is dead-lettered, not voted on", async () => {
  const rogue = generateAgentKeyPair();
  const lead = generateAgentKeyPair();
  const t = createTestSwarm({
    roles: { lead: {}, ops: { tasks: ["funds.transfer"] } },
    keys: (id) => (id === "rogue" ? rogue : id === "lead-1" ? lead : generateAgentKeyPair()),
    privileged: {
      "funds.transfer": { protocol: "quorum", threshold: { weight: 2 }, voters: ["lead"] },
    },
  });
  t.swarm.agent({ id: "rogue", role: "ops", weight: 1 });
  t.swarm.agent({ id: "lead-1", role: "lead", weight: 1 });
  const events: SwarmEvent[] = [];
  t.swarm.on((e) => events.push(e));
  try {
    await t.swarm.start();
    const now = Date.now();
    const proposal = (id: string, ts: number, deadline: number) => ({
      id,
      action: "funds.transfer",
      data: { amount: 1 },
      proposer: "rogue",
      ts,
      deadline,
      protocol: "quorum",
      rule: {
        threshold: { weight: 2 },
        vetoRoles: [],
        voters: [
          { id: "lead-1", role: "lead", weight: 1, publicKey: encodePublicKey(lead.publicKey) },
        ],
      },
    });
    const send = (body: ReturnType<typeof proposal>) =>
      t.swarm.transport.publish(
        "test.consensus.proposal",
        encodeEnvelope(
          createSignedEnvelope(
            { type: "consensus.proposal", from: "rogue", corr: body.id, body },
            rogue.privateKey,
          ),
        ),
      );
    // Open for ten years from now.
    send(proposal("01JD3Q0Z6C2S3V7X8Y9Z0A1B2A", now, now + 10 * YEAR_MS));
    // A window of a second, ten years from now.
    send(proposal("01JD3Q0Z6C2S3V7X8Y9Z0A1B2B", now + 10 * YEAR_MS, now + 10 * YEAR_MS + 1000));
    // An ordinary one, last: once lead-1 voted on it, the others were handled.
    send(proposal("01JD3Q0Z6C2S3V7X8Y9Z0A1B2C", now, now + 5000));
    const voted = () =>
      events.filter((e) => e.type === "consensus.voted").map((e) => "proposal" in e && e.proposal);
    await until(() => voted().includes("01JD3Q0Z6C2S3V7X8Y9Z0A1B2C"), 5000, "lead-1's vote");
    assert.deepEqual(voted(), ["01JD3Q0Z6C2S3V7X8Y9Z0A1B2C"], "only the ordinary one is voted on");
    assert.equal(
      events.filter(
        (e) =>
          e.type === "message.rejected" &&
          e.subject === "test.consensus.proposal" &&
          e.code === "E_INVALID_ENVELOPE",
      ).length,
      2,
      "both are dead-lettered",
    );
  } finally {
    await t.cleanup();
  }
});
