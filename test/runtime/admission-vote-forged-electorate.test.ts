/**
 * Admission by vote granted what any approved `swarm.admit` decision in the
 * audit log said once the decision verified by the rule it carries, and
 * nothing else: not against the swarm's configured rule, not against the
 * agents this node admits. A decision whose electorate was an agent nobody
 * admitted ("ghost", with a key of the forger's choosing) admitted whoever
 * it named, though the council rejected it. Now a voted grant needs the
 * checks the guard of privileged tasks makes: the configured rule, and
 * voters this node admits with that role, weight and key.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createQuorumRound } from "../../src/consensus/quorum.js";
import type { RuntimeProposal } from "../../src/consensus/rule.js";
import { decisionParts, sealDecision } from "../../src/consensus/seal.js";
import { createVote, hashProposal, verifierFromKeys } from "../../src/consensus/vote.js";
import { encodePublicKey, generateAgentKeyPair } from "../../src/identity/keys.js";
import { readAuditLog } from "../../src/runtime/consensus/audit-log.js";
import type { SwarmEvent } from "../../src/runtime/events.js";
import type { Store } from "../../src/store/port.js";
import { ulid } from "../../src/wire/ulid.js";
import { sharedBrokerNodes } from "../helpers/shared-broker.js";
import { until } from "../helpers/until.js";

const roles = { lead: {}, worker: { tasks: ["job"] }, council: {} };
const defaults = {
  heartbeatMs: 50,
  ackWaitMs: 2000,
  maxDeliver: 3,
  backoff: { baseMs: 5, maxMs: 20, factor: 2, jitter: "none" as const },
};
const declared = [
  { id: "lead", role: "lead", weight: 1 },
  { id: "judge", role: "council", weight: 1 },
];

/** Seals into `store` an approved `swarm.admit` of `data`, voted by a ghost nobody admitted. */
async function forgeAdmission(store: Store, data: Record<string, unknown>): Promise<void> {
  const ghost = generateAgentKeyPair();
  const now = Date.now();
  const proposal: RuntimeProposal = {
    id: ulid(),
    action: "swarm.admit",
    data,
    proposer: "lead",
    ts: now,
    deadline: now + 5000,
    protocol: "quorum",
    rule: {
      threshold: { weight: 1 },
      vetoRoles: [],
      voters: [
        { id: "ghost", role: "council", weight: 1, publicKey: encodePublicKey(ghost.publicKey) },
      ],
    },
  };
  const round = createQuorumRound({
    proposal,
    voters: proposal.rule.voters,
    threshold: proposal.rule.threshold,
    vetoRoles: [],
    verify: verifierFromKeys(new Map([["ghost", ghost.publicKey]])),
  });
  round.step(
    createVote({
      proposal,
      proposalHash: hashProposal(proposal),
      from: "ghost",
      choice: "approve",
      privateKey: ghost.privateKey,
    }),
    now + 1,
  );
  const result = round.result();
  assert.equal(result?.outcome, "approved");
  const log = await readAuditLog(store);
  const decision = sealDecision(decisionParts(result!), log.at(-1)?.hash ?? null);
  await store.appendAudit({
    kind: "consensus.decision",
    data: decision,
    hash: () => decision.seal,
  });
}

test("a swarm.admit decision voted by an agent nobody admitted admits no one", async () => {
  const intruderKeys = generateAgentKeyPair();
  const { node, cleanup } = sharedBrokerNodes({
    name: "vote-forged",
    roles,
    defaults,
    admission: { mode: "vote", declared },
    privileged: {
      "swarm.admit": {
        protocol: "quorum",
        threshold: { weight: 1 },
        voters: ["council"],
        deadlineMs: 5000,
      },
    },
  });
  try {
    const home = node("node-home");
    const events: SwarmEvent[] = [];
    home.on((e) => events.push(e));
    home.agent({ id: "lead", role: "lead" });
    // The real council admits nobody.
    home.agent({ id: "judge", role: "council" }).vote(() => ({
      choice: "reject",
      reasons: ["nobody joins"],
    }));
    await forgeAdmission(home.store, {
      agent: "intruder",
      role: "worker",
      weight: 1,
      publicKey: encodePublicKey(intruderKeys.publicKey),
    });
    await home.start();

    const newcomer = node("node-new", () => intruderKeys, { admission: { mode: "open" } });
    newcomer.agent({ id: "intruder", role: "worker" });
    await newcomer.start();

    await until(
      () =>
        home.registry.get("intruder") !== undefined ||
        events.some(
          (e) =>
            e.type === "consensus.decided" &&
            e.action === "swarm.admit" &&
            e.outcome === "rejected",
        ),
      10_000,
      "the intruder admitted, or its request rejected",
    );
    // A few more heartbeats: a forged grant would admit it now.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(home.registry.get("intruder"), undefined, "admitted on a ghost's vote");
    assert.ok(events.some((e) => e.type === "agent.refused" && e.agent === "intruder"));
  } finally {
    await cleanup();
  }
});
