/**
 * Replayed copies of an honest vote do not bloat the sealed decision. A
 * bare bus client (no agent, no key) republishes sentinel's signed vote
 * 2,000 times while the round is open: each copy used to become a
 * `replay` piece of evidence and a `consensus.byzantine` event, all sealed
 * into the decision (1.2 MB, every copy blaming sentinel). Now the round
 * keeps the first and drops the exact repeats silently.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DECISION_KIND } from "../../src/consensus/audit-verify.js";
import { generateAgentKeyPair } from "../../src/identity/keys.js";
import { readAuditLog } from "../../src/runtime/consensus/audit-log.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import { encodeEnvelope } from "../../src/wire/codec.js";
import { createSignedEnvelope } from "../../src/wire/signature.js";
import { sharedBrokerNodes } from "../helpers/shared-broker.js";
import { until } from "../helpers/until.js";

test("2,000 replays of an honest vote leave one piece of evidence in the decision", async () => {
  const nodes = sharedBrokerNodes({
    name: "replay",
    roles: { lead: {}, security: {}, ops: { tasks: ["funds.transfer"] } },
    privileged: {
      "funds.transfer": {
        protocol: "quorum",
        threshold: { weight: 3 },
        voters: ["lead", "security"],
        deadlineMs: 4000,
      },
    },
  });
  try {
    const a = nodes.node("a");
    a.agent({ id: "architect", role: "lead", weight: 1 });
    a.agent({ id: "sentinel", role: "security", weight: 1 });
    // A slow third voter on another node keeps the round open while the copies arrive.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const b = nodes.node("b");
    b.agent({ id: "judge", role: "security", weight: 1 }).vote(async () => {
      await held;
      return { choice: "approve", reasons: [] };
    });
    const events: SwarmEvent[] = [];
    a.on((e) => events.push(e));
    await a.start();
    await b.start();
    await until(() => a.registry.find().some((e) => e.card.id === "judge"), 10_000, "judge known");
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the handshake with node b

    const bus = nodes.raw();
    let captured: Uint8Array | undefined;
    bus.subscribe("replay.>", (m) => {
      if (
        captured === undefined &&
        new TextDecoder().decode(m.data).includes('"from":"sentinel"')
      ) {
        captured = m.data;
      }
    });
    const decided = a.propose("funds.transfer", { to: "dev-1", amount: 5 }, { as: "architect" });
    await until(() => captured !== undefined, 5000, "sentinel's vote on the bus");
    const honest = JSON.parse(new TextDecoder().decode(captured)) as {
      corr: string;
      body: { proposal: string; proposalHash: string };
    };
    const subject = `replay.consensus.vote.${honest.corr}`;
    for (let i = 0; i < 2000; i++) bus.publish(subject, captured as Uint8Array);
    // A marker after the copies: a vote from a stranger, reported as evidence once it is counted.
    const marker = createSignedEnvelope(
      {
        type: "consensus.vote",
        from: "ghost",
        corr: honest.corr,
        body: {
          proposal: honest.body.proposal,
          proposalHash: honest.body.proposalHash,
          choice: "approve",
        },
      },
      generateAgentKeyPair().privateKey,
    );
    bus.publish(subject, encodeEnvelope(marker));
    const byzantine = () => events.filter((e) => e.type === "consensus.byzantine");
    await until(
      () => byzantine().some((e) => e.type === "consensus.byzantine" && e.agent === "ghost"),
      10_000,
      "the copies and the marker handled",
    );
    release();
    const decision = await decided;
    assert.equal(decision.outcome, "approved");
    const replays = decision.evidence.filter((e) => e.kind === "replay" && e.agent === "sentinel");
    assert.equal(replays.length, 1, "one replay kept, however many copies came");
    assert.equal(decision.evidence.length, 2, "the replay and the stranger");
    assert.equal(byzantine().length, 2, "each reported once");
    const entry = (await readAuditLog(a.store)).find((r) => r.kind === DECISION_KIND);
    assert.ok(entry);
    assert.ok(JSON.stringify(entry.data).length < 20_000, "the decision stays small");
  } finally {
    await nodes.cleanup();
  }
});
